"""Occupancy per building and entrance zone from people counters and gate passes.

An *entrance zone* is the place (space, else storey) of a building where a
``people_counter`` or an ``access_gate`` sits — in a 小区 tower, one unit's ground-floor
lobby. Each zone counts its people as net entries − exits since the last anchor:

- a people counter's ``count_in`` / ``count_out`` are the entries and exits of its period;
  cumulative ``total_in`` / ``total_out`` (counters that report totals) count the
  difference to the device's previous total (a total older than the previous one is
  ignored), and a total that falls is a counter reset: the new register is taken to
  start from 0 right after the previous reading (the difference is the new value);
- a gate's ``pass`` event is one entry, or one exit with ``"direction": "out"`` (access
  controllers log exit-button releases that way); it counts only in a zone without a
  people counter (the counter sees the same people, in both directions). Gate telemetry
  ``passes`` (undirected period totals) is not used;
- a zone never goes below zero: each message applies ``people = max(0, people + in − out)``
  (a burst of exits beyond the count means entries were missed; later entries count up
  from 0);
- **drift correction**: every day at ``anchor_hour`` local time (03:00 by default, when
  nearly every resident is at home and almost nobody passes) each building is re-anchored
  to the register's night-time population (the households register, given by the
  caller), split evenly over its entrance zones (largest remainders), and counting starts
  again from there. Between anchors counters drift (people entering through the garage,
  tailgating, missed counts); the anchor bounds the drift to one day.

A building's ``source``: ``counter`` (or ``gate``, ``counter+gate``) when its zones
counted at least one message since the anchor, else ``register`` (the anchored night-time
population; also for a building without entrance devices).

:class:`Occupancy` is incremental — a consumer calls :meth:`Occupancy.apply` for each
reading, in event-time order, and :meth:`Occupancy.advance` to move the clock on when
nothing arrives; :func:`rebuild` replays stored history into a fresh one.
"""

from __future__ import annotations

import datetime as dt
import math
import threading
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping
from zoneinfo import ZoneInfo

__all__ = ["EntranceDevice", "Occupancy", "ZoneCount", "rebuild", "split_evenly", "total_step",
           "COUNTER_KIND", "GATE_KIND"]

COUNTER_KIND = "people_counter"
GATE_KIND = "access_gate"
_TOTALS = (("total_in", 1), ("total_out", -1))


@dataclass(frozen=True)
class EntranceDevice:
    """A counter or gate at an entrance: its building and zone (space, else storey) id."""

    device_id: str
    kind: str
    building: str
    zone: str


@dataclass
class ZoneCount:
    """People in one entrance zone since the last anchor."""

    id: str
    building: str
    people: int = 0
    has_counter: bool = False
    counted: set = field(default_factory=set)  # kinds that counted since the anchor

    @property
    def source(self) -> str:
        if not self.counted:
            return "register"
        return "+".join(k for k in ("counter", "gate") if k in self.counted)


def total_step(old: float | None, new: float) -> int:
    """Counts between two cumulative totals: ``new − old``; a fall is a reset (the new
    register started from 0 right after ``old``), so the step is ``new``; no ``old``: 0."""
    if old is None:
        return 0
    return int(round(new - old if new >= old else new))


def split_evenly(total: int, n: int) -> list[int]:
    """``total`` people over ``n`` zones: equal shares, the remainder to the first zones."""
    if n <= 0:
        return []
    q, r = divmod(int(total), n)
    return [q + (1 if k < r else 0) for k in range(n)]


