"""``/api/drills``: evacuation drills started by planners, run as background jobs.

Policy ``office`` (admin, operator, planner) for every route. A request is checked in
full (buildings, blocked names, time of day, runs) before a job starts: bad input is a
422 naming the bad value (an unknown name with the closest names). The job runs in a
local process pool or on dask (``TWIN_DASK_SCHEDULER``), see :mod:`services.drills`.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import FileResponse
from pydantic import Field, StrictInt
from starlette.concurrency import run_in_threadpool

from services.api.deps import ActorDep, CommunityDep, to_http
from services.api.guard import allow
from services.api.inputs import InputModel
from services.drill_report.render import RenderError
from services.drills import MAX_RUNS, DrillJobs, check_request
from services.policy import MiB, OFFICE
from twin.errors import TwinError

__all__ = ["router"]

router = APIRouter(prefix="/api", tags=["drills"])

Name = Annotated[str, Field(min_length=1, max_length=200)]


class DrillIn(InputModel):
    """A drill: buildings (default all), time of day, fire location, blocked stairs/exits/doors,
    runs; or a scenario."""

    buildings: Annotated[list[Name] | None, Field(max_length=500)] = None
    time_of_day: Annotated[str | None, Field(max_length=5, examples=["02:00"],
                                             json_schema_extra={"pattern": "^[0-9]{2}:[0-9]{2}$"})] = None
    block: Annotated[list[Name], Field(max_length=500)] = []
    fire: Annotated[str | None, Field(min_length=1, max_length=200,
                                      description="space id, or a device id (its space), where the fire is")] = None
    runs: Annotated[StrictInt, Field(ge=1, le=MAX_RUNS)] = 1
    scenario: dict[str, Any] | None = None


def jobs_of(request: Request) -> DrillJobs:
    """The app's drill jobs (made on first use; closed when the app stops)."""
    return DrillJobs.of_app(request.app)


@router.post("/drills", status_code=202, dependencies=[allow(OFFICE.with_body(4 * MiB))])
async def start_drill(request: Request, body: DrillIn, actor: ActorDep, community: CommunityDep) -> dict[str, Any]:
    """Check the drill and start it in the background: 202 ``{"id", "status"}``."""
    data = body.model_dump(exclude_unset=True)
    if community is None and data.get("scenario") is None:
        raise HTTPException(503, "no site is loaded: give a whole scenario or load a site")
    try:
        plan = await run_in_threadpool(check_request, community, data)
        return jobs_of(request).submit(plan)
    except TwinError as exc:
        raise to_http(exc) from exc


@router.get("/drills", dependencies=[allow(OFFICE)])
async def list_drills(request: Request, actor: ActorDep) -> list[dict[str, Any]]:
    """Every drill, newest first: ``[{"id", "status", "progress", "created", "request",
    "error", "evacuation_time_s"}]``."""
    return await run_in_threadpool(jobs_of(request).list)


@router.get("/drills/{drill_id}", dependencies=[allow(OFFICE)])
async def get_drill(request: Request, drill_id: str, actor: ActorDep) -> dict[str, Any]:
    """``{"id", "status", "progress", "result", ...}``: status ``queued``, ``running``,
    ``done`` or ``failed`` (with ``error``); progress 0..1; result (when done) the
    evacuation result JSON with ``buildings`` and ``ensemble``."""
    try:
        job = await run_in_threadpool(jobs_of(request).get, drill_id)
    except TwinError as exc:
        raise to_http(exc) from exc
    return {k: v for k, v in job.items() if k != "done_runs"}


@router.get("/drills/{drill_id}/trajectories", dependencies=[allow(OFFICE)])
async def drill_trajectories(request: Request, drill_id: str, actor: ActorDep) -> FileResponse:
    """The first run's trajectories (the ``twin evacuate --trajectories`` JSON); 409 until done."""
    try:
        path = await run_in_threadpool(jobs_of(request).trajectories, drill_id)
    except TwinError as exc:
        raise to_http(exc) from exc
    return FileResponse(path, media_type="application/json")


@router.get("/drills/{drill_id}/report.pdf", dependencies=[allow(OFFICE)])
async def drill_report(request: Request, drill_id: str, actor: ActorDep,
                       compare: str | None = Query(None, max_length=64,
                                                   description="Another drill's id: adds the comparison pages")
                       ) -> FileResponse:
    """The drill report PDF (title, summary, exits and stairs, 3D render of queueing per
    storey, flow per exit; docs/drill-report.md); with ``compare``, a comparison with that
    drill (per building, exit and staircase times of both, differences). 409 while either
    drill runs, 404 for an unknown one. Made in a worker thread on first request, then
    served from the drill record."""
    try:
        path = await run_in_threadpool(jobs_of(request).report, drill_id, compare)
    except RenderError as exc:  # the server cannot render (no EGL/OSMesa): not the caller's fault
        raise HTTPException(503, str(exc)) from exc
    except TwinError as exc:
        raise to_http(exc) from exc
    return FileResponse(path, media_type="application/pdf", filename=f"drill-{drill_id}.pdf" if compare is None else f"drill-{drill_id}-vs-{compare}.pdf")
