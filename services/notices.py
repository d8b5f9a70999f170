"""Notices: staff compose, target and schedule them; owners and staff read them.

A notice has a title and a body in 中文 and optionally in English, a *target* and a
publication time (UTC). At publication (:func:`publish_due`, run when the notice is
created and by the database component's timer) its recipients are resolved from the
users and the twin's billing units, stored (in-app delivery, with read state) and, where
the notice asks for it, one email per recipient with an address is queued in the outbox
(:mod:`services.notify`).

Target (a JSON object; every key given must match, at least one key):

- ``building``: owners of a unit in that building;
- ``entrance`` (单元, needs ``building``): owners of a unit behind that entrance;
- ``floor`` (needs ``building``): owners of a unit on that floor (1 = ground floor,
  -1 = first basement; the floor of :func:`services.billing.units.unit_records`);
- ``unit_id``: the owners of that household;
- ``role``: every active user of that role (with unit keys only ``owner`` makes sense).

The entrance is not modelled in the twin. It is the unit's register column ``entrance``
(``attributes["entrance"]``) when present, else read from the unit id by the naming rule
of the sample registers, ``<building>-U<entrance>-<floor><room>`` (``B1-U2-0101``: entrance
2); a unit with neither has no entrance and no entrance target reaches it.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.auth import Actor, audit
from services.billing.units import unit_records
from services.db import utcnow
from services.errors import InvalidInput, UnknownEntity
from services.models import Notice, NoticeRecipient, Notification, User, UserUnit
from twin.model import BillingUnit, Community

__all__ = ["ROLES", "TARGET_KEYS", "check_target", "create_notice", "entrance_of", "list_notices", "mark_read",
           "notice_json", "office_view", "publish_due", "recipients"]

ROLES = ("admin", "operator", "planner", "staff", "owner")
TARGET_KEYS = ("building", "entrance", "floor", "unit_id", "role")
_UNIT_KEYS = ("building", "entrance", "floor", "unit_id")
_OFFICE = ("admin", "operator", "planner")
_ENTRANCE_IN_ID = re.compile(r"-U([0-9]{1,3})-", re.ASCII)


def entrance_of(unit: BillingUnit) -> int | None:
    """The unit's entrance (单元) number: register column ``entrance``, else the unit id rule."""
    raw = unit.attributes.get("entrance")
    if raw is not None and str(raw).strip():
        text = str(raw).strip().removesuffix("单元")
        if text.isascii() and text.isdigit():
            return int(text)
        raise InvalidInput(f"billing unit {unit.id!r}: entrance={raw!r} must be a number (like 2 or 2单元)")
    m = _ENTRANCE_IN_ID.search(unit.id)
    return int(m.group(1)) if m else None


def check_target(target: dict[str, Any]) -> dict[str, Any]:
    """Return the target without empty keys; raise :class:`InvalidInput` naming a bad key."""
    target = {k: v for k, v in target.items() if v is not None}
    unknown = sorted(set(target) - set(TARGET_KEYS))
    if unknown:
        raise InvalidInput(f"target keys {unknown} are unknown (use {', '.join(TARGET_KEYS)})")
    if not target:
        raise InvalidInput(f"target needs at least one of {', '.join(TARGET_KEYS)}")
    for key in ("entrance", "floor"):
        if key in target and "building" not in target:
            raise InvalidInput(f"target {key}={target[key]!r} needs a building")
    if "role" in target and target["role"] not in ROLES:
        raise InvalidInput(f"target role={target['role']!r} must be one of {', '.join(ROLES)}")
    if "role" in target and target["role"] != "owner" and set(target) & set(_UNIT_KEYS):
        raise InvalidInput(f"target role={target['role']!r} cannot be combined with unit keys (only owners have units)")
    return target


def _units_matching(community: Community | None, target: dict[str, Any]) -> set[str]:
    if community is None:
        raise InvalidInput("no site is loaded: a notice can target only a role")
    entrances = {u.id: entrance_of(u) for u in community.billing_units}
    out = set()
    for rec in unit_records(community):
        if "building" in target and rec["building_id"] != target["building"]:
            continue
        if "floor" in target and rec["floor"] != target["floor"]:
            continue
        if "entrance" in target and entrances.get(rec["id"]) != target["entrance"]:
            continue
        if "unit_id" in target and rec["id"] != target["unit_id"]:
            continue
        out.add(rec["id"])
    return out


def recipients(session: Session, community: Community | None, target: dict[str, Any]) -> list[User]:
    """The active users a target reaches, by username."""
    target = check_target(target)
    query = select(User).where(User.active.is_(True))
    if set(target) & set(_UNIT_KEYS):
        units = _units_matching(community, target)
        query = query.where(User.role == "owner", User.id.in_(
            select(UserUnit.user_id).where(UserUnit.unit_id.in_(sorted(units)))))
    if "role" in target:
        query = query.where(User.role == target["role"])
    return list(session.scalars(query.order_by(User.username)))


