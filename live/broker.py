"""MQTT broker URLs and the embedded broker (amqtt) used when no broker is configured.

The embedded broker is the zero-configuration default for a demo on a fresh machine; it
speaks MQTT 3.1.1 only, so clients connect to it with persistent 3.1.1 sessions
(``clean_session=False``). Real deployments set ``TWIN_MQTT_URL`` to Mosquitto or EMQX and
get MQTT 5 (shared subscriptions, session expiry).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from dataclasses import dataclass, field, replace
from urllib.parse import unquote, urlsplit

from live.errors import BrokerError

try:  # the embedded broker's plugin bases (amqtt is a dependency; guarded for the docs build)
    from amqtt.plugins.base import BaseAuthPlugin, BaseTopicPlugin
except ImportError:  # pragma: no cover
    BaseAuthPlugin = BaseTopicPlugin = object  # type: ignore[assignment,misc]

__all__ = ["BrokerURL", "EmbeddedBroker", "parse_mqtt_url", "PasswordFileAuth", "TopicAcl"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BrokerURL:
    """A parsed ``mqtt[s]://[user[:password]@]host[:port]`` URL, with its TLS files.

    ``tls``: connect with TLS (``mqtts://``), verifying the broker's certificate against
    ``ca_file`` (the system's CAs when None); ``cert_file``/``key_file``: a client
    certificate for brokers that require one.
    """

    host: str
    port: int
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    protocol: int = 5  # 5 = MQTT 5, 4 = MQTT 3.1.1
    tls: bool = False
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None

    def __str__(self) -> str:
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"

    def with_options(self, **changes) -> "BrokerURL":
        """A copy with some fields changed (None values leave a field as it is)."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


def parse_mqtt_url(url: str, *, protocol: int = 5) -> BrokerURL:
    """Parse ``mqtt://host:port`` (``tcp://`` also accepted; default port 1883) or
    ``mqtts://host:port`` (``ssl://`` also accepted; TLS, default port 8883).

    Raises
    ------
    BrokerError
        When the scheme is not mqtt/tcp/mqtts/ssl or the host or port is missing or invalid.
    """
    parts = urlsplit(url.strip())
    if parts.scheme not in ("mqtt", "tcp", "mqtts", "ssl"):
        raise BrokerError(f"mqtt url={url!r} must start with mqtt:// or mqtts://")
    tls = parts.scheme in ("mqtts", "ssl")
    try:
        port = parts.port or (8883 if tls else 1883)
    except ValueError:
        raise BrokerError(f"mqtt url={url!r} has an invalid port") from None
    if not parts.hostname:
        raise BrokerError(f"mqtt url={url!r} has no host")
    return BrokerURL(parts.hostname, port, unquote(parts.username) if parts.username else None,
                     unquote(parts.password) if parts.password else None, protocol, tls=tls)


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class EmbeddedBroker:
    """An amqtt broker on 127.0.0.1, running in its own thread and event loop.

    Parameters
    ----------
    port : int, optional
        TCP port; 1883 when free, else a free port.
    """

    def __init__(self, port: int | None = None, *, password_file: str | None = None,
                 acl_file: str | None = None, tls_port: int | None = None, cert_file: str | None = None,
                 key_file: str | None = None) -> None:
        if port is None:
            port = 1883 if _port_free(1883) else free_port()
        self.port = port
        self.password_file = password_file
        self.acl_file = acl_file
        if (tls_port is None) != (cert_file is None) or (cert_file is None) != (key_file is None):
            raise BrokerError("a TLS listener needs tls_port, cert_file and key_file together")
        self.tls_port = tls_port
        self.cert_file = cert_file
        self.key_file = key_file
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._broker = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    @property
    def url(self) -> BrokerURL:
        """URL clients connect to (MQTT 3.1.1, plain TCP)."""
        return BrokerURL("127.0.0.1", self.port, protocol=4)

    def config(self) -> dict:
        """The amqtt configuration: anonymous access, or the password file and topic ACL."""
        listeners = {"default": {"type": "tcp", "bind": f"127.0.0.1:{self.port}", "max_connections": 1000}}
        if self.tls_port is not None:
            listeners["tls"] = {"type": "tcp", "bind": f"127.0.0.1:{self.tls_port}", "max_connections": 1000,
                                "ssl": True, "certfile": self.cert_file, "keyfile": self.key_file}
        if self.password_file is None:
            plugins = {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}}
        else:
            plugins = {"live.broker.PasswordFileAuth": {"password_file": self.password_file}}
            if self.acl_file is not None:
                plugins["live.broker.TopicAcl"] = {"acl_file": self.acl_file}
        return {"listeners": listeners, "plugins": plugins}

    def start(self, timeout_s: float = 15.0) -> "EmbeddedBroker":
        """Start the broker and wait until it accepts connections."""
        for noisy in ("amqtt", "transitions"):  # per-packet INFO logs
            logging.getLogger(noisy).setLevel(logging.WARNING)
        self._thread = threading.Thread(target=self._run, name="embedded-mqtt", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout_s) or self._error is not None:
            raise BrokerError(f"embedded MQTT broker did not start on port {self.port}: {self._error}")
        log.info("embedded MQTT broker (amqtt) on 127.0.0.1:%d", self.port)
        return self

    def _run(self) -> None:
        from amqtt.broker import Broker

        self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)
        config = self.config()

        async def main():
            self._broker = Broker(config, loop=self._loop)
            await self._broker.start()

        try:
            self._loop.run_until_complete(main())
        except BaseException as exc:  # reported by start()
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        self._loop.run_forever()

    def stop(self) -> None:
        """Shut the broker down and join its thread."""
        if self._loop is None or self._broker is None:
            return
        fut = asyncio.run_coroutine_threadsafe(self._broker.shutdown(), self._loop)
        try:
            fut.result(timeout=10)
        except Exception:
            log.warning("embedded broker shutdown did not finish cleanly")
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(timeout=10)


class PasswordFileAuth(BaseAuthPlugin):
    """amqtt plugin: logins checked against a Mosquitto password file (``$7$`` hashes);
    anonymous and unknown users are refused. Configured with ``password_file``."""

    @dataclass
    class Config:
        password_file: str = ""

    def __init__(self, context) -> None:
        super().__init__(context)
        from live.credentials import read_password_file

        self._users = read_password_file(self.config.password_file)

    async def authenticate(self, *, session) -> bool:
        from live.credentials import verify_password

        user, password = session.username, session.password
        encoded = self._users.get(user) if user else None
        if encoded is None or password is None:
            return False
        pw = password.decode("utf-8", "replace") if isinstance(password, bytes) else str(password)
        return verify_password(encoded, pw)


class TopicAcl(BaseTopicPlugin):
    """amqtt plugin: publish, subscribe and delivery checked against a Mosquitto ACL file
    (``user`` / ``topic read|write|readwrite`` lines). Configured with ``acl_file``."""

    @dataclass
    class Config:
        acl_file: str = ""

    def __init__(self, context) -> None:
        super().__init__(context)
        from live.credentials import read_acl

        self._rules = read_acl(self.config.acl_file)

    async def topic_filtering(self, *, session=None, topic=None, action=None) -> bool:
        from live.credentials import acl_allows

        if not topic or session is None:
            return False
        access = "write" if str(action) == "publish" else "read"
        return acl_allows(self._rules, session.username, topic, access)


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True
