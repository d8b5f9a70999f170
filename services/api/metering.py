"""``/api/metering``: monthly meter readings per billing unit (staff roles).

``GET /api/metering/readings?month=YYYY-MM`` answers the same array as
``twin metering readings --month YYYY-MM --json`` (docs/metering.md), from what the
service's metering consumer has stored.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request

from services.api.deps import ActorDep, SessionDep
from services.api.guard import allow
from services.auth import require_role
from services.billing.run import parse_month
from services.errors import InvalidInput
from services.policy import STAFF

__all__ = ["router"]

router = APIRouter(prefix="/api/metering", tags=["metering"])
STAFF_ROLES = ("admin", "operator", "planner", "staff")


@router.get("/readings", dependencies=[allow(STAFF)])
def readings(request: Request, session: SessionDep, actor: ActorDep,
             month: str = Query(..., description="YYYY-MM", max_length=7)) -> list[dict[str, Any]]:
    """Each billing unit's meter readings for ``month``: start, end, use and source."""
    from services.metering.readings import monthly_readings, reading_json

    require_role(actor, *STAFF_ROLES)
    parse_month(month)
    community = request.app.state.community
    if community is None:
        raise InvalidInput("the service has no site loaded: no meters to read")
    rows = monthly_readings(session.connection(), community, month)
    return [reading_json(r) for r in rows]
