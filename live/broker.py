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
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from live.errors import BrokerError

__all__ = ["BrokerURL", "EmbeddedBroker", "parse_mqtt_url"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BrokerURL:
    """A parsed ``mqtt://[user[:password]@]host[:port]`` URL."""

    host: str
    port: int
    username: str | None = None
    password: str | None = None
    protocol: int = 5  # 5 = MQTT 5, 4 = MQTT 3.1.1

    def __str__(self) -> str:
        return f"mqtt://{self.host}:{self.port}"


def parse_mqtt_url(url: str, *, protocol: int = 5) -> BrokerURL:
    """Parse ``mqtt://host:port`` (``tcp://`` also accepted; default port 1883).

    Raises
    ------
    BrokerError
        When the scheme is not mqtt/tcp or the host or port is missing or invalid.
    """
    parts = urlsplit(url.strip())
    if parts.scheme not in ("mqtt", "tcp"):
        raise BrokerError(f"mqtt url={url!r} must start with mqtt:// (TLS is not supported here)")
    try:
        port = parts.port or 1883
    except ValueError:
        raise BrokerError(f"mqtt url={url!r} has an invalid port") from None
    if not parts.hostname:
        raise BrokerError(f"mqtt url={url!r} has no host")
    return BrokerURL(parts.hostname, port, unquote(parts.username) if parts.username else None,
                     unquote(parts.password) if parts.password else None, protocol)


def _free_port() -> int:
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

    def __init__(self, port: int | None = None) -> None:
        if port is None:
            port = 1883 if _port_free(1883) else _free_port()
        self.port = port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._broker = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    @property
    def url(self) -> BrokerURL:
        """URL clients connect to (MQTT 3.1.1)."""
        return BrokerURL("127.0.0.1", self.port, protocol=4)

    def start(self, timeout_s: float = 15.0) -> "EmbeddedBroker":
        """Start the broker and wait until it accepts connections."""
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
        config = {
            "listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{self.port}", "max_connections": 1000}},
            "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
        }

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


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True