def create_notice(session: Session, community: Community | None, actor: Actor, *, title: str, body: str,
                  target: dict[str, Any], title_en: str | None = None, body_en: str | None = None,
                  publish_at: datetime | None = None, email: bool = True,
                  now: datetime | None = None) -> Notice:
    """Store a notice; publish it at once when ``publish_at`` is not in the future."""
    now = now or utcnow()
    title, body = (title or "").strip(), (body or "").strip()
    if not title or not body:
        raise InvalidInput("a notice needs a title and a body")
    target = check_target(target)
    if set(target) & set(_UNIT_KEYS):
        _units_matching(community, target)  # a target needing a site fails now, not at publication
    if publish_at is not None and publish_at.tzinfo is None:
        raise InvalidInput(f"publish_at={publish_at.isoformat()} needs a time zone (UTC: ...Z)")
    notice = Notice(title=title, body=body, title_en=(title_en or "").strip() or None,
                    body_en=(body_en or "").strip() or None, target=target, email=email,
                    created_by=actor.username, created_at=now, publish_at=publish_at or now)
    session.add(notice)
    session.flush()
    audit(session, actor, "notice.create", "notice", notice.id, target=target,
          publish_at=notice.publish_at.isoformat())
    publish_due(session, community, now=now)
    return notice


def publish_due(session: Session, community: Community | None, *, now: datetime | None = None) -> list[int]:
    """Publish every notice whose time has come: store recipients, queue the emails."""
    now = now or utcnow()
    due = list(session.scalars(select(Notice).where(Notice.published_at.is_(None), Notice.publish_at <= now)
                               .order_by(Notice.id).with_for_update(skip_locked=True)))
    for notice in due:
        users = recipients(session, community, notice.target)
        session.add_all(NoticeRecipient(notice_id=notice.id, username=u.username) for u in users)
        if notice.email:
            text = notice.body + (f"\n\n{notice.title_en}\n{notice.body_en}" if notice.body_en else "")
            subject = notice.title + (f" / {notice.title_en}" if notice.title_en else "")
            session.add_all(Notification(channel="email", recipient=u.email, subject=subject[:255], body=text,
                                         kind="notice", ref=str(notice.id)) for u in users if u.email)
        notice.published_at = now
    session.flush()
    return [n.id for n in due]


def notice_json(notice: Notice, *, read: bool | None = None, counts: tuple[int, int] | None = None) -> dict[str, Any]:
    """The JSON form of a notice (``recipients``/``read_count`` for staff, ``read`` for a recipient)."""
    body: dict[str, Any] = {
        "id": notice.id, "title": notice.title, "body": notice.body, "title_en": notice.title_en,
        "body_en": notice.body_en, "publish_at": notice.publish_at.isoformat(),
        "published": notice.published_at is not None}
    if counts is not None:
        body.update(target=notice.target, email=notice.email, created_by=notice.created_by,
                    recipients=counts[0], read_count=counts[1])
    if read is not None:
        body["read"] = read
    return body


def list_notices(session: Session, actor: Actor, *, limit: int = 100) -> list[dict[str, Any]]:
    """Office roles (admin, operator, planner): every notice with recipient and read counts;
    others (owners, staff): the published ones they received."""
    if actor.role in _OFFICE:
        rows = list(session.scalars(select(Notice).order_by(Notice.id.desc()).limit(limit)))
        counts = _counts(session, [n.id for n in rows])
        return [notice_json(n, counts=counts.get(n.id, (0, 0))) for n in rows]
    rows = session.execute(select(Notice, NoticeRecipient.read_at).join(
        NoticeRecipient, NoticeRecipient.notice_id == Notice.id).where(
        NoticeRecipient.username == actor.username).order_by(Notice.id.desc()).limit(limit)).all()
    return [notice_json(n, read=read_at is not None) for n, read_at in rows]


def _counts(session: Session, ids: list[int]) -> dict[int, tuple[int, int]]:
    """``{notice id: (recipients, read)}``."""
    if not ids:
        return {}
    return {nid: (n, r) for nid, n, r in session.execute(
        select(NoticeRecipient.notice_id, func.count(), func.count(NoticeRecipient.read_at))
        .where(NoticeRecipient.notice_id.in_(ids)).group_by(NoticeRecipient.notice_id)).all()}


def office_view(session: Session, notice: Notice) -> dict[str, Any]:
    """One notice as the office sees it, with its counts."""
    return notice_json(notice, counts=_counts(session, [notice.id]).get(notice.id, (0, 0)))


def mark_read(session: Session, actor: Actor, notice_id: int) -> dict[str, Any]:
    """Mark a notice the caller received read (404 for any other)."""
    row = session.get(NoticeRecipient, (notice_id, actor.username))
    if row is None:
        raise UnknownEntity(f"notice {notice_id} does not exist")
    if row.read_at is None:
        row.read_at = utcnow()
        audit(session, actor, "notice.read", "notice", notice_id)
    return {"id": notice_id, "read": True}
