"""Alembic migrations of the services database, run programmatically (no alembic.ini).

:func:`upgrade` brings a database to the newest revision; the app's database component
and every CLI command that touches the database call it. The migration environment takes
a *list* of metadata objects (:data:`EXTRA_METADATA` plus the services tables), so other
parts (e.g. the live layer's telemetry tables) join autogeneration by appending theirs.
"""

from __future__ import annotations

import logging
from pathlib import Path

logging.getLogger("alembic").setLevel(logging.WARNING)  # keep CLI stderr to progress and errors

from alembic import command  # noqa: E402
from alembic.config import Config  # noqa: E402
from alembic.runtime.migration import MigrationContext  # noqa: E402
from sqlalchemy import Connection, Engine, MetaData  # noqa: E402

__all__ = ["EXTRA_METADATA", "alembic_config", "current_revision", "target_metadata", "upgrade"]

HERE = Path(__file__).resolve().parent

#: Metadata of tables owned by other packages that the migrations also manage.
EXTRA_METADATA: list[MetaData] = []


def target_metadata() -> list[MetaData]:
    """Every metadata object the migrations cover (services tables first)."""
    from live.store import LIVE_METADATA
    from services.models import all_metadata

    return [*all_metadata(), LIVE_METADATA, *EXTRA_METADATA]


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


def current_revision(bind: Engine | Connection) -> str | None:
    """Return the database's current revision (None when never migrated).

    ``bind`` is an engine (a connection is taken for the call) or an open connection.
    """
    if isinstance(bind, Connection):
        return MigrationContext.configure(bind).get_current_revision()
    with bind.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()
