"""Live endpoints: ingestion counters, device states, alarms and the ``/ws/live`` stream.

Every WebSocket message is one JSON object with ``type`` and ``ts`` (ISO 8601 UTC) and,
for device events, ``device_id`` (docs/api-live.md).

Every route needs a login; what a caller sees is filtered by
:class:`services.policy.DeviceAccess` (owners: public areas and their own units' devices).
``/ws/live`` takes its token in the first message (``{"type": "auth", "token": ...}``) or
as the subprotocol ``bearer.<token>``, and refuses a browser page of another origin.
"""

from __future__ import annotations

import asyncio
import logging
import time
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, WebSocket, WebSocketDisconnect
from pydantic import Field
from starlette.concurrency import run_in_threadpool

from live.errors import AlarmError
from live.ingest import iso
from live.kinds import KINDS
from services.api.deps import ActorDep, TokenDep, run_read, run_write
from services.api.guard import allow, deferred
from services.api.inputs import InputModel
from services.auth import Actor, audit, decode_claims, load_actor
from services.errors import ServiceError
from services.policy import ANY_USER, OPERATORS, PUBLIC, DeviceAccess, KiB

__all__ = ["router"]

log = logging.getLogger(__name__)

router = APIRouter(tags=["live"])


def _live(request_or_ws) -> Any:
    comp = getattr(request_or_ws.app.state, "live", None)
    if comp is None or comp.pipeline is None:
        raise HTTPException(503, "live ingestion is not running")
    return comp


class AckIn(InputModel):
    """Acknowledgement of an alarm: an optional note. The acknowledgement records the
    logged-in user; ``by`` is accepted for old clients and ignored (deprecated)."""

    by: str | None = Field(None, max_length=128, description="deprecated and ignored: the logged-in user is recorded",
                           deprecated=True)
    note: str | None = Field(None, max_length=2000)


def device_access(app) -> DeviceAccess:
    """The app's :class:`DeviceAccess` (built once from the loaded community)."""
    access = getattr(app.state, "device_access", None)
    if access is None:
        access = app.state.device_access = DeviceAccess(app.state.community)
    return access


def _device_record(comp, st) -> dict:
    rec = st.to_dict()
    rec["last_ts_iso"], rec["last_seen_iso"] = iso(st.last_ts), iso(st.last_seen)
    info = comp.registry.get(st.device_id)
    rec["topic"] = info.topic if info else None
    rec["name"] = info.name if info else None
    return rec


@router.get("/api/live/stats", dependencies=[allow(OPERATORS)])
def live_stats(request: Request) -> dict:
    """Counters: received, applied, dead-lettered by reason, duplicates; hub and broker state."""
    comp = _live(request)
    out = comp.pipeline.stats()
    out["websocket"] = comp.hub.stats() if comp.hub else {}
    out["broker_connected"] = comp.ingestor.connected.is_set() if comp.ingestor else False
    out["alarms_open"] = len(comp.book.list("open"))
    out.update(comp.consumer_stats())
    return out


@router.get("/api/live/kinds", dependencies=[allow(PUBLIC)])
def live_kinds() -> list[dict]:
    """The device kinds table (fields, units, ranges, events)."""
    return [k.to_dict() for k in KINDS.values()]


@router.get("/api/live/devices", dependencies=[allow(ANY_USER)])
def live_devices(request: Request, actor: ActorDep, building: str | None = None, storey: str | None = None,
                 space: str | None = None, kind: str | None = None) -> list[dict]:
    """Live state of the devices the caller may see, filtered by building, storey, space,
    kind (comma lists)."""
    comp = _live(request)
    access = device_access(request.app)
    return [_device_record(comp, s) for s in comp.state.select(building=building, storey=storey, space=space, kind=kind)
            if access.sees_state(actor, s.device_id)]


def _visible_state(request: Request, actor: Actor, device_id: str):
    comp = _live(request)
    st = comp.state.get(device_id)
    if st is None or not device_access(request.app).sees_state(actor, device_id):
        raise HTTPException(404, f"no device with id {device_id!r}")
    return comp, st


@router.get("/api/live/devices/{device_id}", dependencies=[allow(ANY_USER)])
def live_device(request: Request, actor: ActorDep, device_id: str) -> dict:
    """Live state of one device (404 when not registered or not visible to the caller)."""
    comp, st = _visible_state(request, actor, device_id)
    return _device_record(comp, st)


