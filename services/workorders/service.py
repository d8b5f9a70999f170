"""Work-order use cases: report, read, list, transition, rate, attach photos, alarm hook.

Plain functions on a session (one transaction per call site); the API routes and the
live layer's alarm sink call them. Every write records a history event and an audit entry.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, insert, or_, select
from sqlalchemy.orm import Session

from services.auth import SYSTEM, Actor, audit, mask_name, mask_phone, sees_personal_data
from services.billing.models import Unit
from services.db import _community_of, get_by_id, queue_event, utcnow
from services.models import Notification, User, UserUnit
from services.errors import Conflict, Forbidden, InvalidInput, UnknownEntity
from services.workorders.assignment import choose_assignee
from services.workorders.attachments import MAX_PER_ORDER, validate_photo
from services.workorders.classifier import CATEGORIES, classify
from services.workorders.lifecycle import STATUSES, check_transition
from services.workorders.models import Attachment, WorkOrder, WorkOrderEvent
from services.workorders.sla import PRIORITIES, SLA_STATES, deadlines, priority_for, sla_state, sla_state_sql
from twin.errors import NotFoundError
from twin.model import Community
from services.communities import DEFAULT_TIMEZONE

__all__ = [
    "Filters", "Location", "SORTS", "add_attachment", "create_work_order", "get_work_order", "list_work_orders", "notify_owners",
    "open_work_order_from_alarm", "rate_work_order", "resolve_location", "summarize_work_orders", "to_public",
    "transition_work_order",
]

SOURCES = ("owner", "front_desk", "alarm", "preventive")


@dataclass(frozen=True)
class Location:
    """Where a work order sits: exactly one of space, device or billing unit (twin ids)."""

    space_id: str | None = None
    device_id: str | None = None
    unit_id: str | None = None

    def as_dict(self) -> dict[str, str]:
        """The one key given, as in the API contract."""
        return {k: v for k, v in (("space_id", self.space_id), ("device_id", self.device_id),
                                  ("unit_id", self.unit_id)) if v is not None}


@dataclass(frozen=True)
class Resolved:
    space_id: str | None
    building_id: str | None
    unit_id: str | None
    public: bool


def resolve_location(session: Session, community: Community | None, loc: Location) -> Resolved:
    """Check the location against the twin and find its space, building and unit.

    ``space_id`` may also name a site feature of the grounds (gate, footpath, plaza): a
    public location outside any building.
    """
    given = loc.as_dict()
    if len(given) != 1:
        raise InvalidInput(f"location needs exactly one of space_id, device_id, unit_id (got {sorted(given) or 'none'})")
    try:
        if loc.space_id is not None:
            if community is None:
                return Resolved(loc.space_id, None, None, False)
            feature = next((f for f in community.features if f.id == loc.space_id), None)
            if feature is not None:  # a site feature (gate, path, plaza): public grounds
                return Resolved(feature.id, None, None, True)
            sp = community.space(loc.space_id)
            unit = next((u.id for u in community.billing_units if u.space_id == sp.id), None)
            return Resolved(sp.id, sp.building_id, unit, sp.is_public and unit is None)
        if loc.device_id is not None:
            if community is None:
                return Resolved(None, None, None, False)
            dev = community.device(loc.device_id)
            public = dev.space_id is not None and community.space(dev.space_id).is_public
            unit = dev.feeds[0] if len(dev.feeds) == 1 and not public else None
            return Resolved(dev.space_id, dev.building_id, unit, public or dev.space_id is None)
        unit = get_by_id(session, Unit, loc.unit_id)
        if unit is None:
            if community is None:
                raise UnknownEntity(f"unit_id={loc.unit_id!r} is not a billing unit")
            bu = community.billing_unit(loc.unit_id)
            return Resolved(bu.space_id, bu.building_id, bu.id, False)
        return Resolved(unit.space_id, unit.building_id, unit.id, False)
    except NotFoundError as exc:
        raise InvalidInput(f"location: {exc}") from exc


def _event_row(wo: WorkOrder, actor: Actor, kind: str, frm: str | None, to: str | None,
               note: str | None = None, ts: datetime | None = None) -> dict[str, Any]:
    return {"work_order_id": wo.id, "ts": ts or utcnow(), "actor": actor.username, "kind": kind,
            "from_status": frm, "to_status": to, "note": note}


def _event(session: Session, *rows: dict[str, Any]) -> None:
    """Append history events (:func:`_event_row`), inserted at once in one statement."""
    # render_nulls: a None (e.g. no from_status) must not split the rows into two statements
    session.execute(insert(WorkOrderEvent).execution_options(render_nulls=True), list(rows))


def create_work_order(session: Session, community: Community | None, actor: Actor, *,
                      description: str, location: Location, source: str | None = None,
                      category: str | None = None, priority: str | None = None,
                      contact_name: str | None = None, contact_phone: str | None = None,
                      alarm_id: str | None = None, now: datetime | None = None,
                      timezone: str = DEFAULT_TIMEZONE,
                      classification: tuple[str, float] | None = None) -> WorkOrder:
    """Report a work order: classify, prioritise, set SLA timers and assign automatically.

    ``classification`` is ``classify(description.strip())`` when the caller has already
    computed it (the API does, before it takes the database's write lock).
    """
    now = now or utcnow()
    description = (description or "").strip()
    if not description:
        raise InvalidInput("description must not be empty")
    if len(description) > 2000:
        raise InvalidInput(f"description is {len(description)} characters; the limit is 2000")
    if actor.role == "planner" and source not in (None, "preventive"):
        raise Forbidden("planners open preventive work orders only")
    source = source or {"owner": "owner", "planner": "preventive"}.get(actor.role, "front_desk")
    if source not in SOURCES:
        raise InvalidInput(f"source={source!r} must be one of {', '.join(SOURCES)}")
    if actor.role == "owner" and source != "owner":
        raise Forbidden("owners report work orders as source 'owner'")
    if category is not None and category not in CATEGORIES:
        raise InvalidInput(f"category={category!r} must be one of {', '.join(CATEGORIES)}")
    if priority is not None and priority not in PRIORITIES:
        raise InvalidInput(f"priority={priority!r} must be one of {', '.join(PRIORITIES)}")
    where = resolve_location(session, community, location)
    if actor.role == "owner" and not where.public and where.unit_id not in actor.unit_ids:
        raise Forbidden("owners may report on their own units or public areas only")
    confidence = None
    if category is None:
        category, confidence = classification if classification is not None else classify(description)
    priority = priority or priority_for(category, description)
    respond_by, resolve_by = deadlines(priority, now)
    # the new order is not open-and-assigned yet, so choosing first sees the same loads
    # and the order is written once, already in its final state (one INSERT, no UPDATE)
    assignee = choose_assignee(session, community, category, where.space_id, now, timezone)
    wo = WorkOrder(description=description, category=category, category_confidence=confidence,
                   priority=priority, status="reported" if assignee is None else "assigned",
                   source=source, space_id=where.space_id,
                   device_id=location.device_id, unit_id=where.unit_id,
                   building_id=where.building_id, public=where.public, reporter=actor.username,
                   contact_name=contact_name, contact_phone=contact_phone, alarm_id=alarm_id,
                   assignee=assignee, escalation_level=0,
                   created_at=now, updated_at=now, respond_by=respond_by, resolve_by=resolve_by)
    session.add(wo)
    session.flush()
    events = [_event_row(wo, actor, "reported", None, "reported", f"{category}/{priority} via {source}", now)]
    if assignee is not None:
        events.append(_event_row(wo, SYSTEM, "transition", "reported", "assigned", f"auto-assigned to {assignee}", now))
    _event(session, *events)
    audit(session, actor, "work_order.create", "work_order", wo.id, category=category,
          priority=priority, location=location.as_dict(), assignee=assignee)
    if assignee is not None:  # auto-assigned: a state change the reporter did not make
        notify_owners(session, wo, SYSTEM, "reported", "assigned", now=now)
    _publish(session, wo, "created")
    return wo


def _publish(session: Session, wo: WorkOrder, change: str, from_status: str | None = None) -> None:
    """Queue the live ``work_order`` event of a change (sent once the transaction commits)."""
    from live.events import work_order_event
    from services.policy import reporter_key

    record = {"id": wo.id, "building_id": wo.building_id, "status": wo.status, "priority": wo.priority,
              "category": wo.category, "assignee": wo.assignee, "source": wo.source, "space_id": wo.space_id,
              "device_id": wo.device_id, "unit_id": wo.unit_id, "public": wo.public, "alarm_id": _alarm_of(wo),
              "location": _location(wo)}
    queue_event(session, work_order_event(record, change, from_status=from_status,
                                          reporter_key=reporter_key(wo.reporter) if wo.reporter else None))


def _owns(actor: Actor, wo: WorkOrder) -> bool:
    return wo.reporter == actor.username or (wo.unit_id is not None and wo.unit_id in actor.unit_ids)


def _assigned(actor: Actor, wo: WorkOrder) -> bool:
    return actor.staff_id is not None and wo.assignee == actor.staff_id


def may_see(actor: Actor, wo: WorkOrder) -> bool:
    """Object-level rule (docs/security.md): owners see their own orders and public-area
    ones; staff the orders assigned to them and those they reported; other roles all."""
    if actor.role == "owner":
        return _owns(actor, wo) or wo.public
    if actor.role == "staff":
        return _assigned(actor, wo) or wo.reporter == actor.username
    return True


def get_work_order(session: Session, actor: Actor, wo_id: int) -> WorkOrder:
    """Return a work order the actor may see (:func:`may_see`); 404 for any other, so that
    an order's existence does not leak."""
    wo = session.get(WorkOrder, wo_id)
    if wo is None or not may_see(actor, wo):
        raise UnknownEntity(f"work order {wo_id} does not exist")
    return wo


#: ``sort`` values of the list: newest first (default), oldest first, most urgent first,
#: earliest resolution deadline first; ties by id.
SORTS = ("-created", "created", "priority", "resolve_by")


@dataclass(frozen=True)
class Filters:
    """Filters of the work-order list and summary (``None``: any)."""

    status: str | None = None
    category: str | None = None
    building: str | None = None
    assignee: str | None = None
    source: str | None = None
    sla: str | None = None

    def check(self) -> None:
        """Raise :class:`InvalidInput` naming a value outside its set."""
        for name, value, allowed in (("status", self.status, STATUSES), ("category", self.category, CATEGORIES),
                                     ("source", self.source, SOURCES), ("sla", self.sla, SLA_STATES)):
            if value is not None and value not in allowed:
                raise InvalidInput(f"{name}={value!r} must be one of {', '.join(allowed)}")


def _visible(actor: Actor, mine: bool, filters: Filters, now: datetime):
    """The ``select(WorkOrder)`` of the orders ``actor`` may see (:func:`may_see`), filtered."""
    filters.check()
    query = select(WorkOrder)
    if mine:
        own = WorkOrder.reporter == actor.username
        query = query.where(or_(own, WorkOrder.unit_id.in_(sorted(actor.unit_ids))) if actor.role == "owner" else own)
    elif actor.role == "owner":
        query = query.where(or_(WorkOrder.reporter == actor.username,
                                WorkOrder.unit_id.in_(sorted(actor.unit_ids)), WorkOrder.public.is_(True)))
    elif actor.role == "staff":
        reported = WorkOrder.reporter == actor.username
        query = query.where(or_(WorkOrder.assignee == actor.staff_id, reported) if actor.staff_id else reported)
    for column, value in ((WorkOrder.status, filters.status), (WorkOrder.category, filters.category),
                          (WorkOrder.building_id, filters.building), (WorkOrder.assignee, filters.assignee),
                          (WorkOrder.source, filters.source)):
        if value is not None:
            query = query.where(column == value)
    if filters.sla is not None:
        query = query.where(sla_state_sql(now) == filters.sla)
    return query


def list_work_orders(session: Session, actor: Actor, *, status: str | None = None,
                     limit: int = 100, offset: int = 0, mine: bool = False,
                     filters: Filters | None = None, sort: str = "-created",
                     now: datetime | None = None) -> list[WorkOrder]:
    """Return work orders visible to the actor, newest first (or by ``sort``, :data:`SORTS`).

    ``mine``: only the caller's own orders, those they reported or (owners) those of their
    units; public-area orders of other people are left out. ``filters``: see
    :class:`Filters` (``status`` alone is the older keyword; both may not disagree).
    """
    filters = filters or Filters()
    if status is not None:
        if filters.status not in (None, status):
            raise InvalidInput(f"status={status!r} and filters.status={filters.status!r} disagree")
        filters = replace(filters, status=status)
    if sort not in SORTS:
        raise InvalidInput(f"sort={sort!r} must be one of {', '.join(SORTS)}")
    query = _visible(actor, mine, filters, now or utcnow())
    rank = case({p: i for i, p in enumerate(PRIORITIES)}, value=WorkOrder.priority, else_=len(PRIORITIES))
    order = {"-created": (WorkOrder.created_at.desc(), WorkOrder.id.desc()),
             "created": (WorkOrder.created_at, WorkOrder.id),
             "priority": (rank, WorkOrder.id.desc()),
             "resolve_by": (WorkOrder.resolve_by, WorkOrder.id)}[sort]
    query = query.order_by(*order).limit(min(max(limit, 1), 1000)).offset(max(offset, 0))
    return list(session.scalars(query))


def summarize_work_orders(session: Session, actor: Actor, *, filters: Filters | None = None,
                          mine: bool = False, now: datetime | None = None) -> dict[str, Any]:
    """Counts of the orders the list would show (same visibility and filters):
    ``{"total", "by_status": {status: n}, "by_sla": {state: n}}``, every status and state
    present (zeros included)."""
    now = now or utcnow()
    # the state is computed once per row in a subquery, then grouped by its column (a
    # GROUP BY repeating the CASE would carry separate bind parameters PostgreSQL cannot match)
    rows_q = _visible(actor, mine, filters or Filters(), now).with_only_columns(
        WorkOrder.status, sla_state_sql(now).label("sla")).subquery()
    rows = session.execute(select(rows_q.c.status, rows_q.c.sla, func.count())
                           .group_by(rows_q.c.status, rows_q.c.sla)).all()
    by_status = dict.fromkeys(STATUSES, 0)
    by_sla = dict.fromkeys(SLA_STATES, 0)
    for st, sla, n in rows:
        by_status[st] = by_status.get(st, 0) + n
        by_sla[sla] += n
    return {"total": sum(by_status.values()), "by_status": by_status, "by_sla": by_sla,
            "as_of": now.isoformat()}


def transition_work_order(session: Session, community: Community | None, actor: Actor, wo_id: int,
                          to: str, *, note: str | None = None, assignee: str | None = None,
                          now: datetime | None = None, timezone: str = DEFAULT_TIMEZONE) -> WorkOrder:
    """Move a work order to status ``to`` (409 when the lifecycle forbids it)."""
    now = now or utcnow()
    wo = get_work_order(session, actor, wo_id)
    check_transition(wo.status, to, actor, owns=_owns(actor, wo),
                     assigned_to_actor=actor.staff_id is not None and wo.assignee == actor.staff_id)
    frm = wo.status
    if to == "assigned":
        if assignee is not None:
            if community is not None and assignee not in {m.id for m in community.staff}:
                raise InvalidInput(f"assignee={assignee!r} is not a member of staff")
        else:
            assignee = choose_assignee(session, community, wo.category, wo.space_id, now, timezone)
            if assignee is None:
                raise Conflict(f"no staff with skill {wo.category!r} is on shift to take work order {wo_id}")
        if frm == "assigned" and assignee == wo.assignee:
            raise Conflict(f"work order {wo_id} is already assigned to {assignee!r}")
        wo.assignee = assignee
        note = note or f"assigned to {assignee}"
    if to == "in_progress" and wo.responded_at is None:
        wo.responded_at = now
    if to == "completed":
        wo.completed_at = now
    if to == "reopened":
        wo.completed_at, wo.rating, wo.rating_comment = None, None, None
    wo.status, wo.updated_at = to, now
    _event(session, _event_row(wo, actor, "transition", frm, to, note, now))
    audit(session, actor, "work_order.transition", "work_order", wo.id, frm=frm, to=to, assignee=wo.assignee)
    notify_owners(session, wo, actor, frm, to, now=now)
    _publish(session, wo, "assigned" if to == "assigned" else "transition", frm)
    return wo


#: Status names for the owners' in-app message (中文 first, as on the owners' page).
STATUS_TEXT = {"reported": "已受理 reported", "assigned": "已派单 assigned", "in_progress": "处理中 in progress",
               "on_hold": "暂停 on hold", "completed": "已完成 completed", "revisited": "已回访 rated",
               "closed": "已关闭 closed", "cancelled": "已取消 cancelled", "reopened": "重新打开 reopened"}


def notify_owners(session: Session, wo: WorkOrder, actor: Actor, frm: str, to: str, *,
                  now: datetime | None = None) -> list[str]:
    """Queue an in-app message about a state change to the order's owners (in the caller's
    transaction): the owner who reported it and the owners of its unit, not the actor.

    Idempotent per transition: the message carries the transition's time (``now``, its
    ``created_at``); an owner who already has the message of this order, status and time
    gets no second one. Returns the owners messaged now.
    """
    at = now or wo.updated_at or utcnow()
    owners = select(User.username).where(User.role == "owner", User.active.is_(True))
    by_unit = owners.where(User.id.in_(select(UserUnit.user_id).where(UserUnit.unit_id == wo.unit_id))) \
        if wo.unit_id is not None else None
    names = set(session.scalars(owners.where(User.username == wo.reporter)))
    if by_unit is not None:
        names |= set(session.scalars(by_unit))
    names.discard(actor.username)
    text = STATUS_TEXT.get(to, to)
    subject = f"报修 #{wo.id}: {text}"
    if names:
        names -= set(session.scalars(select(Notification.recipient).where(
            Notification.channel == "in_app", Notification.kind == "work_order", Notification.ref == str(wo.id),
            Notification.subject == subject, Notification.created_at == at, Notification.recipient.in_(names))))
    for name in sorted(names):
        session.add(Notification(channel="in_app", recipient=name, kind="work_order", ref=str(wo.id),
                                 subject=subject, created_at=at,
                                 body=f"报修 #{wo.id} ({wo.category}) 状态 {STATUS_TEXT.get(frm, frm)} → {text}. "
                                      f"Repair #{wo.id} is now {to.replace('_', ' ')}."))
    return sorted(names)


def rate_work_order(session: Session, actor: Actor, wo_id: int, rating: int, comment: str | None) -> WorkOrder:
    """Record the revisit: rating 1–5 and comment; moves ``completed`` → ``revisited``."""
    if not 1 <= rating <= 5:
        raise InvalidInput(f"rating={rating} must be between 1 and 5")
    wo = get_work_order(session, actor, wo_id)
    if actor.role == "owner" and not _owns(actor, wo):
        raise Forbidden("owners may rate their own work orders only")
    if actor.role not in ("owner", "operator", "admin"):
        raise Forbidden(f"role {actor.role!r} may not record a revisit")
    if wo.status != "completed":
        raise Conflict(f"only a completed work order can be rated (status is {wo.status!r})")
    wo.rating, wo.rating_comment = rating, (comment or None)
    now = utcnow()
    wo.status, wo.updated_at = "revisited", now
    _event(session, _event_row(wo, actor, "revisit", "completed", "revisited", f"rating {rating}: {comment or ''}".strip()))
    audit(session, actor, "work_order.rate", "work_order", wo.id, rating=rating)
    notify_owners(session, wo, actor, "completed", "revisited", now=now)  # a revisit by phone: the owner hears
    _publish(session, wo, "transition", "completed")
    return wo


def add_attachment(session: Session, actor: Actor, wo_id: int, filename: str, data: bytes) -> Attachment:
    """Attach a photo (JPEG/PNG/WebP by magic bytes, ≤ 5 MiB, ≤ 10 per order)."""
    wo = get_work_order(session, actor, wo_id)
    if actor.role == "owner" and not _owns(actor, wo):
        raise Forbidden("owners may attach photos to their own work orders only")
    if actor.role == "planner":
        raise Forbidden("planners may not attach photos")
    count = session.scalar(select(func.count()).select_from(Attachment).where(Attachment.work_order_id == wo.id))
    if count >= MAX_PER_ORDER:
        raise Conflict(f"work order {wo.id} already has {count} photos (limit {MAX_PER_ORDER})")
    content_type, digest = validate_photo(filename, data)
    att = Attachment(work_order_id=wo.id, filename=filename[:255] or "photo", content_type=content_type,
                     size_bytes=len(data), sha256=digest, data=data, uploaded_by=actor.username)
    session.add(att)
    session.flush()
    audit(session, actor, "work_order.attach", "work_order", wo.id, attachment=att.id, bytes=len(data))
    return att


def _alarm_of(wo: WorkOrder) -> str | None:
    """The alarm that opened ``wo`` (the column also keeps preventive requests' dedupe keys)."""
    return wo.alarm_id if wo.source == "alarm" else None


def _location(wo: WorkOrder) -> dict[str, str]:
    return {k: v for k, v in (("space_id", wo.space_id), ("device_id", wo.device_id),
                              ("unit_id", wo.unit_id)) if v is not None}


def to_public(session: Session, wo: WorkOrder, actor: Actor, *, history: bool = False) -> dict[str, Any]:
    """The JSON form of a work order for ``actor`` (personal data masked where needed)."""
    location = _location(wo)
    see = sees_personal_data(actor, wo.unit_id) or (actor.role == "staff" and wo.assignee == actor.staff_id) \
        or wo.reporter == actor.username
    body: dict[str, Any] = {
        "id": wo.id, "category": wo.category, "status": wo.status, "assignee": wo.assignee,
        "location": location, "description": wo.description, "priority": wo.priority,
        "source": wo.source, "building_id": wo.building_id, "public": wo.public,
        "reporter": wo.reporter if see else mask_name(wo.reporter),
        "contact_name": wo.contact_name if see else mask_name(wo.contact_name),
        "contact_phone": wo.contact_phone if see else mask_phone(wo.contact_phone),
        "created_at": wo.created_at.isoformat(), "updated_at": wo.updated_at.isoformat(),
        "respond_by": wo.respond_by.isoformat(), "resolve_by": wo.resolve_by.isoformat(),
        "escalation_level": wo.escalation_level, "rating": wo.rating, "rating_comment": wo.rating_comment,
        "category_confidence": wo.category_confidence, "sla": sla_state(wo, utcnow()),
        "alarm_id": _alarm_of(wo),
    }
    if history:
        events = session.scalars(select(WorkOrderEvent).where(WorkOrderEvent.work_order_id == wo.id)
                                 .order_by(WorkOrderEvent.id))
        body["history"] = [{"ts": e.ts.isoformat(), "actor": _history_actor(e.actor, actor, see),
                            "kind": e.kind, "from": e.from_status, "to": e.to_status, "note": e.note}
                           for e in events]
        atts = session.execute(select(Attachment.id, Attachment.filename, Attachment.content_type,
                                      Attachment.size_bytes).where(Attachment.work_order_id == wo.id)).all()
        body["attachments"] = [{"id": a.id, "filename": a.filename, "content_type": a.content_type,
                                "size_bytes": a.size_bytes} for a in atts]
    return body


def _history_actor(name: str, viewer: Actor, see: bool) -> str:
    """A history entry's actor, masked like ``reporter`` for a viewer who may not see
    personal data (the viewer's own name and ``system`` stay readable)."""
    if see or name in ("system", viewer.username):
        return name
    return mask_name(name)


def open_work_order_from_alarm(session: Session, community: Community | None, *, alarm_id: str,
                               description: str, device_id: str | None = None, space_id: str | None = None,
                               category: str | None = None, priority: str | None = None,
                               now: datetime | None = None) -> WorkOrder:
    """Open (once per alarm) a work order for an alarm at a device (or a space).

    Idempotent by ``alarm_id``: a repeated alarm returns the work order already opened.
    """
    existing = session.scalar(select(WorkOrder).where(WorkOrder.alarm_id == alarm_id,  # unique per community
                                                      WorkOrder.community == _community_of(session)))
    if existing is not None:
        return existing
    location = Location(device_id=device_id) if device_id is not None else Location(space_id=space_id)
    return create_work_order(session, community, SYSTEM, description=description, location=location,
                             source="alarm", category=category, priority=priority, alarm_id=alarm_id, now=now)
