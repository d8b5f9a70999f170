"""``GET /api/live/occupancy``: people per building (and entrance zone) from the live counters.

Roles: admin, operator, planner, staff (owners see no occupancy: it tells when a building
is empty). Needs the twin and live ingestion with its database (503 otherwise).
"""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from starlette.concurrency import run_in_threadpool

from live.ingest import iso
from services.api.deps import ActorDep, CommunityDep
from services.api.guard import allow
from services.auth import require_role
from services.occupancy import OccupancyService
from services.policy import STAFF

from services.communities import site_timezone

__all__ = ["router", "ROLES"]

router = APIRouter(prefix="/api/live", tags=["live"])

#: Roles that may read the occupancy.
ROLES = ("admin", "operator", "planner", "staff")


def _service(request: Request, community) -> OccupancyService:
    svc = getattr(request.app.state, "occupancy", None)
    if svc is None:
        comp = getattr(request.app.state, "live", None)
        store = getattr(comp, "store", None)
        if store is None:
            raise HTTPException(503, "live ingestion with a database is not running: no occupancy")
        svc = request.app.state.occupancy = OccupancyService(
            community, store.engine, tz=site_timezone(community))
    return svc


@router.get("/occupancy", dependencies=[allow(STAFF)])
async def occupancy(request: Request, actor: ActorDep, community: CommunityDep,
                    building: Annotated[str | None, Query(max_length=128)] = None) -> dict[str, Any]:
    """People per building now: ``{"ts", "anchor", "buildings": [{"id", "people", "source",
    "zones": [{"id", "people", "source"}]}]}`` (docs/api-live.md, "Occupancy")."""
    require_role(actor, *ROLES)
    if community is None:
        raise HTTPException(503, "no site is loaded: occupancy needs the twin")
    if building is not None and building not in {b.id for b in community.buildings}:
        raise HTTPException(404, f"building={building!r} is not a building of the site")
    svc = _service(request, community)
    snap = await run_in_threadpool(svc.current, time.time(), building)
    return {"ts": iso(snap["ts"]), "anchor": iso(snap["anchor_ts"]), "buildings": snap["buildings"]}