@router.get("/api/live/devices/{device_id}/history", dependencies=[allow(ANY_USER)])
def live_history(request: Request, actor: ActorDep, device_id: str, start: float | None = None,
                 end: float | None = None, limit: Annotated[int, Query(ge=1, le=100_000)] = 1000) -> dict:
    """Stored readings of a device (epoch seconds ``start``/``end``) and its downsampled
    buckets. A flat's devices: admin, operator and the flat's owner only (403 otherwise)."""
    comp, _ = _visible_state(request, actor, device_id)
    if not device_access(request.app).sees_history(actor, device_id):
        raise HTTPException(403, f"role {actor.role!r} may not read the history of a private unit's device")
    comp.pipeline.flush()
    return {"device_id": device_id, "readings": comp.store.history(device_id, start=start, end=end, limit=limit),
            "rollups": comp.store.rollups(device_id)}


@router.get("/api/live/alarms", dependencies=[allow(ANY_USER)])
def live_alarms(request: Request, actor: ActorDep,
                state: str | None = Query(None, pattern="^(open|raised|acknowledged|cleared)$")) -> list[dict]:
    """Alarms the caller may see, newest first; ``state=open`` for raised or acknowledged ones.
    An escalated alarm also carries ``escalated_at`` (ISO 8601 UTC)."""
    comp = _live(request)
    access = device_access(request.app)
    return _mark_escalated(comp, [rec for rec in (a.to_record() for a in comp.book.list(state))
                                  if access.sees_alarm(actor, rec)])


def _mark_escalated(comp, records: list[dict]) -> list[dict]:
    """Add ``escalated_at`` (ISO 8601 UTC) to the records of escalated alarms."""
    escalated = getattr(comp, "escalated", {})
    for rec in records:
        if rec["id"] in escalated:
            rec["escalated_at"] = iso(escalated[rec["id"]])
    return records


@router.post("/api/live/alarms/{alarm_id}/ack", dependencies=[deferred(OPERATORS.with_body(8 * KiB))])
async def live_ack(request: Request, alarm_id: str, body: AckIn, token: TokenDep) -> dict:
    """Acknowledge an alarm as the logged-in user (admin, operator); audited.
    404 unknown, 409 already acknowledged."""
    comp = _live(request)
    actor = await run_read(request, token, lambda session, actor: actor)  # 401/403 first
    if comp.book.get(alarm_id) is None:
        raise HTTPException(404, f"no alarm with id {alarm_id!r}")
    # the alarm book writes the live store itself: no transaction of ours is open meanwhile
    # (on SQLite it would hold the write lock the store waits for)
    try:
        alarm = await run_in_threadpool(partial(comp.book.acknowledge, alarm_id, by=actor.username,
                                                at=time.time(), note=body.note))
    except AlarmError as exc:
        raise HTTPException(409, str(exc)) from None
    await run_write(request, lambda session, who: audit(session, who, "alarm.acknowledge", "alarm", alarm_id,
                                                        note=body.note), token=token)
    return alarm.to_record()


@router.get("/api/live/dead-letters", dependencies=[allow(OPERATORS)])
def live_dead_letters(request: Request, limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
                      reason: str | None = None) -> list[dict]:
    """Most recent dead letters (stored ones), newest first."""
    comp = _live(request)
    comp.pipeline.flush()
    return comp.store.dead_letters(limit=limit, reason=reason)


def _snapshot(comp, sub, resync: bool) -> dict:
    states = [s for s in comp.state.select() if sub.wants({"type": "device", "building": s.building,
                                                            "storey": s.storey, "kind": s.kind,
                                                            "device_id": s.device_id})]
    alarms = [rec for rec in (a.to_record() for a in comp.book.list("open"))
              if (sub.building is None or rec.get("building") in sub.building)
              and (sub.storey is None or rec.get("storey") in sub.storey)
              and sub.visible({"type": "alarm", "alarm": rec})]
    _mark_escalated(comp, alarms)
    return {"type": "snapshot", "ts": iso(time.time()), "resync": resync,
            "devices": [_device_record(comp, s) for s in states], "alarms": alarms}


#: Seconds a client has to send its token after connecting.
AUTH_TIMEOUT_S = 10.0
#: Subprotocol the server answers with (``bearer.<token>`` carries the token).
SUBPROTOCOL = "twin.v1"


