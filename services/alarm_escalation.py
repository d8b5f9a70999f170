"""Escalation of critical alarms nobody acknowledged in time.

A ``critical`` alarm still ``raised`` (not acknowledged, not cleared)
``settings.alarm_escalate_after_min`` minutes after it was raised is escalated once: an
in-app message to every admin through the notification outbox (:mod:`services.notify`,
``kind="alarm_escalation"``, ``ref`` = the alarm id) and a live ``alarm`` event with
``transition: "escalated"`` that the control room marks. The outbox rows are the record of
what was escalated: after a restart an alarm is not escalated a second time.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone

from sqlalchemy import select

from services.models import Notification, User

__all__ = ["ESCALATED_SEVERITIES", "KIND", "due_for_escalation", "escalate_alarms", "escalated_before"]

log = logging.getLogger(__name__)

#: Severities that escalate when left unacknowledged.
ESCALATED_SEVERITIES = frozenset({"critical"})
#: ``Notification.kind`` of an escalation message.
KIND = "alarm_escalation"


def due_for_escalation(alarms, *, now: float, after_s: float, escalated) -> list:
    """The alarms to escalate now: critical, still ``raised``, raised at least ``after_s``
    seconds before ``now`` (epoch s), not escalated before (ids in ``escalated``)."""
    if after_s <= 0:
        raise ValueError(f"after_s={after_s!r} must be > 0")
    return [a for a in alarms if a.severity in ESCALATED_SEVERITIES and a.state == "raised"
            and now - a.raised_at >= after_s and a.id not in escalated]


def escalated_before(db) -> dict[str, float]:
    """Alarm id → epoch s of its escalation message, from the outbox."""
    with db.transaction(write=False) as session:
        rows = session.execute(select(Notification.ref, Notification.created_at)
                               .where(Notification.kind == KIND)).all()
    return {ref: at.timestamp() for ref, at in rows if ref}


def escalate_alarms(comp, db, *, now: float, after_s: float) -> list[str]:
    """Escalate the due alarms of ``comp.book`` (a :class:`services.live_component.LiveComponent`):
    one in-app message per admin in one transaction, then the live event. Return their ids."""
    due = due_for_escalation(comp.book.list("raised"), now=now, after_s=after_s, escalated=comp.escalated)
    if not due:
        return []
    stamp = datetime.fromtimestamp(now, timezone.utc)
    with db.transaction() as session:
        admins = list(session.scalars(select(User.username).where(User.role == "admin").order_by(User.username)))
        for a in due:
            minutes = (now - a.raised_at) / 60
            where = a.device_id or a.space or a.building or "—"
            for name in admins:
                session.add(Notification(
                    channel="in_app", recipient=name, kind=KIND, ref=a.id, created_at=stamp,
                    subject=f"告警升级 escalated: {a.message}"[:255],
                    body=f"严重告警 {a.message} ({where}) 已 {minutes:.0f} 分钟未确认. "
                         f"Critical alarm {a.id} at {where} unacknowledged for {minutes:.0f} min."))
    for a in due:
        comp.escalated[a.id] = now
        comp.publish_escalated(a, now)
        log.warning("alarm %s escalated after %.0f s unacknowledged", a.id, now - a.raised_at)
    return [a.id for a in due]
