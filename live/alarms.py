"""Alarms and their lifecycle: raised → acknowledged → cleared, deduplicated by key.

An :class:`Alarm` is keyed by rule and place (``rule_id:device_id`` for device rules,
``rule_id:space:<id>`` for combinations in one space). While an alarm with a key is open
(raised or acknowledged), the same condition firing again only counts an occurrence: the
alarm is not raised twice. Once cleared, the next firing raises a new alarm.

Lifecycle (states of :attr:`Alarm.state`):

- ``raised``: the rule fired; operators see it;
- ``acknowledged``: an operator took it (``acknowledged_by``, ``acknowledged_at``, note);
- ``cleared``: the condition went back to normal. An alarm may clear before anybody
  acknowledged it; it can still be acknowledged afterwards (state stays ``cleared``).

Extension points: :class:`WorkOrderSink` (the work-order service opens an order for an
alarm whose rule asks for one) and the drill suggestion attached to alarms whose rule has
``drill: true``.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Protocol, runtime_checkable

from live.errors import AlarmError

__all__ = ["ALARM_STATES", "Alarm", "AlarmBook", "DrillSuggestion", "WorkOrderRequest", "WorkOrderSink"]

ALARM_STATES = ("raised", "acknowledged", "cleared")


@dataclass
class DrillSuggestion:
    """A suggested evacuation drill for the building an alarm is in.

    ``blocked_spaces`` are the spaces the incident makes unusable (the alarm's space), for a
    planner to mark blocked in the drill scenario.
    """

    building: str
    storey: str | None
    blocked_spaces: list[str]
    reason: str
    alarm_id: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class WorkOrderRequest:
    """What an alarm asks the work-order service to open."""

    title: str
    category: str
    priority: str
    description: str
    device_id: str | None
    building: str | None
    storey: str | None
    space: str | None
    alarm_id: str


@runtime_checkable
class WorkOrderSink(Protocol):
    """Opens a work order for an alarm; the ops service implements it.

    ``open_work_order`` returns the new order's id (or None when none was opened). It is
    called once per raised alarm whose rule has a ``work_order`` block, from the ingestion
    thread: implementations must be quick or hand the work to a queue.
    """

    def open_work_order(self, request: WorkOrderRequest) -> str | None: ...


@dataclass
class Alarm:
    """One alarm (times are epoch seconds, UTC)."""

    id: str
    rule_id: str
    key: str
    severity: str
    message: str
    raised_at: float
    last_at: float
    device_id: str | None = None
    building: str | None = None
    storey: str | None = None
    space: str | None = None
    state: str = "raised"
    occurrences: int = 1
    acknowledged_at: float | None = None
    acknowledged_by: str | None = None
    ack_note: str | None = None
    cleared_at: float | None = None
    work_order_id: str | None = None
    drill: dict | None = None
    #: The work order the rule asks for (``title, category, priority, description``), kept
    #: on the record for the alarm → work order consumer when no sink opens it at once.
    work_order: dict | None = None
    #: The text in Chinese and in English (the rule's ``message_zh`` / ``message_en``, else
    #: None); ``message`` is the rule's own text, unchanged.
    message_zh: str | None = None
    message_en: str | None = None

    @property
    def is_open(self) -> bool:
        """Raised or acknowledged (not cleared)."""
        return self.state != "cleared"

    def to_record(self) -> dict[str, Any]:
        """Plain record (database row, API and WebSocket)."""
        return asdict(self)


@dataclass
class AlarmBook:
    """The alarms of a site with deduplication and the lifecycle transitions.

    Parameters
    ----------
    on_change : callable, optional
        Called with ``(alarm, transition)`` after every transition (``raised``,
        ``repeated``, ``acknowledged``, ``cleared``): persistence and fan-out hook in here.
    work_orders : WorkOrderSink, optional
        Receives a :class:`WorkOrderRequest` when an alarm with a work-order rule is raised
        (synchronously, on the raising thread). Without it the request is kept on the
        alarm (``Alarm.work_order``) for a durable consumer to open the order from the
        stored record (what the service does).
    """

    on_change: Callable[[Alarm, str], None] | None = None
    work_orders: WorkOrderSink | None = None
    _alarms: dict[str, Alarm] = field(default_factory=dict)
    _open: dict[str, str] = field(default_factory=dict)
    _lock: threading.RLock = field(default_factory=threading.RLock)

    def load(self, records) -> None:
        """Restore alarms from records (service restart)."""
        with self._lock:
            for rec in records:
                a = Alarm(**{k: rec[k] for k in Alarm.__dataclass_fields__ if k in rec})
                self._alarms[a.id] = a
                if a.is_open:
                    self._open[a.key] = a.id

    def open_keys(self) -> list[str]:
        """Keys of the open alarms."""
        with self._lock:
            return list(self._open)

    def open_for(self, key: str) -> Alarm | None:
        """The open alarm with this key, if any."""
        aid = self._open.get(key)
        return self._alarms.get(aid) if aid else None

    def raise_(self, *, rule_id: str, key: str, severity: str, message: str, at: float,
               place: dict[str, Any], work_order: dict | None = None, drill: bool = False,
               messages: dict[str, str | None] | None = None) -> Alarm:
        """Raise an alarm, or count an occurrence of the open alarm with the same key."""
        with self._lock:
            existing = self.open_for(key)
            if existing is not None:
                existing.occurrences += 1
                existing.last_at = max(existing.last_at, at)
                self._emit(existing, "repeated")
                return existing
            aid = hashlib.sha1(f"{key}|{at!r}".encode()).hexdigest()[:16]
            alarm = Alarm(id=aid, rule_id=rule_id, key=key, severity=severity, message=message,
                          raised_at=at, last_at=at, **place,
                          message_zh=(messages or {}).get("zh"), message_en=(messages or {}).get("en"))
            if drill and alarm.building:
                alarm.drill = DrillSuggestion(
                    building=alarm.building, storey=alarm.storey,
                    blocked_spaces=[alarm.space] if alarm.space else [],
                    reason=f"{rule_id}: {message}", alarm_id=aid).to_dict()
            self._alarms[aid] = alarm
            self._open[key] = aid
        if work_order is not None and self.work_orders is None:
            alarm.work_order = {"title": message, "category": str(work_order.get("category", "公共设施")),
                                "priority": str(work_order.get("priority", "urgent")),
                                "description": f"alarm {aid} ({rule_id}, {severity})"}
        elif work_order is not None:
            req = WorkOrderRequest(
                title=message, category=str(work_order.get("category", "公共设施")),
                priority=str(work_order.get("priority", "urgent")),
                description=f"alarm {aid} ({rule_id}, {severity})", device_id=alarm.device_id,
                building=alarm.building, storey=alarm.storey, space=alarm.space, alarm_id=aid)
            alarm.work_order_id = self.work_orders.open_work_order(req)
        self._emit(alarm, "raised")
        return alarm

    def clear(self, key: str, at: float) -> Alarm | None:
        """Clear the open alarm with this key (no-op when none is open)."""
        with self._lock:
            alarm = self.open_for(key)
            if alarm is None:
                return None
            alarm.state = "cleared"
            alarm.cleared_at = at
            del self._open[key]
        self._emit(alarm, "cleared")
        return alarm

    def acknowledge(self, alarm_id: str, *, by: str, at: float, note: str | None = None) -> Alarm:
        """Acknowledge an alarm; raise :class:`AlarmError` if unknown or already acknowledged."""
        if not by or not by.strip():
            raise AlarmError("by='' must name who acknowledges")
        with self._lock:
            alarm = self._alarms.get(alarm_id)
            if alarm is None:
                raise AlarmError(f"no alarm with id {alarm_id!r}")
            if alarm.acknowledged_at is not None:
                raise AlarmError(f"alarm {alarm_id!r} was already acknowledged by "
                                 f"{alarm.acknowledged_by!r} at {alarm.acknowledged_at}")
            alarm.acknowledged_at, alarm.acknowledged_by, alarm.ack_note = at, by.strip(), note
            if alarm.state == "raised":
                alarm.state = "acknowledged"
        self._emit(alarm, "acknowledged")
        return alarm

    def get(self, alarm_id: str) -> Alarm | None:
        return self._alarms.get(alarm_id)

    def list(self, state: str | None = None) -> list[Alarm]:
        """Alarms, newest first, optionally in one state (``open`` = raised or acknowledged)."""
        with self._lock:
            items = list(self._alarms.values())
        if state == "open":
            items = [a for a in items if a.is_open]
        elif state is not None:
            items = [a for a in items if a.state == state]
        return sorted(items, key=lambda a: a.raised_at, reverse=True)

    def _emit(self, alarm: Alarm, transition: str) -> None:
        if self.on_change is not None:
            self.on_change(alarm, transition)
