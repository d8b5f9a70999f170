"""Work orders (报修/工单): lifecycle, classifier, assignment, SLA timers, photos, alarm hook."""

from services.workorders.classifier import CATEGORIES, classify, evaluate
from services.workorders.lifecycle import STATUSES, TRANSITIONS
from services.workorders.service import (
    Location, add_attachment, create_work_order, get_work_order, list_work_orders,
    open_work_order_from_alarm, rate_work_order, to_public, transition_work_order,
)
from services.workorders.sla import PRIORITIES, SLA, escalate_overdue

__all__ = [
    "CATEGORIES", "PRIORITIES", "SLA", "STATUSES", "TRANSITIONS", "AlarmWorkOrderSink", "Location",
    "add_attachment", "classify", "create_work_order", "escalate_overdue", "evaluate",
    "get_work_order", "list_work_orders", "open_work_order_from_alarm", "rate_work_order",
    "to_public", "transition_work_order",
]


class AlarmWorkOrderSink:
    """Callable the live layer's alarm rules call to open a work order for an alarm.

    ``sink(alarm_id=..., device_id=..., description=..., category=None, priority=None)``
    opens the work order in its own transaction (once per ``alarm_id``) and returns its id.
    """

    def __init__(self, db, community) -> None:
        self.db, self.community = db, community

    def __call__(self, *, alarm_id: str, device_id: str, description: str,
                 category: str | None = None, priority: str | None = None) -> int:
        with self.db.transaction() as session:
            wo = open_work_order_from_alarm(session, self.community, alarm_id=alarm_id, device_id=device_id,
                                            description=description, category=category, priority=priority)
            return wo.id
