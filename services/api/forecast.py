"""``GET /api/alarms/{alarm_id}/forecast``: the live evacuation forecast of a fire alarm.

Policy ``operators`` (admin, operator): the control room. 404 for an unknown alarm id, 503
while live ingestion or the forecast component is not running. See docs/alarms.md, "Live
evacuation forecast", and :mod:`services.forecast`.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Request
from starlette.concurrency import run_in_threadpool

from services.api.deps import ActorDep
from services.api.guard import allow
from services.policy import OPERATORS

__all__ = ["router"]

router = APIRouter(prefix="/api", tags=["live"])


@router.get("/alarms/{alarm_id}/forecast", dependencies=[allow(OPERATORS)])
async def alarm_forecast(request: Request, actor: ActorDep,
                         alarm_id: Annotated[str, Path(min_length=1, max_length=64)]) -> dict[str, Any]:
    """``{"alarm_id", "building", "status", "evacuation_time_s", "stairs", "exits",
    "keep_clear", "computed_at", ...}``; ``status`` ``running``, ``done``, ``failed`` or
    ``none`` (this alarm gets no forecast)."""
    forecasts = getattr(request.app.state, "forecasts", None)
    live = getattr(request.app.state, "live", None)
    if forecasts is None or live is None or live.pipeline is None:
        raise HTTPException(503, "live ingestion with the evacuation forecast is not running")
    rec = await run_in_threadpool(forecasts.get, alarm_id)
    if rec is None:
        raise HTTPException(404, f"no alarm with id {alarm_id!r}")
    return rec
