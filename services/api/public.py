"""``/api/public-status``: the public-area status every logged-in user (owners too) may see."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from sqlalchemy import func, or_, select

from services.api.deps import ActorDep, CommunityDep, SessionDep
from services.billing.models import Unit
from services.workorders.lifecycle import OPEN_STATUSES
from services.workorders.models import WorkOrder

from services.api.guard import allow
from services.policy import ANY_USER

__all__ = ["router"]

router = APIRouter(prefix="/api", tags=["public"])


@router.get("/public-status", dependencies=[allow(ANY_USER)])
def public_status(session: SessionDep, actor: ActorDep, community: CommunityDep,
                  mine: bool = False) -> dict[str, Any]:
    """Open work orders in public areas (no personal data) and counts by category.

    ``mine=true``: only those in the buildings of the caller's units and in the shared
    areas outside every building (grounds, gates, roads); ``buildings`` lists the former.
    """
    open_statuses = ("reported", *OPEN_STATUSES)
    where = [WorkOrder.public.is_(True), WorkOrder.status.in_(open_statuses)]
    buildings = _buildings_of(session, community, actor.unit_ids) if mine else None
    if buildings is not None:
        where.append(or_(WorkOrder.building_id.is_(None), WorkOrder.building_id.in_(buildings)))
    rows = session.scalars(select(WorkOrder).where(*where).order_by(WorkOrder.id.desc()).limit(200))
    counts = dict(session.execute(select(WorkOrder.category, func.count()).where(*where)
                                  .group_by(WorkOrder.category)).all())
    extra = {"buildings": buildings} if buildings is not None else {}
    return {"open_by_category": counts, **extra,
            "open": [{"id": w.id, "category": w.category, "status": w.status, "priority": w.priority,
                      "space_id": w.space_id, "device_id": w.device_id, "building_id": w.building_id,
                      "since": w.created_at.isoformat()} for w in rows]}


def _buildings_of(session, community, unit_ids: frozenset[str]) -> list[str]:
    """The buildings of these billing units (from the twin; the billing table without one)."""
    if community is not None:
        found = {u.building_id for u in community.billing_units if u.id in unit_ids}
    else:
        found = set(session.scalars(select(Unit.building_id).where(Unit.id.in_(sorted(unit_ids)))))
    return sorted(b for b in found if b)
