"""The typed events of the live pipeline: one schema, built here and nowhere else.

Every event the pipeline publishes (to the WebSocket hub and to the subscribers that
``services/`` registers) is a JSON object built by one function of this module, and
validates against the JSON Schema ``event_schema.json`` beside it (also in
docs/api-live.md). Types:

======================  ==============================================================
``telemetry``/``event``/``status``  a message was applied to the live state (reading applied,
                        device event, status / online change)
``late``                a message older than the last applied one of its device and
                        channel: stored in the history (metering counts it), never applied
``offline``             heartbeat timeout (online change)
``alarm``               alarm ``raised``/``repeated``/``acknowledged``/``cleared``, and
                        ``escalated`` (a critical alarm left unacknowledged too long)
``drill_suggestion``    an alarm with ``drill: true`` was raised
``forecast``            the live evacuation forecast of a fire alarm is ready (or failed)
``drill``               a drill job (``POST /api/drills``) was queued, progressed, finished
                        or failed (published by ``services.drills``, office roles only)
``dead_letter``         a message was rejected (``reason``)
``work_order``          a work order was created, moved or assigned (the work-order
                        service publishes it after its transaction committed)
``snapshot``            WebSocket only: the state a client starts from
``error``               WebSocket only: the stream cannot start (``detail``)
======================  ==============================================================

Invariants: every event has ``type`` (one of :data:`EVENT_TYPES`) and ``ts`` (ISO 8601 UTC
text); device events also carry ``device_id, kind, building, storey, space``. Keys are
only ever added, never renamed (WebSocket clients read them).
"""

from __future__ import annotations

import json
import math
import time
from functools import lru_cache
from pathlib import Path
from typing import Any

__all__ = ["EVENT_TYPES", "SCHEMA_PATH", "alarm_event", "dead_letter_event", "drill_event", "drill_progress_event",
           "escalated_event", "event_schema", "forecast_event", "iso", "offline_event", "public_event",
           "reading_event", "snapshot_event", "validate_event", "work_order_event"]

#: Every event type, documented in docs/api-live.md.
EVENT_TYPES = ("telemetry", "event", "status", "late", "offline", "alarm", "drill_suggestion", "forecast", "drill",
               "dead_letter", "snapshot", "error", "work_order")

SCHEMA_PATH = Path(__file__).resolve().parent / "event_schema.json"

#: (whole second, its text): the last second formatted, most events share it. Replaced as
#: one tuple so threads formatting different seconds never pair one's second with another's text.
_iso_second: tuple[float | None, str] = (None, "")


def iso(t: float | None) -> str | None:
    """ISO 8601 UTC text (ms) of epoch seconds."""
    if t is None:
        return None
    sec = math.floor(t)
    ms = int(round((t - sec) * 1000))
    if ms == 1000:
        sec, ms = sec + 1, 0
    global _iso_second
    cached_sec, text = _iso_second
    if cached_sec != sec:
        text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec))
        _iso_second = (sec, text)
    return f"{text}.{ms:03d}Z"


def reading_event(r, st, changed: dict[str, Any], *, late: bool = False) -> dict[str, Any]:
    """A message applied to the live state (type = its channel), or a ``late`` one.

    Parameters
    ----------
    r : live.payload.Reading
    st : live.state.DeviceState
        The device's state after the message (unchanged for a late message).
    changed : dict
        Values that changed (``online`` when the flag flipped); empty for a late message.
    """
    ev = {"type": "late" if late else r.channel, "ts": iso(r.ts), "ts_epoch": r.ts, "device_id": r.device_id,
          "kind": st.kind, "building": st.building, "storey": st.storey, "space": st.space,
          "channel": r.channel, "values": r.values, "changed": changed, "online": st.online, "seq": r.seq,
          "received_at": r.received_at}
    if r.event:
        ev["event"] = r.event
    return ev


def offline_event(st, t: float) -> dict[str, Any]:
    """A device went offline (heartbeat timeout) at epoch ``t``."""
    return {"type": "offline", "ts": iso(t), "ts_epoch": t, "device_id": st.device_id, "kind": st.kind,
            "building": st.building, "storey": st.storey, "space": st.space, "online": st.online}


def dead_letter_event(*, now: float, reason: str, topic: str, device_id: str | None, detail: str) -> dict[str, Any]:
    """A rejected message (``reason`` from ``live.ingest.DEAD_LETTER_REASONS``)."""
    return {"type": "dead_letter", "ts": iso(now), "reason": reason, "topic": topic[:200],
            "device_id": device_id, "detail": detail}


def alarm_event(alarm, transition: str, *, kind: str | None, now: float | None = None) -> dict[str, Any]:
    """An alarm transition (``raised``, ``repeated``, ``acknowledged``, ``cleared``)."""
    return {"type": "alarm", "ts": iso(time.time() if now is None else now), "transition": transition,
            "alarm": alarm.to_record(), "alarm_id": alarm.id, "device_id": alarm.device_id,
            "building": alarm.building, "storey": alarm.storey, "space": alarm.space, "kind": kind}


