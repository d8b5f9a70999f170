"""``/api/public-status``: the public-area status every logged-in user (owners too) may see."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from sqlalchemy import func, select

from services.api.deps import ActorDep, SessionDep
from services.workorders.lifecycle import OPEN_STATUSES
from services.workorders.models import WorkOrder

from services.api.guard import allow
from services.policy import ANY_USER

__all__ = ["router"]

router = APIRouter(prefix="/api", tags=["public"])


@router.get("/public-status", dependencies=[allow(ANY_USER)])
def public_status(session: SessionDep, actor: ActorDep) -> dict[str, Any]:
    """Open work orders in public areas (no personal data) and counts by category."""
    open_statuses = ("reported", *OPEN_STATUSES)
    rows = session.scalars(select(WorkOrder).where(WorkOrder.public.is_(True), WorkOrder.status.in_(open_statuses))
                           .order_by(WorkOrder.id.desc()).limit(200))
    counts = dict(session.execute(select(WorkOrder.category, func.count()).where(
        WorkOrder.public.is_(True), WorkOrder.status.in_(open_statuses)).group_by(WorkOrder.category)).all())
    return {"open_by_category": counts,
            "open": [{"id": w.id, "category": w.category, "status": w.status, "priority": w.priority,
                      "space_id": w.space_id, "device_id": w.device_id, "building_id": w.building_id,
                      "since": w.created_at.isoformat()} for w in rows]}
