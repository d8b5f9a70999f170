"""Persistence: the SQLAlchemy 2 engine, sessions and the declarative ``Base``.

SQLite (WAL journal, foreign keys on, 30 s busy timeout) is the embedded default from
:attr:`services.settings.Settings.resolved_db_url`; ``TWIN_DB_URL=postgresql+psycopg://...``
switches to PostgreSQL. The schema is owned by Alembic (:mod:`services.migrations`);
:meth:`Database.migrate` brings a database to the newest revision.

Every unit of work is one transaction: :meth:`Database.transaction` commits at the end and
rolls everything back on any error, so a failure half-way leaves nothing written.
"""

from __future__ import annotations

import logging
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

from sqlalchemy import DateTime, Engine, MetaData, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

__all__ = ["QUEUED_EVENTS", "REVISION_TTL_S", "Base", "Database", "UTCDateTime", "make_engine", "queue_event",
           "utcnow"]

log = logging.getLogger(__name__)

#: ``session.info`` key of the live events a transaction publishes once it has committed.
QUEUED_EVENTS = "twin.queued_events"

#: Seconds :meth:`Database.health` reuses the schema revision it last read.
REVISION_TTL_S = 10.0

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base of every table of :mod:`services` (work orders, billing, auth)."""

    metadata = MetaData(naming_convention=NAMING)


def queue_event(session: Session, ev: dict[str, Any]) -> None:
    """Publish ``ev`` to the database's event listeners once ``session`` commits (never on
    a rollback): a client never hears of a change that did not happen."""
    session.info.setdefault(QUEUED_EVENTS, []).append(ev)


def utcnow() -> datetime:
    """Return the current time, timezone-aware in UTC."""
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator):
    """A timestamp stored in UTC and always returned timezone-aware (SQLite drops zones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: timestamps must be timezone-aware")
        return value.astimezone(timezone.utc)

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine for ``url``; SQLite gets WAL, foreign keys and a busy timeout."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        if parsed.database and parsed.database != ":memory:":
            kwargs.setdefault("pool_size", 20)
            kwargs.setdefault("max_overflow", 40)
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False}, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record) -> None:  # pragma: no cover - trivial
            dbapi_conn.isolation_level = None  # SQLAlchemy emits BEGIN itself (below)
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn) -> None:  # pragma: no cover - trivial
            # Writers take the write lock up front (BEGIN IMMEDIATE): no deadlock-prone
            # read-then-upgrade, they queue on the busy timeout instead.
            conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("sqlite_immediate")
                                 else "BEGIN")

        return engine
    kwargs.setdefault("pool_size", 20)
    kwargs.setdefault("max_overflow", 30)
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


class Database:
    """One database: engine, session factory, migrations and health.

    Parameters
    ----------
    url : str
        SQLAlchemy URL (``sqlite:///path`` or ``postgresql+psycopg://...``).
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        #: ``callable(event: dict)`` run with each live event a committed transaction queued
        #: (:func:`queue_event`); the live component adds its bus here.
        self.event_listeners: list = []
        event.listen(self.sessions, "after_commit", self._after_commit)
        event.listen(self.sessions, "after_rollback", lambda session: session.info.pop(QUEUED_EVENTS, None))
        self._async_lock = None
        self._revision: str | None = None
        self._revision_read_at: float | None = None

    def _after_commit(self, session: Session) -> None:
        events = session.info.pop(QUEUED_EVENTS, None)
        for ev in events or ():
            for listener in list(self.event_listeners):
                try:
                    listener(ev)
                except Exception:  # a listener never undoes a commit
                    log.exception("event listener failed")

    def async_write_lock(self):
        """An asyncio lock that serialises this process's SQLite writers (created lazily)."""
        import asyncio

        if self._async_lock is None:
            self._async_lock = asyncio.Lock()
        return self._async_lock

    @property
    def dialect(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self.engine.dialect.name

    def migrate(self) -> str:
        """Upgrade the schema to the newest Alembic revision; return that revision."""
        from services.migrations import upgrade

        self._revision_read_at = None
        return upgrade(self.engine)

    def session(self) -> Session:
        """Return a new session (the caller commits or rolls back)."""
        return self.sessions()

    def begin_write(self, session: Session) -> None:
        """Start ``session``'s transaction as a writer (SQLite: ``BEGIN IMMEDIATE``)."""
        if self.dialect == "sqlite":
            session.connection(execution_options={"sqlite_immediate": True})

    @contextmanager
    def transaction(self, *, write: bool = True) -> Iterator[Session]:
        """Yield a session in one transaction: commit on success, roll back on any error.

        ``write=True`` takes SQLite's write lock at the start (other databases: no effect).
        """
        session = self.sessions()
        if write:
            self.begin_write(session)
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def health(self) -> dict[str, Any]:
        """Return ``{"ready", "dialect", "revision"}`` (ready False when the DB is down).

        Every call reaches the database (``SELECT 1``); the revision, which only a
        migration changes, is re-read at most every :data:`REVISION_TTL_S` seconds
        (Alembic's reading of it costs a catalogue query and a statement compile, most of
        a health check under load).
        """
        from services.migrations import current_revision

        try:
            with self.engine.connect() as conn:
                now = time.monotonic()
                if self._revision_read_at is None or now - self._revision_read_at > REVISION_TTL_S:
                    self._revision = current_revision(conn)
                    self._revision_read_at = now
                else:
                    conn.exec_driver_sql("SELECT 1")
            return {"ready": True, "dialect": self.dialect, "revision": self._revision}
        except Exception as exc:  # report, never raise, from a health check
            return {"ready": False, "dialect": self.dialect, "error": str(exc).splitlines()[0]}

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()
