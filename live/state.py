"""Live state of the twin's devices: last values, last seen, online/offline, per place.

One :class:`DeviceState` per registered device, indexed by building / storey / space so
the API and rules can ask "what is the state of storey 12 of B3". Updates are applied in
event-time order per device and channel: a reading older than the last applied one on the
same channel never overwrites newer values (the pipeline dead-letters it as
``out_of_order``).

Invariants: ``last_ts`` only grows per channel; ``online`` turns False on a ``status``
``online: false`` (the device's last will) or after the kind's ``offline_after_s`` without
any message, and True again on the next message.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from live.kinds import KINDS
from live.payload import Reading
from live.registry import DeviceInfo, DeviceRegistry

__all__ = ["DeviceState", "LiveState", "scope_of"]


def scope_of(st: "DeviceState") -> tuple[str, str] | None:
    """The place a device's combination rules group by: its space, else its storey."""
    if st.space:
        return ("space", st.space)
    if st.storey:
        return ("storey", st.storey)
    return None


@dataclass
class DeviceState:
    """The live state of one device (times are epoch seconds, UTC)."""

    device_id: str
    kind: str
    building: str | None
    storey: str | None
    space: str | None
    values: dict[str, Any] = field(default_factory=dict)
    last_ts: float | None = None
    last_seen: float | None = None
    online: bool | None = None
    last_event: str | None = None
    channel_ts: dict[str, float] = field(default_factory=dict)
    seq: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready record (API and WebSocket snapshot)."""
        return {
            "device_id": self.device_id, "kind": self.kind, "building": self.building,
            "storey": self.storey, "space": self.space, "values": dict(self.values),
            "last_ts": self.last_ts, "last_seen": self.last_seen, "online": self.online,
            "last_event": self.last_event, "seq": self.seq,
        }


class LiveState:
    """Thread-safe live state of every registered device of a site.

    Parameters
    ----------
    registry : DeviceRegistry
        Devices and their places in the twin.
    """

    def __init__(self, registry: DeviceRegistry) -> None:
        self.registry = registry
        self._lock = threading.RLock()
        self._states: dict[str, DeviceState] = {
            d.id: DeviceState(d.id, d.kind, d.building, d.storey, d.space) for d in registry
        }

    def get(self, device_id: str) -> DeviceState | None:
        """Return the state of a device (None when not registered)."""
        return self._states.get(device_id)

    def is_out_of_order(self, reading: Reading) -> bool:
        """Whether ``reading`` is older than the last one applied on its device and channel."""
        st = self._states.get(reading.device_id)
        last = st.channel_ts.get(reading.channel) if st else None
        return last is not None and reading.ts < last

    def apply(self, reading: Reading) -> tuple[DeviceState, dict[str, Any]]:
        """Apply a validated reading; return the state and the values that changed.

        ``changed`` also holds ``"online"`` when the online flag flipped.
        """
        with self._lock:
            st = self._states[reading.device_id]
            changed: dict[str, Any] = {}
            for k, v in reading.values.items():
                if st.values.get(k) != v:
                    changed[k] = v
                st.values[k] = v
            online = reading.online if reading.channel == "status" else True
            if st.online != online:
                changed["online"] = online
            st.online = online
            if reading.event:
                st.last_event = reading.event
            st.channel_ts[reading.channel] = reading.ts
            st.last_ts = max(st.last_ts or reading.ts, reading.ts)
            st.last_seen = max(st.last_seen or reading.received_at, reading.received_at)
            st.seq = reading.seq
            return st, changed

    def restore(self, device_id: str, *, values: dict, last_ts: float | None,
                last_seen: float | None, online: bool | None) -> None:
        """Load a persisted state (service restart); unknown devices are ignored."""
        st = self._states.get(device_id)
        if st is None:
            return
        with self._lock:
            st.values = dict(values or {})
            st.last_ts = last_ts
            st.last_seen = last_seen
            st.online = online
            if last_ts is not None:
                st.channel_ts["telemetry"] = last_ts

    def check_offline(self, now: float) -> list[DeviceState]:
        """Mark devices silent for longer than their kind's timeout offline; return them."""
        flipped = []
        with self._lock:
            for st in self._states.values():
                spec = KINDS.get(st.kind)
                if spec is None or st.online is not True or st.last_seen is None:
                    continue
                if now - st.last_seen > spec.offline_after_s:
                    st.online = False
                    flipped.append(st)
        return flipped

    def select(self, *, building: str | None = None, storey: str | None = None,
               space: str | None = None, kind: str | None = None) -> list[DeviceState]:
        """States filtered by place and kind (each filter may be a comma-separated list)."""
        def ok(value, wanted):
            return wanted is None or value in set(wanted.split(","))
        with self._lock:
            return [s for s in self._states.values()
                    if ok(s.building, building) and ok(s.storey, storey)
                    and ok(s.space, space) and ok(s.kind, kind)]

    def in_space(self, space_id: str) -> list[DeviceState]:
        """States of every device in one space."""
        return [s for s in self._states.values() if s.space == space_id]

    def in_scope(self, scope: tuple[str, str]) -> list[DeviceState]:
        """Devices of a place: ``("space", id)``, or ``("storey", id)`` for devices placed
        on a storey without a space (see :func:`scope_of`)."""
        return [s for s in self._states.values() if scope_of(s) == scope]

    def info(self, device_id: str) -> DeviceInfo | None:
        """The register record of a device."""
        return self.registry.get(device_id)
