"""The one settings object of the project, read from ``TWIN_*`` environment variables.

Defaults run embedded: an SQLite file under the data directory and an embedded MQTT broker.
A URL switches to a real server (``TWIN_DB_URL=postgresql+psycopg://...``,
``TWIN_MQTT_URL=mqtt://host:1883``).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings", "get_settings"]

#: The site used when a command gets no ``--site``: the embedded sample community.
DEFAULT_SITE = Path(__file__).resolve().parent.parent / "sample_sites" / "lakeside"


class Settings(BaseSettings):
    """Configuration of every part of the twin (environment variables ``TWIN_<NAME>``)."""

    model_config = SettingsConfigDict(env_prefix="TWIN_", extra="ignore")

    data_dir: Path = Field(Path(".twin"), description="working data: database, cache, uploads")
    cache_dir: Path | None = Field(None, description="derived-model cache (default data_dir/cache)")
    site: Path = Field(DEFAULT_SITE, description="site folder used when none is given")
    sites: str | None = Field(None, description="several communities: comma-separated site folders, or one "
                              "folder whose sub-folders are sites (the first is the default community); "
                              "overrides TWIN_SITE")
    db_url: str | None = Field(None, description="SQLAlchemy URL; default SQLite in data_dir")
    mqtt_url: str | None = Field(None, description="mqtt://host:port or mqtts://host:port (TLS); "
                                 "unset = embedded broker")
    mqtt_username: str | None = Field(None, description="broker user (overrides the URL's and the credentials file's)")
    mqtt_password: str | None = Field(None, description="broker password of mqtt_username")
    mqtt_ca_file: Path | None = Field(None, description="CA certificate (PEM) that signed the broker's certificate; "
                                      "unset = the credentials file's demo CA, else the system CAs")
    mqtt_cert_file: Path | None = Field(None, description="client certificate (PEM), when the broker requires one")
    mqtt_key_file: Path | None = Field(None, description="private key (PEM) of mqtt_cert_file")
    mqtt_credentials_file: Path | None = Field(None, description="credentials.json of `twin devices credentials`: "
                                               "the service and simulator users, the demo CA; with the embedded "
                                               "broker also its password file, ACL and TLS listener")
    log_level: str = Field("INFO", description="logging level")
    timezone: str = Field("Asia/Shanghai", description="time zone of deployment-wide schedules (the daily "
                          "backup); each community's own zone is its site manifest's `timezone`")
    secret_key: str | None = Field(None, description="token signing key, at least 32 bytes; required by "
                                   "`twin serve` (`twin demo` and tests generate one in data_dir)")
    payment_secret: str | None = Field(None, description="HMAC key of the payment gateway's callbacks, at least "
                                       "32 bytes, separate from secret_key; required by `twin serve`")
    allowed_origins: str = Field("", description="comma-separated extra Origins allowed to open /ws/live "
                                 "(the page's own origin is always allowed)")
    allow_demo_users: bool = Field(False, description="let `twin serve` start while users created by "
                                   "`twin demo` (published password) exist; for a private test machine only")
    mqtt_allow_plaintext: bool = Field(False, description="let `twin serve` use plain mqtt:// to a broker that "
                                       "is not on this machine (credentials and readings then cross the "
                                       "network unencrypted)")
    login_window_s: int = Field(900, ge=1, le=86_400, description="login throttling window (s)")
    login_max_failures_user: int = Field(5, ge=1, le=1000, description="failed logins per username per "
                                         "window before that username is locked for the window (429)")
    login_max_failures_address: int = Field(20, ge=1, le=100_000, description="failed logins per client "
                                            "address per window before that address is locked (429)")
    backup_dir: Path | None = Field(None, description="folder of the daily backups (`twin-YYYYMMDD-HHMMSS.tar`); "
                                    "unset = no scheduled backups")
    backup_hour: int = Field(3, ge=0, le=23, description="local hour (site time zone) of the daily backup")
    backup_keep: int = Field(14, ge=1, le=100_000, description="daily backups kept; older ones are deleted")
    live_max_age_days: float = Field(30.0, gt=0, le=3660, description="oldest accepted device message (days): "
                                     "older ones are dead-lettered as stale_ts; younger late ones count for metering")
    alarm_escalate_after_min: float = Field(10.0, gt=0, le=10_080, description="minutes a critical alarm may "
                                            "stay unacknowledged before it is escalated (an `escalated` alarm "
                                            "event and an in-app message to every admin)")
    ws_compression: bool = Field(False, description="permessage-deflate on WebSockets: less bandwidth for "
                                 "remote clients, more server CPU per event and client")

    def uvicorn_options(self) -> dict:
        """Server options shared by ``twin serve`` and ``twin demo``."""
        return {"ws_ping_interval": 20, "ws_per_message_deflate": self.ws_compression}

    @property
    def resolved_cache_dir(self) -> Path:
        """The cache folder (created on demand by its users)."""
        return self.cache_dir if self.cache_dir is not None else self.data_dir / "cache"

    @property
    def resolved_db_url(self) -> str:
        """The database URL, SQLite in the data folder by default."""
        if self.db_url:
            return self.db_url
        return f"sqlite:///{(self.data_dir / 'twin.sqlite').resolve()}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Return the process-wide settings (read once from the environment)."""
    return Settings()