def _origin_allowed(websocket: WebSocket) -> bool:
    """A browser page may connect only from this server's own origin (or a configured one);
    clients that send no Origin (not browsers) pass and still need a token."""
    origin = websocket.headers.get("origin")
    if origin is None:
        return True
    host = websocket.headers.get("host", "")
    if origin in (f"http://{host}", f"https://{host}"):
        return True
    extra = websocket.app.state.settings.allowed_origins
    return origin in {o.strip() for o in extra.split(",") if o.strip()}


async def _ws_actor(websocket: WebSocket) -> Actor:
    """Authenticate the socket: subprotocol ``bearer.<token>`` or a first message
    ``{"type": "auth", "token": "<token>"}`` within :data:`AUTH_TIMEOUT_S`."""
    token = None
    for proto in websocket.scope.get("subprotocols") or ():
        if proto.startswith("bearer."):
            token = proto[len("bearer."):]
    await websocket.accept(subprotocol=SUBPROTOCOL if websocket.scope.get("subprotocols") else None)
    if token is None:
        try:
            first = await asyncio.wait_for(websocket.receive_json(), AUTH_TIMEOUT_S)
        except (asyncio.TimeoutError, ValueError, KeyError, TypeError) as exc:
            raise ServiceError(f"send {{\"type\": \"auth\", \"token\": ...}} first ({type(exc).__name__})") from None
        if not isinstance(first, dict) or first.get("type") != "auth" or not isinstance(first.get("token"), str):
            raise ServiceError('the first message must be {"type": "auth", "token": "<bearer token>"}')
        token = first["token"]
    app = websocket.app
    claims = decode_claims(app.state.settings, token)
    db = getattr(app.state, "db", None)
    if db is None:
        raise ServiceError("the database is not started: no login is possible")

    def load() -> Actor:
        with db.transaction(write=False) as session:
            return load_actor(session, str(claims["sub"]), claims)
    actor = await run_in_threadpool(load)
    websocket.scope["twin.policy"].check(actor)
    return actor


@router.websocket("/ws/live", dependencies=[deferred(ANY_USER)])
async def ws_live(websocket: WebSocket, building: str | None = None, storey: str | None = None,
                  kind: str | None = None, types: str | None = None) -> None:
    """Stream events: a snapshot first, then device/alarm events matching the filters and
    the caller's access (see the module docstring for how the socket logs in).

    A client too slow to keep up loses its queued events and gets a new ``snapshot`` with
    ``resync: true``; ingestion never waits for a client.
    """
    from services.live_component import Subscriber

    if not _origin_allowed(websocket):
        await websocket.close(code=1008, reason="origin not allowed")
        return
    try:
        actor = await _ws_actor(websocket)
    except (ServiceError, WebSocketDisconnect, RuntimeError) as exc:
        await _close_with_error(websocket, 1008, str(exc))
        return
    comp = getattr(websocket.app.state, "live", None)
    if comp is None or comp.hub is None:
        await _close_with_error(websocket, 1013, "live ingestion is not running")
        return
    access = device_access(websocket.app)
    sub = Subscriber(building=building, storey=storey, kind=kind, types=types, maxsize=comp.ws_queue_size,
                     visible=lambda ev: access.sees_event(actor, ev))
    comp.hub.subscribers.add(sub)
    try:
        await websocket.send_json(_snapshot(comp, sub, resync=False))
        receiver = asyncio.create_task(_drain_client(websocket))
        while not receiver.done():
            getter = asyncio.create_task(sub.queue.get())
            done, _ = await asyncio.wait({getter, receiver}, return_when=asyncio.FIRST_COMPLETED)
            if getter not in done:
                getter.cancel()
                break
            texts = [getter.result()]
            while not sub.queue.empty():  # send everything queued before waiting again
                texts.append(sub.queue.get_nowait())
            if sub.resync.is_set():
                sub.resync.clear()
                while not sub.queue.empty():
                    sub.queue.get_nowait()
                await websocket.send_json(_snapshot(comp, sub, resync=True))
                continue
            for text in texts:
                if text is not None:
                    await websocket.send_text(text)
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        comp.hub.subscribers.discard(sub)


async def _close_with_error(websocket: WebSocket, code: int, detail: str) -> None:
    try:
        await websocket.send_json({"type": "error", "ts": iso(time.time()), "detail": detail})
        await websocket.close(code=code)
    except (WebSocketDisconnect, RuntimeError):
        pass


async def _drain_client(websocket: WebSocket) -> None:
    """Read (and ignore) client messages until it disconnects."""
    try:
        while True:
            await websocket.receive_text()
    except (WebSocketDisconnect, RuntimeError):
        return
