"""The alarm → work order sink the live layer's alarm rules call.

Implements the live layer's ``WorkOrderSink`` protocol (``open_work_order(request) -> str |
None`` with a ``WorkOrderRequest``: ``title, category, priority, description, device_id,
building, storey, space, alarm_id``) by duck typing, so that services need not import live.
"""

from __future__ import annotations

import logging
from typing import Any, Callable

from services.db import Database
from services.errors import InvalidInput
from services.workorders.classifier import CATEGORIES
from services.workorders.service import Location, open_work_order_from_alarm
from services.workorders.sla import PRIORITIES
from twin.errors import NotFoundError
from twin.model import Community

__all__ = ["ALARM_CATEGORY_MAP", "ALARM_PRIORITY_MAP", "AlarmWorkOrderSink", "storey_space"]

log = logging.getLogger(__name__)

#: Alarm-rule categories (finer, from the reference list) → work-order categories.
ALARM_CATEGORY_MAP = {
    "给排水": "水电", "管道疏通": "水电", "消防": "安防", "门禁": "公共设施", "道闸": "公共设施",
    "门禁/道闸": "公共设施", "照明": "公共设施", "垃圾": "保洁", "虫害": "保洁", "车辆停放": "安防",
    "噪音": "安防",
}
#: English priority words of alarm rules → SLA priorities.
ALARM_PRIORITY_MAP = {"critical": "特急", "emergency": "特急", "urgent": "紧急", "high": "急修",
                      "normal": "小修", "minor": "小修", "low": "一般"}


#: Space usages a storey's alarm order prefers, most public first.
_STOREY_USAGES = ("lobby", "entrance", "elevator_hall", "hall", "corridor", "landing", "circulation", "stair",
                  "stairwell")


def storey_space(community: Community | None, building: str | None, storey: str | None) -> str | None:
    """A space of ``storey`` (of ``building``) to locate a place alarm's work order at.

    The first by :data:`_STOREY_USAGES` (lobby, entrance, elevator hall, hall, corridor ...),
    then any common space, then any space of the storey (by id, so the choice is stable);
    None when the twin has no space on that storey.
    """
    if community is None or storey is None:
        return None
    spaces = sorted((sp for sp in community.spaces if sp.storey_id == storey
                     and (building is None or sp.building_id == building)), key=lambda sp: sp.id)
    if not spaces:
        return None
    def rank(sp) -> tuple:
        usage = (sp.usage or "").lower()
        return (_STOREY_USAGES.index(usage) if usage in _STOREY_USAGES else len(_STOREY_USAGES),
                not sp.is_public)
    return min(spaces, key=rank).id


class AlarmWorkOrderSink:
    """Opens a work order for an alarm, in its own transaction, once per alarm id.

    Two ways to call it: ``sink.open_work_order(request)`` (the live layer's protocol)
    or ``sink(alarm_id=..., device_id=..., description=..., category=None, priority=None)``.
    Both return the work order id (as a string from ``open_work_order``).
    """

    def __init__(self, db: Database | Callable[[], Database], community: Community | None) -> None:
        self._db, self.community = db, community

    @property
    def db(self) -> Database:
        """The database (a callable given at construction is resolved at each call)."""
        return self._db if isinstance(self._db, Database) else self._db()

    def __call__(self, *, alarm_id: str, device_id: str | None = None, description: str,
                 category: str | None = None, priority: str | None = None, space_id: str | None = None) -> int:
        with self.db.transaction() as session:
            wo = open_work_order_from_alarm(session, self.community, alarm_id=alarm_id, device_id=device_id,
                                            space_id=space_id, description=description, category=category,
                                            priority=priority)
            session.flush()
            return wo.id

    def open_work_order(self, request: Any) -> str | None:
        """The ``WorkOrderSink`` protocol: map the request, open the order, return its id."""
        with self.db.transaction() as session:
            return self.open_in_session(session, request)

    def open_in_session(self, session, request: Any) -> str | None:
        """Open (once per alarm id) the order of ``request`` inside the caller's transaction.

        ``request`` has ``title, category, priority, description, device_id, space, alarm_id``.
        Return the order id, or None when no order can be opened (logged).
        """
        kwargs = self._order_args(request)
        if kwargs is None:
            return None
        try:
            with session.begin_nested():
                wo = open_work_order_from_alarm(session, self.community, **kwargs)
                session.flush()
                return str(wo.id)
        except InvalidInput as exc:
            log.warning("alarm %s: no work order: %s", request.alarm_id, exc)
            return None

    def _order_args(self, request: Any) -> dict | None:
        category = ALARM_CATEGORY_MAP.get(request.category, request.category)
        category = category if category in CATEGORIES else None
        priority = ALARM_PRIORITY_MAP.get(str(request.priority).lower(), request.priority)
        priority = priority if priority in PRIORITIES else None
        device_id, space_id = request.device_id, request.space
        if self.community is not None and device_id is not None:
            try:
                self.community.device(device_id)
            except NotFoundError:
                device_id = None
        if device_id is None and space_id is None:
            # a place alarm (two detectors of one storey: a confirmed fire) has no device:
            # the order goes to a common space of its storey
            space_id = storey_space(self.community, getattr(request, "building", None),
                                    getattr(request, "storey", None))
        if device_id is None and space_id is None:
            log.warning("alarm %s has neither a known device nor a space nor a storey: no work order",
                        request.alarm_id)
            return None
        text = f"{request.title} — {request.description}" if request.description else request.title
        return {"alarm_id": request.alarm_id, "device_id": device_id,
                "space_id": None if device_id else space_id, "description": text, "category": category,
                "priority": priority}
