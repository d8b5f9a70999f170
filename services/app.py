"""The FastAPI application: the composition root that wires twin, database, broker and web.

``create_app`` builds the app from settings and a loaded :class:`twin.model.Community`.
Long-lived parts (database, MQTT ingestion, device simulator) are *components*: objects
with ``async start(app)``, ``async stop(app)`` and ``health() -> dict``; they start in order
with the app and stop in reverse order. ``GET /api/health`` reports each component's health
and answers 200 once every component is ready (503 before).
"""

from __future__ import annotations

import asyncio
import gc
import logging
from contextlib import asynccontextmanager
from typing import Any, Protocol

from fastapi import FastAPI
from fastapi.responses import JSONResponse

from services.settings import Settings, get_settings
from twin.model import Community

__all__ = ["Component", "cancel_task", "create_app"]

log = logging.getLogger(__name__)


class Component(Protocol):
    """A long-lived part of the service (database, MQTT ingestion, simulator...)."""

    name: str

    async def start(self, app: FastAPI) -> None: ...

    async def stop(self, app: FastAPI) -> None: ...

    def health(self) -> dict[str, Any]:
        """Return ``{"ready": bool, ...details}``."""
        ...


async def cancel_task(task: "asyncio.Task | None") -> None:
    """Cancel a component's background task and wait for it (its errors are already logged)."""
    if task is None:
        return
    task.cancel()
    try:
        await task
    except (asyncio.CancelledError, Exception):
        pass


def create_app(
    settings: Settings | None = None,
    *,
    community: Community | None = None,
    components: list[Component] | None = None,
    served: dict[str, Community | None] | None = None,
) -> FastAPI:
    """Build the API app for a community with the given components (started in order).

    Every route answers at ``/api/X`` and at ``/api/communities/{cid}/X`` (``cid`` this
    community's id, checked against the caller's membership: :mod:`services.communities`).
    ``served``: every community of the deployment, the default first (for
    ``GET /api/communities``); default just this one.
    """
    from services.dbcomponent import _community_id

    settings = settings or get_settings()
    community_id = _community_id(community) or "default"
    parts: list[Component] = list(components or [])

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        started: list[Component] = []
        await _warm_routes(app)
        try:
            for part in parts:
                log.info("starting %s", part.name)
                await part.start(app)
                started.append(part)
            _freeze_long_lived()
            yield
        finally:
            gc.unfreeze()
            drills = getattr(app.state, "drill_jobs", None)
            if drills is not None:  # background drill jobs (services.drills)
                drills.close()
            for part in reversed(started):
                try:
                    await part.stop(app)
                except Exception:  # keep stopping the others
                    log.exception("stopping %s failed", part.name)

    app = FastAPI(
        title="Community twin API",
        version="0.1.0",
        lifespan=lifespan,
        openapi_url="/openapi.json",
    )
    app.state.settings = settings
    app.state.community = community
    app.state.community_id = community_id
    app.state.served = dict(served) if served else {community_id: community}
    app.state.components = parts

    from services.api.guard import allow, install_guards
    from services.api.headers import SecurityHeaders
    from services.policy import PUBLIC

    @app.get("/api/health", tags=["health"], dependencies=[allow(PUBLIC)])
    def health() -> JSONResponse:
        """Report each component's state; 200 when every component is ready."""
        states = {part.name: part.health() for part in parts}
        ready = all(bool(s.get("ready")) for s in states.values())
        body = {"status": "ok" if ready else "starting", "components": states,
                "site": community.name if community else None}
        return JSONResponse(body, status_code=200 if ready else 503)

    from fastapi.exceptions import RequestValidationError

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request, exc: RequestValidationError) -> JSONResponse:
        """422 naming what was refused; a non-finite number in the input (``1e309``,
        ``Infinity``) is echoed as text, so the refusal itself stays valid JSON."""
        from fastapi.encoders import jsonable_encoder

        return JSONResponse({"detail": _json_safe(jsonable_encoder(exc.errors()))}, status_code=422)

    routers = _routers()
    for router in routers:
        app.include_router(router)
    install_guards(app, routers)  # every route has a policy, checked before its body is read
    from services.communities import CommunityScope

    app.add_middleware(CommunityScope, community=community_id)  # before the guard: membership, prefix
    app.add_middleware(SecurityHeaders)  # outermost: refusals carry the headers too
    return app


def _json_safe(value: Any) -> Any:
    """``value`` with every non-finite float replaced by its text (JSON has no inf or NaN)."""
    import math

    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


async def _warm_routes(app: FastAPI) -> None:
    """Route one request that matches nothing through the router before serving.

    FastAPI prepares each included router's routes (their parameter models) on the first
    request that reaches them; doing it here keeps that one-off cost (tens of ms, more on a
    busy machine) out of the first real requests and out of ingestion once it runs.
    """
    path = "/.twin-warm-up"
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
             "scheme": "http", "path": path, "raw_path": path.encode(), "root_path": "",
             "query_string": b"", "headers": [], "client": ("127.0.0.1", 0),
             "server": ("127.0.0.1", 0), "app": app, "state": {}}

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict) -> None:
        return None

    try:
        await app.router(scope, receive, send)
    except Exception:  # a warm-up must never stop the service
        log.debug("route warm-up failed", exc_info=True)


def _freeze_long_lived() -> None:
    """Keep what start-up built out of the garbage collector's full passes.

    Everything alive once the components have started (the twin, the trained text
    classifier, the route graph, SQLAlchemy's mappers...) lives as long as the app. Left
    in the collector's oldest generation, each full pass rescans all of it: about
    150 ms with every request thread stopped, a tail latency for every request in
    flight. :func:`gc.freeze` moves them to the permanent generation (reference
    counting still frees them; the app's shutdown unfreezes). Only the young
    generations are collected first: a full pass here would cost every app start (and
    every test that starts one) those 150 ms.
    """
    gc.collect(1)
    gc.freeze()


def _routers() -> list:
    """The API routers (each module exports ``router``); one line per module."""
    from services.api import (auth, billing, communities, drills, forecast, live, metering, notices, notifications, occupancy,
                              planning, public, scene, viewer, workorders)

    return [auth.router, workorders.router, billing.router, notifications.router, notices.router, public.router,
            live.router, scene.router, viewer.router, planning.router, metering.router, occupancy.router,
            drills.router, forecast.router, communities.router]
