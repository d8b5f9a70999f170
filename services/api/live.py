"""Live endpoints: ingestion counters, device states, alarms and the ``/ws/live`` stream.

Every WebSocket message is one JSON object with ``type`` and ``ts`` (ISO 8601 UTC) and,
for device events, ``device_id`` (docs/api-live.md).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, WebSocket, WebSocketDisconnect
from pydantic import BaseModel, Field

from live.errors import AlarmError
from live.ingest import iso
from live.kinds import KINDS

__all__ = ["router"]

log = logging.getLogger(__name__)

router = APIRouter(tags=["live"])


def _live(request_or_ws) -> Any:
    comp = getattr(request_or_ws.app.state, "live", None)
    if comp is None or comp.pipeline is None:
        raise HTTPException(503, "live ingestion is not running")
    return comp


class AckIn(BaseModel):
    """Acknowledgement of an alarm."""

    by: str = Field(..., min_length=1, max_length=128, description="who acknowledges")
    note: str | None = Field(None, max_length=2000)


def _device_record(comp, st) -> dict:
    rec = st.to_dict()
    rec["last_ts_iso"], rec["last_seen_iso"] = iso(st.last_ts), iso(st.last_seen)
    info = comp.registry.get(st.device_id)
    rec["topic"] = info.topic if info else None
    rec["name"] = info.name if info else None
    return rec


@router.get("/api/live/stats")
def live_stats(request: Request) -> dict:
    """Counters: received, applied, dead-lettered by reason, duplicates; hub and broker state."""
    comp = _live(request)
    out = comp.pipeline.stats()
    out["websocket"] = comp.hub.stats() if comp.hub else {}
    out["broker_connected"] = comp.ingestor.connected.is_set() if comp.ingestor else False
    out["alarms_open"] = len(comp.book.list("open"))
    out.update(comp.consumer_stats())
    return out


@router.get("/api/live/kinds")
def live_kinds() -> list[dict]:
    """The device kinds table (fields, units, ranges, events)."""
    return [k.to_dict() for k in KINDS.values()]


@router.get("/api/live/devices")
def live_devices(request: Request, building: str | None = None, storey: str | None = None,
                 space: str | None = None, kind: str | None = None) -> list[dict]:
    """Live state of devices, filtered by building, storey, space, kind (comma lists)."""
    comp = _live(request)
    return [_device_record(comp, s) for s in comp.state.select(building=building, storey=storey, space=space, kind=kind)]


@router.get("/api/live/devices/{device_id}")
def live_device(request: Request, device_id: str) -> dict:
    """Live state of one device (404 when not registered)."""
    comp = _live(request)
    st = comp.state.get(device_id)
    if st is None:
        raise HTTPException(404, f"no device with id {device_id!r}")
    return _device_record(comp, st)


@router.get("/api/live/devices/{device_id}/history")
def live_history(request: Request, device_id: str, start: float | None = None, end: float | None = None,
                 limit: Annotated[int, Query(ge=1, le=100_000)] = 1000) -> dict:
    """Stored readings of a device (epoch seconds ``start``/``end``) and its downsampled buckets."""
    comp = _live(request)
    if comp.state.get(device_id) is None:
        raise HTTPException(404, f"no device with id {device_id!r}")
    comp.pipeline.flush()
    return {"device_id": device_id, "readings": comp.store.history(device_id, start=start, end=end, limit=limit),
            "rollups": comp.store.rollups(device_id)}


@router.get("/api/live/alarms")
def live_alarms(request: Request, state: str | None = Query(None, pattern="^(open|raised|acknowledged|cleared)$")) -> list[dict]:
    """Alarms, newest first; ``state=open`` for raised or acknowledged ones."""
    comp = _live(request)
    return [a.to_record() for a in comp.book.list(state)]


@router.post("/api/live/alarms/{alarm_id}/ack")
def live_ack(request: Request, alarm_id: str, body: AckIn) -> dict:
    """Acknowledge an alarm (404 unknown, 409 already acknowledged)."""
    comp = _live(request)
    if comp.book.get(alarm_id) is None:
        raise HTTPException(404, f"no alarm with id {alarm_id!r}")
    try:
        return comp.book.acknowledge(alarm_id, by=body.by, at=time.time(), note=body.note).to_record()
    except AlarmError as exc:
        raise HTTPException(409, str(exc)) from None


@router.get("/api/live/dead-letters")
def live_dead_letters(request: Request, limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
                      reason: str | None = None) -> list[dict]:
    """Most recent dead letters (stored ones), newest first."""
    comp = _live(request)
    comp.pipeline.flush()
    return comp.store.dead_letters(limit=limit, reason=reason)


def _snapshot(comp, sub, resync: bool) -> dict:
    states = [s for s in comp.state.select() if sub.wants({"type": "device", "building": s.building,
                                                            "storey": s.storey, "kind": s.kind})]
    alarms = [a.to_record() for a in comp.book.list("open")
              if (sub.building is None or a.building in sub.building)
              and (sub.storey is None or a.storey in sub.storey)]
    return {"type": "snapshot", "ts": iso(time.time()), "resync": resync,
            "devices": [_device_record(comp, s) for s in states], "alarms": alarms}


@router.websocket("/ws/live")
async def ws_live(websocket: WebSocket, building: str | None = None, storey: str | None = None,
                  kind: str | None = None, types: str | None = None) -> None:
    """Stream events: a snapshot first, then device/alarm events matching the filters.

    A client too slow to keep up loses its queued events and gets a new ``snapshot`` with
    ``resync: true``; ingestion never waits for a client.
    """
    from services.live_component import Subscriber

    comp = getattr(websocket.app.state, "live", None)
    await websocket.accept()
    if comp is None or comp.hub is None:
        await websocket.send_json({"type": "error", "ts": iso(time.time()), "detail": "live ingestion is not running"})
        await websocket.close(code=1013)
        return
    sub = Subscriber(building=building, storey=storey, kind=kind, types=types, maxsize=comp.ws_queue_size)
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


async def _drain_client(websocket: WebSocket) -> None:
    """Read (and ignore) client messages until it disconnects."""
    try:
        while True:
            await websocket.receive_text()
    except (WebSocketDisconnect, RuntimeError):
        return
