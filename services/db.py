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

from sqlalchemy import DateTime, Engine, MetaData, String, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker, with_loader_criteria
from sqlalchemy.types import TypeDecorator

__all__ = ["QUEUED_EVENTS", "REVISION_TTL_S", "Base", "CommunityScoped", "Database", "UTCDateTime", "get_by_id",
           "make_engine", "queue_event", "utcnow"]

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


class CommunityScoped:
    """Mixin of every table that holds one community's data: a ``community`` column.

    A session of a :class:`Database` bound to a community (:meth:`Database.scoped`) stamps
    every row it inserts with that community and, when the database isolates communities,
    adds ``community = <id>`` to every ORM statement on these tables (one place, not per
    route); on PostgreSQL row-level security applies the same rule below the API.
    """

    community: Mapped[str] = mapped_column(String(64), index=True)


#: ``Session.info`` keys: the session's community and whether its reads are filtered by it.
COMMUNITY_KEY = "twin.community"
ISOLATE_KEY = "twin.isolate"
PRIMARY_KEY = "twin.primary"


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

    def __init__(self, url: str, *, community: str | None = None, isolate: bool = False) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.community = community
        self.isolate = isolate
        self.primary = True
        self.sessions = sessionmaker(self.engine, expire_on_commit=False, info=self._info())
        #: ``callable(event: dict)`` run with each live event a committed transaction queued
        #: (:func:`queue_event`); the live component adds its bus here (shared by scoped views).
        self.event_listeners: list = []
        self._listen_commits(self.sessions)
        self._async_lock = None
        self._revision: str | None = None
        self._revision_read_at: float | None = None

    def _listen_commits(self, sessions) -> None:
        event.listen(sessions, "after_commit", self._after_commit)
        event.listen(sessions, "after_rollback", lambda session: session.info.pop(QUEUED_EVENTS, None))

    def _after_commit(self, session: Session) -> None:
        events = session.info.pop(QUEUED_EVENTS, None)
        for ev in events or ():
            for listener in list(self.event_listeners):
                try:
                    listener(ev)
                except Exception:  # a listener never undoes a commit
                    log.exception("event listener failed")

    def _info(self) -> dict:
        return {COMMUNITY_KEY: self.community, ISOLATE_KEY: self.isolate, PRIMARY_KEY: self.primary}

    def scoped(self, community: str, *, isolate: bool = True, primary: bool = True) -> "Database":
        """The same database (engine, pool, write lock) seen by one community.

        Its sessions stamp new rows with ``community``; with ``isolate`` every ORM read,
        update and delete of a :class:`CommunityScoped` table is limited to it, and on
        PostgreSQL each transaction sets ``twin.community`` for the row-level security
        policies (see :mod:`services.communities`). ``primary``: the deployment's default
        community, where users without any membership keep their global role.
        """
        view = object.__new__(Database)
        view.__dict__.update(self.__dict__)
        view.community, view.isolate, view.primary = community, isolate, primary
        view.sessions = sessionmaker(self.engine, expire_on_commit=False, info=view._info())
        view._listen_commits(view.sessions)  # the same event listeners (one shared list)
        view._root = getattr(self, "_root", self)
        return view

    def async_write_lock(self):
        """An asyncio lock that serialises this process's SQLite writers (created lazily,
        shared by every community view of this database)."""
        import asyncio

        root = getattr(self, "_root", self)
        if root._async_lock is None:
            root._async_lock = asyncio.Lock()
        return root._async_lock

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


@event.listens_for(Session, "do_orm_execute")
def _scope_statement(state) -> None:
    """Stamp inserts with the session's community; filter the rest when it isolates."""
    community = _community_of(state.session)
    if state.is_insert:
        _stamp_insert(state, community, force=bool(state.session.info.get(ISOLATE_KEY)))
        return
    if state.session.info.get(ISOLATE_KEY) and (state.is_select or state.is_update or state.is_delete):
        state.statement = state.statement.options(
            with_loader_criteria(CommunityScoped, lambda cls: cls.community == community, include_aliases=True))


def _stamp_insert(state, community: str, *, force: bool) -> None:
    """Stamp an INSERT's rows; an isolating session overrides any other community (a row of
    another community is never written), an unbound one keeps a community a row names."""
    table = getattr(state.statement, "table", None)
    if table is None or "community" not in table.c:
        return
    params = state.parameters
    rows = params if isinstance(params, list) else [params] if isinstance(params, dict) and params else []
    for row in rows:
        if force or row.get("community") is None:
            row["community"] = community
    if not rows:
        state.statement = state.statement.values(community=community)


@event.listens_for(Session, "before_flush")
def _stamp_new(session: Session, _ctx, _instances) -> None:
    force = bool(session.info.get(ISOLATE_KEY))
    community = None
    for obj in session.new:
        if isinstance(obj, CommunityScoped) and (force or obj.community is None):
            community = community or _community_of(session)
            obj.community = community


def get_by_id(session: Session, model, id_: Any, **kw: Any):
    """The row of ``model`` with ``id`` in the session's community (None when absent).

    For tables whose primary key is ``(community, id)`` (ids unique per community):
    ``session.get`` would need both. ``kw``: ``with_for_update=True``, ``populate_existing=True``.
    """
    from sqlalchemy import select

    stmt = select(model).where(model.id == id_)
    if kw.get("with_for_update"):
        stmt = stmt.with_for_update()
    if kw.get("populate_existing"):  # after a lock: the row as committed now, not as cached
        stmt = stmt.execution_options(populate_existing=True)
    return session.scalars(stmt).first()


def _community_of(session: Session) -> str:
    """The session's community; an unbound session (CLI, tools) writes the default one."""
    community = session.info.get(COMMUNITY_KEY)
    if community is None:
        from services.communities import default_community_id

        community = default_community_id()
    return community


@event.listens_for(Session, "after_begin")
def _set_pg_community(session: Session, _transaction, connection) -> None:
    """PostgreSQL: tell the row-level security policies whose rows this transaction sees."""
    if connection.dialect.name != "postgresql":
        return
    community = session.info.get(COMMUNITY_KEY)
    if community is not None and session.info.get(ISOLATE_KEY):
        connection.exec_driver_sql("SELECT set_config('twin.community', %s, true), "
                                   "set_config('twin.all_communities', 'off', true)", (community,))
    else:
        connection.exec_driver_sql("SELECT set_config('twin.all_communities', 'on', true)")
