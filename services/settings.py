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
    db_url: str | None = Field(None, description="SQLAlchemy URL; default SQLite in data_dir")
    mqtt_url: str | None = Field(None, description="mqtt://host:port; unset = embedded broker")
    log_level: str = Field("INFO", description="logging level")
    timezone: str = Field("Asia/Shanghai", description="site time zone for display")
    secret_key: str | None = Field(None, description="token signing key (generated if unset)")
    live_max_age_days: float = Field(30.0, gt=0, le=3660, description="oldest accepted device message (days): "
                                     "older ones are dead-lettered as stale_ts; younger late ones count for metering")
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
