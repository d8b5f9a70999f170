"""Alarm → work order, as a durable consumer of the stored alarms.

An alarm whose rule has a ``work_order`` block is stored with that request
(``live_alarms.work_order``) by the alarm store; this consumer opens the order in the same
transaction that records ``work_order_id`` on the alarm row, so a crash leaves either both
or neither. Redelivery is harmless: an order is opened once per alarm id
(:func:`services.workorders.service.open_work_order_from_alarm`). Nothing here runs in the
ingestion lock.
"""

from __future__ import annotations

import logging
from types import SimpleNamespace
from typing import Callable

import sqlalchemy as sa
from sqlalchemy.orm import Session

from services.consumers import DurableConsumer
from services.db import QUEUED_EVENTS

__all__ = ["AlarmWorkOrderConsumer"]

log = logging.getLogger(__name__)


class AlarmWorkOrderConsumer(DurableConsumer):
    """Opens the requested work order of each stored alarm, once.

    Parameters
    ----------
    sink : services.workorders.sink.AlarmWorkOrderSink
        Maps the request (category, priority) and opens the order in a given session.
    on_opened : callable, optional
        ``(alarm_id, work_order_id or None)`` after the transaction committed: the live
        component updates its in-memory alarm.
    publish : callable, optional
        ``(event)`` for each live ``work_order`` event of the opened orders, after the
        transaction committed (the live component's bus: WebSocket clients hear of them).
    """

    name = "alarm_work_orders"
    batch = 100

    def __init__(self, sink, on_opened: Callable[[str, str | None], None] | None = None,
                 publish: Callable[[dict], None] | None = None) -> None:
        self.sink = sink
        self.on_opened = on_opened
        self.publish = publish
        self._done: list[tuple[str, str | None]] = []
        self._events: list[dict] = []

    def fetch(self, conn: sa.Connection, position: int) -> tuple[list, int, bool]:
        from live.store import alarms as a

        rows = conn.execute(sa.select(a.c.id, a.c.device_id, a.c.building, a.c.storey, a.c.space, a.c.work_order)
                            .where(a.c.work_order.is_not(None), a.c.work_order_id.is_(None))
                            .order_by(a.c.raised_at, a.c.id).limit(self.batch)).all()
        return rows, position + len(rows), len(rows) == self.batch

    def apply(self, conn: sa.Connection, rows: list) -> None:
        from live.store import alarms as a

        session = Session(bind=conn, join_transaction_mode="create_savepoint")
        done = []
        try:
            for r in rows:
                req = r.work_order or {}
                request = SimpleNamespace(alarm_id=r.id, device_id=r.device_id, space=r.space,
                                          building=r.building, storey=r.storey,
                                          title=str(req.get("title", "")), category=req.get("category"),
                                          priority=req.get("priority"), description=req.get("description"))
                wo_id = self.sink.open_in_session(session, request)
                session.flush()
                conn.execute(a.update().where(a.c.id == r.id).values(work_order_id=wo_id, work_order=None))
                done.append((r.id, wo_id))
            events = session.info.pop(QUEUED_EVENTS, [])
            session.commit()  # releases the savepoint; the runner commits the transaction
        finally:
            session.close()
        self._done, self._events = done, events

    def committed(self) -> None:
        done, self._done = self._done, []
        events, self._events = self._events, []
        if self.on_opened is not None:
            for alarm_id, wo_id in done:
                try:
                    self.on_opened(alarm_id, wo_id)
                except Exception:
                    log.exception("on_opened failed for alarm %s", alarm_id)
        if self.publish is not None:
            for ev in events:
                self.publish(ev)
