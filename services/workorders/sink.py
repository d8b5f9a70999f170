"""The alarm → work order sink the live layer's alarm rules call."""

from __future__ import annotations

from services.db import Database
from services.workorders.service import open_work_order_from_alarm
from twin.model import Community

__all__ = ["AlarmWorkOrderSink"]


class AlarmWorkOrderSink:
    """Callable that opens a work order for an alarm, in its own transaction.

    ``sink(alarm_id=..., device_id=..., description=..., category=None, priority=None)``
    opens the work order once per ``alarm_id`` (a repeated alarm returns the same id) and
    returns its id. Priority comes from the text (fire/smoke/gas → 特急) unless given.
    """

    def __init__(self, db: Database, community: Community | None) -> None:
        self.db, self.community = db, community

    def __call__(self, *, alarm_id: str, device_id: str, description: str,
                 category: str | None = None, priority: str | None = None) -> int:
        with self.db.transaction() as session:
            wo = open_work_order_from_alarm(session, self.community, alarm_id=alarm_id, device_id=device_id,
                                            description=description, category=category, priority=priority)
            session.flush()
            return wo.id
