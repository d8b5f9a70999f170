"""Priorities, SLA timers and overdue escalation.

Response bands follow common Chinese property practice (see docs/workorders.md):

========  ======================  =========  =========
priority  typical case            respond    resolve
========  ======================  =========  =========
特急      fire, gas leak, people   5 min      2 h
          trapped in an elevator
紧急      burst pipe, flooding,    15 min     2 h
          access/gate failure
急修      elevator fault, security 45 min     24 h
小修      in-unit minor repairs    30 min     24 h
一般      cleaning and greening    60 min     24 h
投诉      complaints, enquiries    24 h       7 d
========  ======================  =========  =========

``respond_by`` is met when work starts (``in_progress``); ``resolve_by`` when it is
completed. :func:`escalate_overdue` raises ``escalation_level`` to 1 (response overdue) and
2 (resolution overdue), records a history event and notifies every operator in-app.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from sqlalchemy import and_, case, or_, select
from sqlalchemy.orm import Session

from services.auth import SYSTEM, audit
from services.db import utcnow
from services.models import Notification, User
from services.workorders.models import WorkOrder, WorkOrderEvent

__all__ = ["DUE_SOON", "PRIORITIES", "SLA", "SLA_STATES", "deadlines", "escalate_overdue", "priority_for",
           "sla_state", "sla_state_sql"]

#: priority → (respond within, resolve within)
SLA: dict[str, tuple[timedelta, timedelta]] = {
    "特急": (timedelta(minutes=5), timedelta(hours=2)),
    "紧急": (timedelta(minutes=15), timedelta(hours=2)),
    "急修": (timedelta(minutes=45), timedelta(hours=24)),
    "小修": (timedelta(minutes=30), timedelta(hours=24)),
    "一般": (timedelta(minutes=60), timedelta(hours=24)),
    "投诉": (timedelta(hours=24), timedelta(days=7)),
}
PRIORITIES = tuple(SLA)

#: SLA states of an order (docs/workorders.md#sla-state), best first.
SLA_STATES = ("ok", "due_soon", "breached")
#: A pending deadline this close (or closer) makes an order ``due_soon``.
DUE_SOON = timedelta(minutes=30)
#: Statuses still waiting for the response (work started) and for the resolution.
AWAITING_RESPONSE = ("reported", "assigned", "reopened")
UNRESOLVED = ("reported", "assigned", "reopened", "in_progress", "on_hold")

_CRITICAL = re.compile(r"火|冒烟|燃气|煤气|漏气|被困|困人|关在里面|fire|smoke|gas|trapped|stuck in(side)? the (lift|elevator)", re.I)
_URGENT = re.compile(r"爆管|爆了|跑水|淹|大量漏水|停电|漏电|无法进出|打不开.*(大门|单元门)|burst|flood|no (power|electricity)|electric shock|can'?t get (in|out)", re.I)
_DEFAULT = {"电梯": "急修", "安防": "急修", "水电": "小修", "门窗": "小修", "公共设施": "小修",
            "保洁": "一般", "绿化": "一般", "其他": "投诉"}


def priority_for(category: str, description: str) -> str:
    """Return the priority of a report from its category and keywords of its text."""
    if _CRITICAL.search(description):
        return "特急"
    if _URGENT.search(description):
        return "紧急"
    return _DEFAULT.get(category, "小修")


def deadlines(priority: str, created_at: datetime) -> tuple[datetime, datetime]:
    """Return ``(respond_by, resolve_by)`` for a priority."""
    respond, resolve = SLA[priority]
    return created_at + respond, created_at + resolve


def sla_state(wo: WorkOrder, now: datetime) -> str:
    """Return the SLA state of ``wo`` at ``now``: ``breached``, ``due_soon`` or ``ok``.

    ``breached``: the response is still awaited (reported, assigned, reopened) and
    ``respond_by`` has passed; or the order is unresolved (those and in progress, on hold)
    and ``resolve_by`` has passed; or it was completed after ``resolve_by``. ``due_soon``:
    not breached, and a pending deadline falls within :data:`DUE_SOON` of ``now``. A
    deadline equal to ``now`` has not passed. Otherwise ``ok`` (cancelled orders too).
    """
    awaiting, unresolved = wo.status in AWAITING_RESPONSE, wo.status in UNRESOLVED
    if (awaiting and wo.respond_by < now) or (unresolved and wo.resolve_by < now) \
            or (wo.completed_at is not None and wo.completed_at > wo.resolve_by):
        return "breached"
    soon = now + DUE_SOON
    if (awaiting and wo.respond_by <= soon) or (unresolved and wo.resolve_by <= soon):
        return "due_soon"
    return "ok"


def sla_state_sql(now: datetime):
    """:func:`sla_state` as a SQL expression over ``work_orders`` (for filters and counts)."""
    awaiting, unresolved = WorkOrder.status.in_(AWAITING_RESPONSE), WorkOrder.status.in_(UNRESOLVED)
    soon = now + DUE_SOON
    breached = or_(and_(awaiting, WorkOrder.respond_by < now), and_(unresolved, WorkOrder.resolve_by < now),
                   and_(WorkOrder.completed_at.is_not(None), WorkOrder.completed_at > WorkOrder.resolve_by))
    due_soon = or_(and_(awaiting, WorkOrder.respond_by <= soon), and_(unresolved, WorkOrder.resolve_by <= soon))
    return case((breached, "breached"), (due_soon, "due_soon"), else_="ok")


def escalate_overdue(session: Session, now: datetime | None = None) -> list[int]:
    """Escalate overdue work orders; return the ids escalated in this pass."""
    now = now or utcnow()
    escalated: list[int] = []
    late_response = select(WorkOrder).where(
        WorkOrder.status.in_(("reported", "assigned", "reopened")),
        WorkOrder.respond_by < now, WorkOrder.escalation_level < 1)
    late_resolve = select(WorkOrder).where(
        WorkOrder.status.in_(("reported", "assigned", "reopened", "in_progress", "on_hold")),
        WorkOrder.resolve_by < now, WorkOrder.escalation_level < 2)
    operators = list(session.scalars(select(User.username).where(User.role.in_(("operator", "admin")))))
    for level, query, what in ((2, late_resolve, "resolution"), (1, late_response, "response")):
        for wo in session.scalars(query):
            if wo.escalation_level >= level:
                continue
            wo.escalation_level = level
            wo.updated_at = now
            note = f"{what} overdue ({wo.priority}): escalated to level {level}"
            session.add(WorkOrderEvent(work_order_id=wo.id, ts=now, actor="system", kind="escalation", note=note))
            for name in operators:
                session.add(Notification(channel="in_app", recipient=name, kind="escalation", ref=str(wo.id),
                                         subject=f"工单 #{wo.id} 超时 / work order #{wo.id} overdue",
                                         body=f"{note}: {wo.description[:120]}", status="sent", sent_at=now))
            audit(session, SYSTEM, "work_order.escalate", "work_order", wo.id, level=level)
            escalated.append(wo.id)
        session.flush()
    return escalated
