"""Work orders (报修/工单): lifecycle, classifier, assignment, SLA timers, photos, alarm hook.

Names are imported lazily (PEP 562), so that importing the tables (for migrations and the
CLI) does not load scikit-learn.
"""

from __future__ import annotations

import importlib

__all__ = [
    "CATEGORIES", "PRIORITIES", "SLA", "STATUSES", "TRANSITIONS", "AlarmWorkOrderSink", "Location",
    "add_attachment", "classify", "create_work_order", "escalate_overdue", "evaluate",
    "get_work_order", "list_work_orders", "open_work_order_from_alarm", "rate_work_order",
    "to_public", "transition_work_order",
]

_WHERE = {
    "CATEGORIES": "classifier", "classify": "classifier", "evaluate": "classifier",
    "STATUSES": "lifecycle", "TRANSITIONS": "lifecycle",
    "PRIORITIES": "sla", "SLA": "sla", "escalate_overdue": "sla",
    "AlarmWorkOrderSink": "sink",
}


def __getattr__(name: str):
    if name not in __all__:
        raise AttributeError(f"module 'services.workorders' has no attribute {name!r}")
    module = importlib.import_module(f"services.workorders.{_WHERE.get(name, 'service')}")
    return getattr(module, name)