def escalated_event(alarm, *, kind: str | None, escalated_at: float, now: float | None = None) -> dict[str, Any]:
    """A critical alarm still unacknowledged after the escalation delay (``escalated``)."""
    ev = alarm_event(alarm, "escalated", kind=kind, now=now)
    ev["escalated_at"] = iso(escalated_at)
    return ev


#: Keys of a work order copied into its event (the rest of the record stays behind the API).
WORK_ORDER_KEYS = ("status", "priority", "category", "assignee", "source", "space_id", "device_id", "unit_id",
                   "public", "alarm_id")


#: Keys of an event starting with this are for the server only (who may receive it) and
#: are stripped before the event is sent (:func:`public_event`).
PRIVATE_PREFIX = "_"


def public_event(ev: dict[str, Any]) -> dict[str, Any]:
    """``ev`` without its server-only keys (:data:`PRIVATE_PREFIX`); ``ev`` itself when it has none."""
    if not any(k.startswith(PRIVATE_PREFIX) for k in ev):
        return ev
    return {k: v for k, v in ev.items() if not k.startswith(PRIVATE_PREFIX)}


def work_order_event(order: dict[str, Any], change: str, *, from_status: str | None = None,
                     now: float | None = None, reporter_key: str | None = None) -> dict[str, Any]:
    """A work order was ``created``, moved (``transition``) or ``assigned``.

    ``order`` is a plain record (``id``, ``building_id``, ``location`` and
    :data:`WORK_ORDER_KEYS`); personal data (reporter, contact) is never copied.
    ``reporter_key`` is an opaque key of the reporter (``services.policy.reporter_key``),
    kept under ``_reporter`` for the server's visibility rule and stripped before sending.
    """
    ev = {"type": "work_order", "ts": iso(time.time() if now is None else now), "change": change,
          "work_order_id": int(order["id"]), "from_status": from_status, "building": order.get("building_id"),
          "location": dict(order.get("location") or {})}
    ev.update({k: order.get(k) for k in WORK_ORDER_KEYS})
    ev["public"] = bool(ev["public"])
    if reporter_key is not None:
        ev[PRIVATE_PREFIX + "reporter"] = reporter_key
    return ev


def drill_event(alarm, *, kind: str | None, now: float | None = None) -> dict[str, Any]:
    """The drill suggestion of a raised alarm whose rule has ``drill: true``."""
    return {"type": "drill_suggestion", "ts": iso(time.time() if now is None else now), "device_id": alarm.device_id,
            "building": alarm.building, "storey": alarm.storey, "kind": kind, "suggestion": alarm.drill}


def forecast_event(forecast: dict[str, Any], *, now: float | None = None) -> dict[str, Any]:
    """The evacuation forecast of an alarm is ready (``status`` done) or failed.

    ``forecast`` is the record ``GET /api/alarms/{id}/forecast`` answers (docs/alarms.md).
    """
    return {"type": "forecast", "ts": iso(time.time() if now is None else now), "alarm_id": forecast["alarm_id"],
            "building": forecast.get("building"), "storey": forecast.get("storey"), "status": forecast["status"],
            "forecast": forecast}


def drill_progress_event(job: dict[str, Any], *, now: float | None = None) -> dict[str, Any]:
    """The state of a drill job: ``status``, ``progress`` (0..1), runs done of ``runs`` and,
    once done, ``evacuation_time_s`` and per building the time its last person left (s)."""
    res = job.get("result") or {}
    ev = {"type": "drill", "ts": iso(time.time() if now is None else now), "drill_id": job["id"],
          "status": job["status"], "progress": float(job["progress"]), "runs": int(job["runs"]),
          "done_runs": int(job.get("done_runs", 0)), "error": job.get("error")}
    if job["status"] == "done":
        ev["evacuation_time_s"] = res.get("evacuation_time_s")
        ev["buildings"] = {b: v.get("evacuation_time_s") for b, v in (res.get("buildings") or {}).items()}
    return ev


def snapshot_event(*, devices: list[dict], alarms: list[dict], resync: bool, now: float | None = None) -> dict[str, Any]:
    """The first WebSocket message (and the one after a resync)."""
    return {"type": "snapshot", "ts": iso(time.time() if now is None else now), "resync": resync,
            "devices": devices, "alarms": alarms}


@lru_cache(maxsize=1)
def event_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) every event validates against."""
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


def validate_event(ev: dict[str, Any]) -> None:
    """Raise ``jsonschema.ValidationError`` when ``ev`` does not match the schema."""
    import jsonschema

    jsonschema.validate(public_event(ev), event_schema())
