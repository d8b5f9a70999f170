"""Deployment checks: what ``twin serve`` refuses to start with (``twin demo`` is exempt).

A service that faces real owners must not run with a guessable or missing key, with the
demo's published logins, or sending device data in clear text across a network. Each
check names the setting that fixes it; docs/security.md lists them with their overrides.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from services.auth import MIN_SECRET_BYTES
from services.errors import InvalidInput
from services.settings import Settings

__all__ = ["DeploymentError", "check_deployment", "demo_users", "is_local_host"]


class DeploymentError(InvalidInput):
    """The service's settings or database are not fit to serve (one line, exit 2)."""


def is_local_host(host: str | None) -> bool:
    """Whether ``host`` is this machine (loopback name or address)."""
    if not host or host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_settings(settings: Settings) -> None:
    """Raise :class:`DeploymentError` for a missing/short secret or plain MQTT over a network."""
    for env, value in (("TWIN_SECRET_KEY", settings.secret_key), ("TWIN_PAYMENT_SECRET", settings.payment_secret)):
        if not value:
            raise DeploymentError(f"{env} is not set: `twin serve` needs a secret of at least {MIN_SECRET_BYTES} "
                                  f"bytes (e.g. `export {env}=$(openssl rand -hex 32)`); `twin demo` makes its own")
        if len(value.encode()) < MIN_SECRET_BYTES:
            raise DeploymentError(f"{env} is {len(value.encode())} bytes long; it must be at least "
                                  f"{MIN_SECRET_BYTES} bytes")
    if settings.secret_key == settings.payment_secret:
        raise DeploymentError("TWIN_PAYMENT_SECRET must differ from TWIN_SECRET_KEY (the payment gateway "
                              "must not hold the key that signs logins)")
    if settings.mqtt_url:
        url = urlsplit(settings.mqtt_url)
        if url.scheme in ("mqtt", "tcp", "ws") and not is_local_host(url.hostname) \
                and not settings.mqtt_allow_plaintext:
            raise DeploymentError(f"TWIN_MQTT_URL={settings.mqtt_url!r} is plain MQTT to another machine: use "
                                  "mqtts:// with TWIN_MQTT_CA_FILE (docs/mqtt.md), or set "
                                  "TWIN_MQTT_ALLOW_PLAINTEXT=true on a private network")


def demo_users(db) -> list[str]:
    """Usernames created by ``twin demo`` (published password) in the database ``db``."""
    from sqlalchemy import select

    from services.models import User

    with db.transaction(write=False) as session:
        return list(session.scalars(select(User.username).where(User.demo.is_(True)).order_by(User.username)))


def check_deployment(settings: Settings, db) -> None:
    """All checks of ``twin serve``: settings, then demo users in the (migrated) database."""
    check_settings(settings)
    names = demo_users(db)
    if names and not settings.allow_demo_users:
        raise DeploymentError(f"the database holds the demo users {', '.join(names)} (published password): "
                              "disable or delete them (`twin users disable NAME`), or set "
                              "TWIN_ALLOW_DEMO_USERS=true on a private test machine")