class Occupancy:
    """Incremental occupancy of a site's buildings (thread-safe).

    Parameters
    ----------
    devices : iterable of EntranceDevice
        The entrance counters and gates (devices outside a building are not passed).
    night_population : mapping of building id → int
        The register's night-time population per building (the anchor).
    buildings : iterable of str
        Every building to report (those without entrance devices report the register).
    start_ts : float
        Epoch seconds (UTC) the state starts at: anchored as of the last anchor before it.
    tz : str
        Site time zone of the anchor hour.
    anchor_hour : float
        Local hour of the daily re-anchor (0 <= h < 24).

    Invariants: every zone's ``people`` >= 0; the clock only moves forward; readings
    older than the clock's last anchor only update cumulative baselines.
    """

    def __init__(self, devices: Iterable[EntranceDevice], night_population: Mapping[str, int], *,
                 buildings: Iterable[str], start_ts: float, tz: str = "Asia/Shanghai",
                 anchor_hour: float = 3.0) -> None:
        if not (0 <= anchor_hour < 24):
            raise ValueError(f"anchor_hour={anchor_hour} must be in [0, 24)")
        if not math.isfinite(start_ts):
            raise ValueError(f"start_ts={start_ts} must be a finite epoch time")
        self.zone_of: dict[str, ZoneCount] = {}
        self.kind_of: dict[str, str] = {}
        self.zones: dict[str, list[ZoneCount]] = {b: [] for b in buildings}
        by_key: dict[tuple[str, str], ZoneCount] = {}
        for d in devices:
            z = by_key.get((d.building, d.zone))
            if z is None:
                z = by_key[(d.building, d.zone)] = ZoneCount(d.zone, d.building)
                self.zones.setdefault(d.building, []).append(z)
            z.has_counter |= d.kind == COUNTER_KIND
            self.zone_of[d.device_id] = z
            self.kind_of[d.device_id] = d.kind
        self.population = {b: max(0, int(round(night_population.get(b, 0)))) for b in self.zones}
        self.tz = ZoneInfo(tz)
        self.anchor_hour = float(anchor_hour)
        self.totals: dict[tuple[str, str], tuple[float, float]] = {}  # (value, ts)
        self._lock = threading.RLock()
        self.anchor_ts = self.last_anchor(start_ts)
        self.clock = float(start_ts)
        self._anchor()

    # -- time -----------------------------------------------------------------------------
    def last_anchor(self, ts: float) -> float:
        """The latest anchor moment at or before ``ts`` (epoch s)."""
        local = dt.datetime.fromtimestamp(ts, self.tz)
        secs = int(round(self.anchor_hour * 3600.0))
        when = dt.time(secs // 3600, secs % 3600 // 60, secs % 60)
        at = dt.datetime.combine(local.date(), when, tzinfo=self.tz)
        if at > local:
            at = dt.datetime.combine(local.date() - dt.timedelta(days=1), when, tzinfo=self.tz)
        return at.timestamp()

    def _anchor(self) -> None:
        for b, zones in self.zones.items():
            for z, share in zip(zones, split_evenly(self.population.get(b, 0), len(zones))):
                z.people = share
                z.counted = set()

    def advance(self, ts: float) -> bool:
        """Move the clock to ``ts``; re-anchor when an anchor moment passed. Return whether it did."""
        with self._lock:
            if ts <= self.clock:
                return False
            self.clock = float(ts)
            latest = self.last_anchor(ts)
            if latest > self.anchor_ts:
                self.anchor_ts = latest
                self._anchor()
                return True
            return False

    # -- readings -------------------------------------------------------------------------
    def apply(self, reading: Any) -> bool:
        """Apply one reading (``device_id``, ``channel``, ``ts``, ``values``, ``event``).

        Return whether it changed a count. Readings of other devices are ignored.
        """
        zone = self.zone_of.get(reading.device_id)
        if zone is None:
            return False
        with self._lock:
            self.advance(reading.ts)
            kind = self.kind_of[reading.device_id]
            values = reading.values or {}
            if kind == COUNTER_KIND:
                delta = self._counter_delta(reading.device_id, values, reading.ts)
                source = "counter"
            elif reading.channel == "event" and reading.event == "pass" and not zone.has_counter:
                delta = -1 if values.get("direction") == "out" else 1
                source = "gate"
            else:
                return False
            if delta is None or reading.ts < self.anchor_ts:
                return False
            zone.people = max(0, zone.people + delta)
            zone.counted.add(source)
            return True

    def _counter_delta(self, device_id: str, values: Mapping[str, Any], ts: float) -> int | None:
        delta, seen = 0, False
        if "count_in" in values or "count_out" in values:
            delta += int(values.get("count_in") or 0) - int(values.get("count_out") or 0)
            seen = True
        for name, sign in _TOTALS:
            if name not in values or values[name] is None:
                continue
            new = float(values[name])
            old, old_ts = self.totals.get((device_id, name), (None, -math.inf))
            if ts < old_ts:
                continue  # a late total: older than the baseline, it says nothing new
            self.totals[(device_id, name)] = (new, ts)
            if old is None:
                continue  # the first total only sets the baseline
            delta += sign * total_step(old, new)
            seen = True
        return delta if seen else None

    # -- output ---------------------------------------------------------------------------
    def snapshot(self, building: str | None = None) -> dict[str, Any]:
        """``{"ts", "anchor_ts", "buildings": [{"id", "people", "source", "zones": [...]}]}``.

        ``ts`` and ``anchor_ts`` are epoch seconds (the clock and the last anchor); each
        zone is ``{"id", "people", "source"}``.
        """
        with self._lock:
            out = []
            for b in sorted(self.zones):
                if building is not None and b != building:
                    continue
                zones = self.zones[b]
                if zones:
                    people = sum(z.people for z in zones)
                    kinds = set().union(*(z.counted for z in zones))
                    source = "+".join(k for k in ("counter", "gate") if k in kinds) or "register"
                else:
                    people, source = self.population.get(b, 0), "register"
                out.append({"id": b, "people": people, "source": source,
                            "zones": [{"id": z.id, "people": z.people, "source": z.source} for z in zones]})
            return {"ts": self.clock, "anchor_ts": self.anchor_ts, "buildings": out}


@dataclass(frozen=True)
class _Row:
    device_id: str
    channel: str
    ts: float
    values: dict
    event: str | None


def rebuild(occupancy: Occupancy, rows: Iterable[Mapping[str, Any]], *, now: float | None = None) -> Occupancy:
    """Replay stored readings (``live_telemetry`` rows: ``device_id, channel, ts, values,
    event``) into ``occupancy`` in event-time order, then advance its clock to ``now``."""
    ordered = sorted(rows, key=lambda r: (r["ts"], r.get("seq", -1)))
    for r in ordered:
        occupancy.apply(_Row(r["device_id"], r["channel"], float(r["ts"]), r.get("values") or {}, r.get("event")))
    if now is not None:
        occupancy.advance(now)
    return occupancy
