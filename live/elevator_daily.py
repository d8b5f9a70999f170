"""Elevator telemetry → daily rows (the telemetry CSV contract of ``docs/elevators.md``).

:class:`ElevatorDays` is an accumulator: feed it the messages of elevator controllers one
at a time with :meth:`ElevatorDays.apply` (a durable consumer does this as readings arrive;
:func:`daily_rows` does it over stored history), then read the rows of a local day with
:meth:`ElevatorDays.rows`. It is a pure function of the messages it was given: nothing here
talks to a database, a broker or the clock.

Rules, per elevator (the controller's device id) and local day (the site's time zone):

- ``trips``, ``door_cycles``: sums of the increases of the cumulative counters between
  consecutive readings (in event time), each increase counted on the local day of the
  later reading. A counter that falls was reset (controller replaced or restarted): the new
  register is taken to have started from 0 right after the previous reading, so the
  increase is the new value itself. The first reading ever seen is only a baseline.
  A reading older than the newest one already applied for that counter is ignored for
  the counter (it cannot be placed) but its events and diagnostics count.
- ``door_reopens``, ``fault_count``: number of ``door_reopen`` and ``fault`` events.
- ``vibration_rms``, ``leveling_error_mm``, ``motor_temp_c``: mean of the values reported
  that day (telemetry and events alike); ``None`` when none was.
- A message delivered twice (same device, channel, ``ts``, ``seq`` and event) counts once.
- ``door_reopens`` is capped at ``door_cycles`` (the contract's invariant; a reopen logged
  on a day whose counter readings were lost).

``age_years`` and ``days_since_maintenance`` are not in the messages: the caller adds them
(:func:`finish_row`) from the register and the work orders.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping
from zoneinfo import ZoneInfo

from live.kinds import KINDS

__all__ = ["COUNTERS", "DIAGNOSTICS", "FAULT_EVENT", "REOPEN_EVENT", "ROW_COLUMNS", "ElevatorDays",
           "daily_rows", "finish_row"]

#: Cumulative counters of the controller, summed as daily increases.
COUNTERS = ("trips", "door_cycles")
#: Diagnostics averaged over the day.
DIAGNOSTICS = ("vibration_rms", "leveling_error_mm", "motor_temp_c")
#: Events counted as door reopens and as faults.
REOPEN_EVENT = "door_reopen"
FAULT_EVENT = "fault"
#: Columns of a daily row, in the order of the telemetry CSV contract.
ROW_COLUMNS = ("elevator_id", "date", "trips", "door_cycles", "door_reopens", "fault_count",
               "vibration_rms", "leveling_error_mm", "motor_temp_c", "age_years",
               "days_since_maintenance")

_ELEVATOR = KINDS["elevator_controller"]
for _name in COUNTERS + DIAGNOSTICS:
    _ELEVATOR.field(_name)  # KeyError at import if the kind table lost one
for _name in (REOPEN_EVENT, FAULT_EVENT):
    if _name not in _ELEVATOR.events:
        raise KeyError(f"kind 'elevator_controller' has no event {_name!r}")


@dataclass
class _Day:
    counts: dict[str, int] = field(default_factory=lambda: {c: 0 for c in COUNTERS})
    reopens: int = 0
    faults: int = 0
    sums: dict[str, float] = field(default_factory=lambda: {d: 0.0 for d in DIAGNOSTICS})
    n: dict[str, int] = field(default_factory=lambda: {d: 0 for d in DIAGNOSTICS})


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


class ElevatorDays:
    """Daily aggregates of elevator controllers, fed one message at a time.

    Parameters
    ----------
    timezone : str or tzinfo
        The site's time zone (``Asia/Shanghai``): days are local days.
    elevators : iterable of str, optional
        Device ids to aggregate; messages of other devices are ignored. None: all.

    Notes
    -----
    :meth:`apply` is idempotent per message (a redelivered message counts once), so an
    at-least-once consumer may replay from its last saved position.
    """

    def __init__(self, timezone: str | dt.tzinfo = "UTC", elevators: Iterable[str] | None = None) -> None:
        self.tz = ZoneInfo(timezone) if isinstance(timezone, str) else timezone
        self.elevators = None if elevators is None else set(elevators)
        self._days: dict[tuple[str, dt.date], _Day] = {}
        self._last: dict[tuple[str, str], tuple[float, float]] = {}   # (device, counter) -> (ts, value)
        self._seen: dict[tuple[str, dt.date], set[tuple]] = {}

    def day_of(self, ts: float) -> dt.date:
        """Return the local date of an epoch time (s)."""
        return dt.datetime.fromtimestamp(ts, self.tz).date()

    def apply(self, device_id: str, ts: float, channel: str, values: Mapping[str, Any] | None,
              event: str | None = None, seq: int | None = None) -> bool:
        """Account one message; return False when it was ignored (other device, duplicate).

        ``values``: the payload's fields (without ``ts``, ``seq``, ``event``); ``channel``
        ``telemetry``, ``event`` or ``status`` (status messages carry nothing counted).
        """
        if not math.isfinite(ts):
            raise ValueError(f"ts={ts!r} of {device_id!r} is not a finite epoch time")
        if self.elevators is not None and device_id not in self.elevators:
            return False
        if channel == "status":
            return False
        where = (device_id, self.day_of(ts))
        seen = self._seen.setdefault(where, set())
        key = (channel, float(ts), seq, event)
        if key in seen:
            return False
        seen.add(key)
        values = values or {}
        day = self._days.setdefault(where, _Day())
        for name in COUNTERS:
            v = _number(values.get(name))
            if v is not None:
                self._counter(day, device_id, name, float(ts), v)
        for name in DIAGNOSTICS:
            v = _number(values.get(name))
            if v is not None:
                day.sums[name] += v
                day.n[name] += 1
        if event == REOPEN_EVENT:
            day.reopens += 1
        elif event == FAULT_EVENT:
            day.faults += 1
        return True

    def _counter(self, day: _Day, device_id: str, name: str, ts: float, value: float) -> None:
        last = self._last.get((device_id, name))
        if last is not None and ts <= last[0]:
            return  # older than (or as old as) the newest reading applied: cannot be placed
        self._last[(device_id, name)] = (ts, value)
        if last is None:
            return  # the first reading is the baseline
        increase = value - last[1] if value >= last[1] else value  # a fall is a reset to 0
        day.counts[name] += int(round(increase))

    def forget_before(self, date: dt.date) -> None:
        """Drop the days before ``date`` (a long-running consumer keeps memory bounded);
        the counters' last readings are kept."""
        for where in [w for w in self._days if w[1] < date]:
            del self._days[where]
            self._seen.pop(where, None)

    def elevators_on(self, date: dt.date) -> list[str]:
        """Elevators with at least one message on ``date``, sorted."""
        return sorted(e for e, d in self._days if d == date)

    def rows(self, date: dt.date) -> list[dict]:
        """The rows of ``date`` (one per elevator that reported), without age and maintenance."""
        out = []
        for eid in self.elevators_on(date):
            d = self._days[(eid, date)]
            row = {"elevator_id": eid, "date": date.isoformat(), "trips": d.counts["trips"],
                   "door_cycles": d.counts["door_cycles"],
                   "door_reopens": min(d.reopens, d.counts["door_cycles"]), "fault_count": d.faults}
            for name in DIAGNOSTICS:
                row[name] = d.sums[name] / d.n[name] if d.n[name] else None
            out.append(row)
        return out


def finish_row(row: dict, *, age_years: float | None, days_since_maintenance: int | None) -> dict:
    """Return ``row`` with the two register columns added, in :data:`ROW_COLUMNS` order."""
    full = {**row, "age_years": age_years, "days_since_maintenance": days_since_maintenance}
    return {c: full[c] for c in ROW_COLUMNS}


def daily_rows(messages: Iterable[Mapping[str, Any]], date: dt.date, timezone: str | dt.tzinfo,
               elevators: Iterable[str] | None = None) -> list[dict]:
    """Aggregate stored messages into the rows of one local day.

    ``messages``: mappings with ``device_id``, ``ts``, ``channel``, ``values`` and
    optionally ``event``, ``seq`` (the rows of ``live_telemetry``), in any order: they are
    applied in event-time order. Include the readings before the day (at least the last
    one of each counter) so that the day's first increase is counted.
    """
    acc = ElevatorDays(timezone, elevators)
    for m in sorted(messages, key=lambda m: (float(m["ts"]), m.get("seq") if m.get("seq") is not None else -1)):
        acc.apply(m["device_id"], float(m["ts"]), m["channel"], m.get("values"), m.get("event"), m.get("seq"))
    return acc.rows(date)
