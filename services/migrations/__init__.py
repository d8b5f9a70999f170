"""Alembic migrations of the services database, run programmatically (no alembic.ini).

:func:`upgrade` brings a database to the newest revision; the app's database component
and every CLI command that touches the database call it. The migration environment takes
a *list* of metadata objects (:data:`EXTRA_METADATA` plus the services tables), so other
parts (e.g. the live layer's telemetry tables) join autogeneration by appending theirs.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, MetaData

__all__ = ["EXTRA_METADATA", "alembic_config", "current_revision", "target_metadata", "upgrade"]

HERE = Path(__file__).resolve().parent

#: Metadata of tables owned by other packages that the migrations also manage.
EXTRA_METADATA: list[MetaData] = []


def target_metadata() -> list[MetaData]:
    """Every metadata object the migrations cover (services tables first)."""
    from services.models import all_metadata

    return [*all_metadata(), *EXTRA_METADATA]


def alembic_config(engine: Engine | None = None) -> Config:
    """Return an Alembic config pointing at this folder (and bound to ``engine``)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(HERE))
    cfg.set_main_option("path_separator", "os")
    if engine is not None:
        cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> str:
    """Upgrade the database behind ``engine`` to ``revision``; return the revision reached."""
    command.upgrade(alembic_config(engine), revision)
    return current_revision(engine) or ""


def current_revision(engine: Engine) -> str | None:
    """Return the database's current revision (None when never migrated)."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()
