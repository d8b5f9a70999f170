"""The database component of :func:`services.app.create_app`.

On start it opens the database (``TWIN_DB_URL`` or the SQLite default), runs the Alembic
migrations, mirrors the twin's billing units into the database, trains the work-order
classifier and builds the assignment routes (so no request pays for them), and starts the
SLA timer that escalates overdue work orders and publishes notices whose time has come. ``health()`` reports the database state.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from fastapi import FastAPI

from services.db import Database

__all__ = ["DatabaseComponent"]

log = logging.getLogger(__name__)


class DatabaseComponent:
    """Database, migrations and the periodic SLA check, as an app component.

    Parameters
    ----------
    url : str, optional
        SQLAlchemy URL; default ``settings.resolved_db_url`` of the app.
    sla_interval_s : float
        Seconds between two passes of overdue escalation and notice publication (0 disables the timer).
    smtp_url : str, optional
        ``smtp://host:port`` for the email channel of the notification outbox.
    database : Database, optional
        An open database (a community's view of a shared one, :meth:`Database.scoped`);
        default: one opened on start, bound to the app's community (rows are stamped with
        it; reads are not filtered, a single community is served).
    """

    name = "database"

    def __init__(self, url: str | None = None, *, sla_interval_s: float = 30.0,
                 smtp_url: str | None = None, mail_from: str = "property@localhost",
                 database: Database | None = None) -> None:
        self.url = url
        self.shared = database
        self.sla_interval_s = sla_interval_s
        self.smtp_url = smtp_url
        self.mail_from = mail_from
        self.db: Database | None = None
        self._task: asyncio.Task | None = None
        self._error: str | None = None

    def work_order_sink(self, community):
        """An alarm sink (live ``WorkOrderSink``) on this component's database, usable
        before the app starts (the database is looked up when an alarm arrives)."""
        from services.workorders.sink import AlarmWorkOrderSink

        def database() -> Database:
            if self.db is None:
                raise RuntimeError("the database component has not started")
            return self.db

        return AlarmWorkOrderSink(database, community)

    async def start(self, app: FastAPI) -> None:
        if self.shared is not None:
            self.db = self.shared
        else:
            url = self.url or app.state.settings.resolved_db_url
            community = app.state.community
            self.db = Database(url, community=_community_id(community))
        try:
            await asyncio.to_thread(self._prepare, app)
        except Exception as exc:
            self._error = str(exc).splitlines()[0]
            raise
        app.state.db = self.db
        app.state.smtp_url = self.smtp_url
        app.state.mail_from = self.mail_from
        if self.sla_interval_s > 0:
            self._task = asyncio.create_task(self._sla_loop(app))

    def _prepare(self, app: FastAPI) -> None:
        from services.billing.units import sync_units

        revision = self.db.migrate()
        log.info("database %s at revision %s", self.db.dialect, revision)
        community = app.state.community
        if community is not None and community.billing_units:
            with self.db.transaction() as session:
                sync_units(session, community)
        self._warm_up(community)

    @staticmethod
    def _warm_up(community) -> None:
        """Train the work-order classifier and build the assignment routes now, at start-up,
        not inside the first work order's request (once per process; about a second)."""
        from services.workorders.assignment import warm_up
        from services.workorders.classifier import classify

        classify("warm-up")
        if community is not None:
            warm_up(community)

    async def _sla_loop(self, app: FastAPI) -> None:
        from services.workorders.sla import escalate_overdue

        while True:
            await asyncio.sleep(self.sla_interval_s)
            try:
                await asyncio.to_thread(self._escalate, escalate_overdue, app.state.community)
            except Exception:  # keep the timer alive
                log.exception("SLA escalation or notice publication pass failed")

    def _escalate(self, escalate_overdue, community=None) -> None:
        from services.notices import publish_due

        with self.db.transaction() as session:
            escalate_overdue(session)
        with self.db.transaction() as session:
            publish_due(session, community)

    async def stop(self, app: FastAPI) -> None:
        from services.app import cancel_task

        await cancel_task(self._task)
        if self.db is not None and self.shared is None:
            self.db.dispose()

    def health(self) -> dict[str, Any]:
        if self.db is None:
            return {"ready": False, "error": self._error or "not started"}
        return self.db.health()


def _community_id(community) -> str | None:
    """The community id of a loaded twin (its site name), None without one."""
    if community is None:
        return None
    from services.communities import COMMUNITY_ID

    name = str(community.name or "").strip().lower()
    return name if COMMUNITY_ID.match(name) else None
