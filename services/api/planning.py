"""``/api/elevators/risk`` and ``/api/cleaning/status``: planning results for the viewer.

Both need a logged-in caller of any role (owners included): neither holds personal data.
A broken risk log or a twin that cannot be planned answers 503 naming the cause.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, HTTPException, Query, Request
from starlette.concurrency import run_in_threadpool

from services import planning
from services.api.deps import ActorDep, CommunityDep
from twin.errors import NotFoundError, TwinError

from services.api.guard import allow
from services.policy import ANY_USER

__all__ = ["router"]

router = APIRouter(prefix="/api", tags=["planning"])


@router.get("/elevators/risk", dependencies=[allow(ANY_USER)])
async def elevator_risk(request: Request, actor: ActorDep, community: CommunityDep) -> dict[str, Any]:
    """The latest elevator risks, from the live daily rows when the service logged any, else
    from the daily risk log: ``{"as_of", "source", "elevators": [{"elevator_id", "device_id",
    "building", "risk", "p_fail_7d", "reason"}]}`` (``source`` ``live`` or ``log``; ``as_of``
    null and no elevators when none)."""
    settings = request.app.state.settings
    try:
        return await run_in_threadpool(planning.elevator_risk, community, planning.risk_log_path(settings),
                                       planning.daily_log_path(settings))
    except TwinError as exc:  # a broken risk log on the server: not the caller's fault
        raise HTTPException(503, f"elevator risk unavailable: {exc}") from exc


@router.get("/cleaning/status", dependencies=[allow(ANY_USER)])
async def cleaning_status(request: Request, actor: ActorDep, community: CommunityDep,
                          building: Annotated[str | None, Query(max_length=128)] = None) -> dict[str, Any]:
    """Each public area's cleaning status now, from today's plan (computed once per day)
    adjusted to counted traffic when live cleaning runs: ``{"date", "minute",
    "threshold_g_m2", "areas": [{"space_id", "name", "label", "kind", "building", "status", "soil",
    "soil_ratio", "next_cleaning", ["traffic", "moved_from", "moved_by"]}]}``; ``label`` is the
    name people use (``1号楼 1单元 1F 门厅``, :meth:`twin.naming.SiteNames.space_label`)."""
    if community is None:
        raise HTTPException(503, "no site is loaded: cleaning status needs the twin")
    if building is not None and building not in {b.id for b in community.buildings}:
        raise HTTPException(404, f"building={building!r} is not a building of the site")
    from services.communities import site_timezone

    tz = site_timezone(community)
    now = dt.datetime.now(ZoneInfo(tz))
    cache = getattr(request.app.state, "cleaning_cache", None)
    if cache is None:
        cache = request.app.state.cleaning_cache = planning.CleaningCache()
    try:
        day = await run_in_threadpool(cache.get, community, now.date(), tz)
    except TwinError as exc:  # the twin cannot be planned (no cleaner, nothing to clean)
        raise HTTPException(503, f"cleaning plan unavailable: {exc}") from exc
    live = getattr(request.app.state, "live_cleaning", None)
    adjustment = live.adjustment(day.date) if live is not None else None
    out = planning.cleaning_status(day, now.hour * 60 + now.minute + now.second / 60.0, building=building,
                                   live=adjustment)
    names = _site_names(request.app, community)
    for area in out["areas"]:  # the name people use (1号楼 1单元 1F 门厅), never a raw id
        try:
            area["label"] = names.space_label(area["space_id"])
        except NotFoundError:  # a site feature (plaza, path): its own name
            area["label"] = area.get("name") or area["space_id"]
    return out


def _site_names(app, community):
    """The community's :class:`twin.naming.SiteNames`, computed once per loaded twin."""
    from twin.naming import SiteNames

    cached = getattr(app.state, "site_names", None)
    if cached is None or cached[0] is not community:
        cached = app.state.site_names = (community, SiteNames(community))
    return cached[1]
