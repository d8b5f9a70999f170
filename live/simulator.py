"""Device simulator: realistic message streams for every registered device.

:meth:`DeviceSimulator.messages` is a pure function of (register, seed, start time,
duration, incidents): it yields ``(t_s, topic, payload)`` in time order. :meth:`run`
publishes them in real time, ``speed`` times faster than simulated time; each payload's
``ts`` is then the wall-clock publish time so receivers accept it, while load curves follow
the simulated time of day.

Behaviour per simulator profile (each kind's ``sim_profile`` and periods in the kind table,
:mod:`twin.kinds`; a kind with the ``random`` profile draws each field inside its range):

- meters: cumulative readings every ``report_period_s`` with a daily load curve (morning
  7–9 h and evening 18–22 h peaks; reference: 1,440 meters at 15 min ≈ 1.6 msg/s);
- people counters / gates / barriers: Poisson counts with morning (out) and evening (in)
  peaks;
- elevator controllers: trips (floor, direction, door cycles, load), a periodic status, rare
  door reopenings and faults (about 2 per elevator-year);
- smoke / leak / temperature sensors: heartbeats, diurnal temperature, rare false alarms
  and leaks.

Incidents (``--scenario``, comma separated): ``fire:B3:12`` (smoke and a temperature rise on
storey 12 of B3), ``leak:B1:2``, ``trapped:B3`` (passenger trapped in an elevator of B3),
``offline:DEVICE_ID``; an optional ``@SECONDS`` suffix delays the start (default 60 s).
"""

from __future__ import annotations

import heapq
import itertools
import json
import math
import re
import time
from dataclasses import dataclass, field
from datetime import date, datetime, time as dtime, timedelta, timezone, tzinfo
from typing import Callable, Iterable, Iterator

import numpy as np

from live.errors import ScenarioError
from live.kinds import KINDS
from live.registry import DeviceInfo, DeviceRegistry, topic_for

__all__ = ["DeviceSimulator", "ElevatorDay", "ElevatorPlan", "Incident", "parse_incidents", "daily_load"]

_TZ = timezone(timedelta(hours=8))  # site local time for load curves (Asia/Shanghai)


def daily_load(hour: float) -> float:
    """Relative household load (mean ≈ 1) at a local hour: night low, 7–9 h and 18–22 h peaks."""
    morning = 0.9 * math.exp(-((hour - 7.5) ** 2) / (2 * 0.9 ** 2))
    evening = 1.4 * math.exp(-((hour - 20.0) ** 2) / (2 * 1.6 ** 2))
    return 0.45 + morning + evening


def _traffic(hour: float, direction: str) -> float:
    """People per minute through a counter: out in the morning, in in the evening."""
    am = math.exp(-((hour - 8.0) ** 2) / (2 * 0.8 ** 2))
    pm = math.exp(-((hour - 18.5) ** 2) / (2 * 1.2 ** 2))
    base = 0.3 if 6 <= hour <= 23 else 0.05
    return base + (6.0 * am + 2.0 * pm if direction == "out" else 2.0 * am + 6.0 * pm)


@dataclass(frozen=True)
class ElevatorDay:
    """One day in the life of an elevator, as a degradation process sees it.

    Counts of the day (``trips``, ``door_cycles``, ``door_reopens`` <= ``door_cycles``,
    ``fault_count``: fault codes logged), the day's mean diagnostics (``vibration_rms``
    m/s², ``leveling_error_mm`` mm, ``motor_temp_c`` °C) and whether it breaks down
    (``failure``: a ``fault`` event, out of service for ``repair_h`` hours, then
    ``fault_cleared``).
    """

    trips: int
    door_cycles: int
    door_reopens: int
    fault_count: int
    vibration_rms: float
    leveling_error_mm: float
    motor_temp_c: float
    failure: bool = False
    repair_h: float = 4.0


#: ``(device_id, local date) -> ElevatorDay`` (None: no plan that day).
ElevatorPlan = Callable[[str, date], "ElevatorDay | None"]

#: Fault code logged when a planned breakdown takes an elevator out of service.
BREAKDOWN_CODE = 900

#: Healthy diagnostics of an elevator without a plan: vibration (m/s²), leveling error (mm),
#: motor temperature (°C).
_HEALTHY = (0.12, 2.5, 45.0)


@dataclass
class Incident:
    """An injected incident: ``kind`` (fire, leak, trapped, offline), place and start (s)."""

    kind: str
    building: str | None
    storey: str | None
    device: str | None
    start_s: float
    devices: list[str] = field(default_factory=list)


#: Simulator profiles (kind table) of the devices that carry each incident.
_INCIDENT_PROFILES = {"fire": ("smoke", "climate"), "leak": ("leak",), "trapped": ("elevator",)}

_INCIDENT_RE = re.compile(r"^(fire|leak|trapped|offline):([^:@]+)(?::([^:@]+))?(?:@(\d+(?:\.\d+)?))?$")


def _number(text: str) -> int | None:
    """The storey number in a name like F12, 12F, L12, 12层, B3-F12 (last number), or None."""
    digits = re.findall(r"\d+", text)
    return int(digits[-1]) if digits else None


def _match_storey(registry: DeviceRegistry, building: str, token: str) -> str:
    """Find a storey of ``building`` by id, name (F12) or number (12) of its name."""
    named = registry.storeys.get(building)
    if not named:  # register without the twin's storeys: device storey ids stand in for names
        named = sorted({(d.storey, d.storey) for d in registry if d.building == building and d.storey})
    if not named:
        raise ScenarioError(f"building={building!r} has no storeys")
    for sid, name in named:
        if token == sid or token.lower() == (name or "").lower():
            return sid
    if token.isdigit():
        for sid, name in named:
            if name and _number(name) == int(token):
                return sid
    shown = ", ".join(name or sid for sid, name in named[:6])
    raise ScenarioError(f"storey={token!r} of building {building!r} not found (storeys: {shown}...)")


def parse_incidents(spec: str | None, registry: DeviceRegistry) -> list[Incident]:
    """Parse ``fire:B3:12,leak:B1:2@120`` against the register.

    Raises
    ------
    ScenarioError
        Unknown syntax, building, storey or device, or no device to carry the incident.
    """
    if not spec:
        return []
    buildings = {d.building for d in registry if d.building} | set(registry.storeys)
    out = []
    for part in [p.strip() for p in spec.split(",") if p.strip()]:
        m = _INCIDENT_RE.match(part)
        if not m:
            raise ScenarioError(f"scenario={part!r} must look like fire:B3:12, leak:B1:2, trapped:B3 or offline:DEVICE[@s]")
        kind, where, storey_token, delay = m.groups()
        start = float(delay) if delay else 60.0
        if kind == "offline":
            if where not in registry:
                raise ScenarioError(f"scenario={part!r}: device {where!r} is not registered")
            out.append(Incident(kind, None, None, where, start, [where]))
            continue
        if where not in buildings:
            raise ScenarioError(f"scenario={part!r}: building={where!r} is not in the site")
        storey = _match_storey(registry, where, storey_token) if storey_token else None
        want = _INCIDENT_PROFILES[kind]
        devs = [d.id for d in registry if d.building == where and d.kind in KINDS
                and KINDS[d.kind].sim_profile in want and (storey is None or d.storey == storey)]
        if kind == "trapped":
            devs = devs[:1]
        if not devs:
            kinds = sorted(k.name for k in KINDS.values() if k.sim_profile in want)
            raise ScenarioError(f"scenario={part!r}: no {' / '.join(kinds)} registered there")
        out.append(Incident(kind, where, storey, None, start, devs))
    return out


def _random_values(kind, st: dict, rng, period_s: float) -> dict:
    """One report of a kind without a dedicated generator: each field drawn inside its range.

    Floats uniform over ``[min, max]`` (a missing bound is 0 / min + 100), integers alike,
    booleans false (a healthy device), enums their first choice; a counter field grows by
    a uniform step of up to 1 per minute.
    """
    out: dict = {}
    for f in kind.fields:
        lo = 0.0 if f.min is None else float(f.min)
        hi = lo + 100.0 if f.max is None else float(f.max)
        if f.counter:
            st[f.name] = min(hi, st.get(f.name, lo) + float(rng.uniform(0, period_s / 60)))
            out[f.name] = int(st[f.name]) if f.type == "int" else round(st[f.name], 4)
        elif f.type == "bool":
            out[f.name] = False
        elif f.type == "enum":
            out[f.name] = f.choices[0]
        elif f.type == "int":
            out[f.name] = int(rng.integers(math.ceil(lo), math.floor(hi) + 1))
        else:
            out[f.name] = round(float(rng.uniform(lo, hi)), 4)
    return out


_WEIGHTS: list[np.ndarray] = []


def _minute_weights() -> np.ndarray:
    """Probability of each minute of the day for a trip: the daily load curve, normalised."""
    if not _WEIGHTS:
        w = np.array([daily_load(m / 60) for m in range(1440)])
        _WEIGHTS.append(w / w.sum())
    return _WEIGHTS[0]


def _diagnostics(vibration_rms: float, leveling_error_mm: float, motor_temp_c: float, rng) -> dict:
    """One run's diagnostics around the day's means (zero-mean noise, clipped at 0)."""
    return {"vibration_rms": round(max(0.0, vibration_rms * (1 + 0.1 * float(rng.standard_normal()))), 4),
            "leveling_error_mm": round(max(0.0, leveling_error_mm * (1 + 0.1 * float(rng.standard_normal()))), 3),
            "motor_temp_c": round(motor_temp_c + 1.0 * float(rng.standard_normal()), 2)}


class DeviceSimulator:
    """Generates the message streams of a site's devices.

    Parameters
    ----------
    registry : DeviceRegistry
    seed : int
        Random seed: the same seed, start and incidents give the same messages.
    incidents : str or list of Incident
    elevator_plan : callable, optional
        ``(device_id, local date) -> ElevatorDay or None``: the day an elevator controller
        lives through (a degradation process, e.g. the fleet simulator's; ``services``
        wires it). Its trips, door cycles, reopens, faults, diagnostics and a breakdown are
        streamed exactly; without a plan (or on a day it returns None) trips are random.
    heartbeats : bool
        Elevator controllers send a ``status`` heartbeat every ``period_s`` (30 s) and
        report their trips with it; False (accelerated runs) reports at each trip instead.
    kinds : iterable of str, optional
        Simulate only devices of these kinds.
    tz : tzinfo
        Site time zone of the load curves and the plan's days.
    """

    def __init__(self, registry: DeviceRegistry, *, seed: int = 0, incidents: str | list[Incident] | None = None,
                 elevator_plan: ElevatorPlan | None = None, heartbeats: bool = True,
                 kinds: Iterable[str] | None = None, tz: tzinfo = _TZ) -> None:
        self.registry = registry
        self.seed = seed
        self.incidents = parse_incidents(incidents, registry) if isinstance(incidents, (str, type(None))) else incidents
        wanted = None if kinds is None else set(kinds)
        self.devices = [d for d in registry if d.kind in KINDS and KINDS[d.kind].sim_profile is not None
                        and (wanted is None or d.kind in wanted)]
        self.elevator_plan = elevator_plan
        self.heartbeats = heartbeats
        self.tz = tz

    # -- deterministic stream -------------------------------------------------------------
    def messages(self, start_ts: float, duration_s: float) -> Iterator[tuple[float, str, dict]]:
        """Yield ``(t, topic, payload)`` for ``[start_ts, start_ts + duration_s)`` in time order."""
        rng = np.random.default_rng(self.seed)
        order = itertools.count()
        self._order = order
        heap: list = []
        states: dict[str, dict] = {}
        for i, dev in enumerate(self.devices):
            kind = KINDS[dev.kind]
            period = float(kind.sim_param("period_s", kind.report_period_s))
            first = start_ts + float(rng.uniform(0, min(period, 60.0)))
            heapq.heappush(heap, (first, next(order), i, "report"))
            states[dev.id] = self._initial(dev, rng)
        for inc in self.incidents:
            heapq.heappush(heap, (start_ts + inc.start_s, next(order), -1, inc))
        end = start_ts + duration_s
        offline: set[str] = set()
        burning: dict[str, float] = {}
        leaking: set[str] = set()
        while heap:
            t, _o, i, what = heapq.heappop(heap)
            if t >= end:
                break
            if isinstance(what, Incident):
                yield from self._start_incident(what, t, states, offline, burning, leaking, heap)
                continue
            dev = self.devices[i]
            if dev.id in offline:
                continue
            st = states[dev.id]
            for channel, body, next_dt in self._step(dev, st, t, rng, burning, leaking):
                if body is not None:
                    st["seq"] += 1
                    yield t, topic_for(self.registry.site, dev.id, channel), {"ts": round(t, 3), "seq": st["seq"], **body}
                if next_dt is not None:
                    heapq.heappush(heap, (t + next_dt, next(order), i, "report"))

    def _initial(self, dev: DeviceInfo, rng) -> dict:
        kind = KINDS[dev.kind]
        profile = kind.sim_profile
        st = {"seq": 0, "load": float(rng.uniform(0.5, 1.5))}
        if profile == "energy_meter":
            st["energy_kwh"] = float(rng.uniform(1000, 20000))
        elif profile == "volume_meter":
            st["volume_m3"] = float(rng.uniform(50, 2000))
        elif profile == "elevator":
            st.update(floor=1, trips=int(rng.integers(1000, 100000)), door_cycles=0, next_trip=0.0)
            st["door_cycles"] = st["trips"] * 2
        elif profile == "parking_barrier":
            st["occupied"] = int(rng.integers(50, 150))
        elif profile == "climate":
            st["offset"] = float(rng.normal(0, 0.7))
        elif profile == "random":
            st.update({f.name: float(f.min or 0.0) for f in kind.fields if f.counter})
        return st

    def _step(self, dev: DeviceInfo, st: dict, t: float, rng, burning, leaking):
        """Return [(channel, body or None, next_dt or None)] for a device report at ``t``.

        The kind's ``sim_profile`` (:mod:`twin.kinds`) picks the generator.
        """
        kind = KINDS[dev.kind]
        local = datetime.fromtimestamp(t, _TZ)
        hour = local.hour + local.minute / 60
        period = kind.report_period_s
        k = kind.sim_profile
        if k == "energy_meter":
            power = max(0.02, kind.sim_param("mean_kw", 0.35) * st["load"] * daily_load(hour)
                        * float(rng.lognormal(0, 0.2)))
            st["energy_kwh"] += power * period / 3600
            return [("telemetry", {"energy_kwh": round(st["energy_kwh"], 3), "power_kw": round(power, 3),
                                   "voltage_v": round(float(rng.normal(225, 3)), 1)}, period)]
        if k == "volume_meter":
            flow = max(0.0, kind.sim_param("mean_m3h", 0.02) * st["load"] * daily_load(hour)
                       * float(rng.lognormal(0, 0.4)))
            st["volume_m3"] += flow * period / 3600
            return [("telemetry", {"volume_m3": round(st["volume_m3"], 4), "flow_m3h": round(flow, 4)}, period)]
        if k == "people_counter":
            lam_in, lam_out = _traffic(hour, "in") * period / 60, _traffic(hour, "out") * period / 60
            return [("telemetry", {"count_in": int(rng.poisson(lam_in)), "count_out": int(rng.poisson(lam_out)),
                                   "period_s": period}, period)]
        if k == "access_gate":
            passes = int(rng.poisson((_traffic(hour, "in") + _traffic(hour, "out")) * period / 60))
            return [("telemetry", {"state": "closed", "passes": passes}, period)]
        if k == "parking_barrier":
            st["occupied"] = int(max(0, st["occupied"] + rng.integers(-3, 4)))
            return [("telemetry", {"state": "down", "occupied_spaces": st["occupied"]}, period)]
        if k == "climate":
            if dev.id in burning:
                temp = min(120.0, 24 + 4.0 * (t - burning[dev.id]) / 10)
                return [("telemetry", {"temperature_c": round(temp, 1), "humidity_pct": 20.0}, 10.0)]
            temp = 22 + 3 * math.sin((hour - 9) / 24 * 2 * math.pi) + st["offset"]
            return [("telemetry", {"temperature_c": round(temp, 2),
                                   "humidity_pct": round(float(np.clip(rng.normal(55, 8), 5, 99)), 1)}, period)]
        if k == "smoke":
            if dev.id in burning:
                return [("telemetry", {"smoke": True, "obscuration_pct_m": 8.0}, 60.0)]
            false_alarm = rng.random() < 1e-4
            out = [("telemetry", {"smoke": bool(false_alarm), "obscuration_pct_m": round(float(rng.uniform(0, 0.3)), 2)}, period)]
            return out
        if k == "leak":
            leak = dev.id in leaking or rng.random() < 2e-5
            return [("telemetry", {"leak": bool(leak)}, 60.0 if leak else period)]
        if k == "elevator":
            return self._elevator(dev, st, t, hour, rng)
        if k == "random":
            return [("telemetry", _random_values(kind, st, rng, period), period)]
        return [("telemetry", None, period)]

    def _elevator(self, dev: DeviceInfo, st: dict, t: float, hour: float, rng):
        if self.elevator_plan is not None:
            day = datetime.fromtimestamp(t, self.tz).date()
            if st.get("day") != day:
                st["day"] = day
                plan = self.elevator_plan(dev.id, day)
                st["actions"] = self._plan_actions(plan, day, t, rng) if plan is not None else None
            if st["actions"] is not None:
                return self._elevator_planned(dev, st, t, rng)
        out = []
        busy = daily_load(hour)
        trip = rng.random() < min(0.9, 0.25 * busy)
        if trip:
            dest = int(rng.integers(1, 19))
            if dest == st["floor"]:
                dest = 1 if st["floor"] != 1 else 2
            direction = "up" if dest > st["floor"] else "down"
            st["floor"], st["trips"] = dest, st["trips"] + 1
            st["door_cycles"] += 1
            body = {"floor": dest, "direction": direction, "door": "closed", "trips": st["trips"],
                    "door_cycles": st["door_cycles"], "load_kg": round(float(rng.uniform(0, 600)), 0),
                    "speed_mps": 1.75, "fault_code": 0, "in_service": True,
                    **_diagnostics(*_HEALTHY, rng)}
            out.append(("telemetry", body, None))
            if rng.random() < 0.02:
                out.append(("event", {"event": "door_reopen"}, None))
            if rng.random() < 2e-4:  # ≈ 2 faults per elevator-year at ~10k trips/year
                out.append(("event", {"event": "fault", "fault_code": int(rng.integers(1, 100))}, None))
        else:
            out.append(("telemetry", {"floor": st["floor"], "direction": "idle", "door": "closed",
                                      "speed_mps": 0.0, "in_service": True}, None))
        out.append(("status", {"online": True}, 30.0))
        return out

    def _plan_actions(self, plan: ElevatorDay, day: date, now: float, rng) -> list:
        """The day's planned actions ``[(t, what, payload)]`` in time order (those before
        ``now`` are dropped): trips at times following the daily load curve, the door
        cycles spread over them, reopens and faults at trip times, a breakdown."""
        midnight = datetime.combine(day, dtime(), self.tz).timestamp()
        next_midnight = datetime.combine(day + timedelta(days=1), dtime(), self.tz).timestamp()
        span = next_midnight - midnight
        weights = _minute_weights()

        def times(n: int) -> np.ndarray:
            minutes = rng.choice(1440, size=n, p=weights)
            return np.sort(midnight + (minutes + rng.uniform(0, 1, size=n)) * span / 1440)

        n = max(int(plan.trips), 0)
        trip_t = times(n) if n else np.array([midnight + span / 2])
        cycles = rng.multinomial(max(int(plan.door_cycles), 0), np.full(len(trip_t), 1 / len(trip_t)))
        noise = rng.standard_normal((3, len(trip_t)))   # per-run diagnostics around the day's means
        vib = np.maximum(0.0, plan.vibration_rms * (1 + 0.1 * noise[0]))
        lev = np.maximum(0.0, plan.leveling_error_mm * (1 + 0.1 * noise[1]))
        temp = plan.motor_temp_c + 1.0 * noise[2]
        actions = []
        for k, tt in enumerate(trip_t.tolist()):
            actions.append((tt, "trip", {"trips": 1 if n else 0, "door_cycles": int(cycles[k]),
                                         "vibration_rms": float(vib[k]), "leveling_error_mm": float(lev[k]),
                                         "motor_temp_c": float(temp[k])}))
        for tt in rng.choice(trip_t, size=max(int(plan.door_reopens), 0)):
            actions.append((float(tt), "event", {"event": "door_reopen"}))
        for tt in times(max(int(plan.fault_count), 0)):
            actions.append((float(tt), "event", {"event": "fault", "fault_code": int(rng.integers(1, 100))}))
        if plan.failure:
            t_fail = float(times(1)[0])
            actions.append((t_fail, "event", {"event": "fault", "fault_code": BREAKDOWN_CODE}))
            actions.append((t_fail, "service", {"in_service": False, "fault_code": BREAKDOWN_CODE}))
            t_back = min(t_fail + plan.repair_h * 3600, next_midnight - 1e-3)
            actions.append((t_back, "event", {"event": "fault_cleared"}))
            actions.append((t_back, "service", {"in_service": True, "fault_code": 0}))
        actions.sort(key=lambda a: a[0])
        return [a for a in actions if a[0] >= now] + [(next_midnight, "midnight", {})]

    def _elevator_planned(self, dev: DeviceInfo, st: dict, t: float, rng):
        """Report the planned actions due by ``t``: one telemetry with the counters and the
        trips' mean diagnostics, the events; then the next heartbeat or action."""
        acts = st["actions"]
        due = 0
        while due < len(acts) and acts[due][0] <= t and acts[due][1] != "midnight":
            due += 1
        now, st["actions"] = acts[:due], acts[due:]
        out = []
        trips = [p for _t, what, p in now if what == "trip"]
        if not st.get("announced"):  # on connect a controller reports its counters (a baseline)
            st["announced"] = True
            out.append(("telemetry", {"floor": st["floor"], "direction": "idle", "door": "closed",
                                      "trips": st["trips"], "door_cycles": st["door_cycles"],
                                      "in_service": True, "fault_code": 0}, None))
        if trips:
            st["trips"] += sum(p["trips"] for p in trips)
            st["door_cycles"] += sum(p["door_cycles"] for p in trips)
            st["floor"] = int(rng.integers(1, 19))
            body = {"floor": st["floor"], "direction": "idle", "door": "closed", "trips": st["trips"],
                    "door_cycles": st["door_cycles"], "speed_mps": 0.0,
                    "in_service": st.get("in_service", True), "fault_code": st.get("fault_code", 0)}
            for name, digits in (("vibration_rms", 4), ("leveling_error_mm", 3), ("motor_temp_c", 2)):
                body[name] = round(sum(p[name] for p in trips) / len(trips), digits)
            out.append(("telemetry", body, None))
        for _t, what, p in now:
            if what == "event":
                out.append(("event", dict(p), None))
            elif what == "service":
                st.update(p)
                out.append(("telemetry", dict(p), None))
        if self.heartbeats:
            # a tick just before midnight reports the day's last trips on their own day
            last_tick = st["actions"][-1][0] - 1e-3
            step = last_tick - t if 0 < last_tick - t < 30.0 else 30.0
            out.append(("status", {"online": True}, step))
        else:
            nxt = st["actions"][0][0] if st["actions"] else t + 30.0
            out.append(("status", None, max(nxt - t, 1e-3)))
        return out

    def _start_incident(self, inc: Incident, t, states, offline, burning, leaking, heap):
        idx = {d.id: i for i, d in enumerate(self.devices)}
        if inc.kind == "offline":
            for dev in inc.devices:
                offline.add(dev)
                states[dev]["seq"] += 1
                yield t, topic_for(self.registry.site, dev, "status"), {"ts": round(t, 3), "seq": states[dev]["seq"], "online": False}
            return
        for dev in inc.devices:
            if inc.kind == "fire":
                burning[dev] = t
            elif inc.kind == "leak":
                leaking.add(dev)
            states[dev]["seq"] += 1
            if inc.kind == "trapped":
                body = {"event": "passenger_trapped"}
                yield t, topic_for(self.registry.site, dev, "event"), {"ts": round(t, 3), "seq": states[dev]["seq"], **body}
            else:
                heapq.heappush(heap, (t, next(self._order), idx[dev], "report"))

    # -- real time ------------------------------------------------------------------------
    def run(self, publish: Callable[[str, bytes], None], *, speed: float = 60.0, duration_s: float | None = None,
            clock: Callable[[], float] = time.time, sleep: Callable[[float], None] = time.sleep,
            on_progress: Callable[[int, float], None] | None = None) -> int:
        """Publish the streams in real time, ``speed`` × faster than simulated time.

        ``duration_s`` is simulated seconds (None = run until interrupted); each payload's
        ``ts`` is replaced by the wall-clock publish time. Return the number of messages.
        """
        if speed <= 0:
            raise ScenarioError(f"speed={speed} must be > 0")
        t0 = clock()
        horizon = duration_s if duration_s is not None else 10 * 365 * 86400.0
        n = 0
        last_report = t0
        for t_sim, topic, body in self.messages(t0, horizon):
            due = t0 + (t_sim - t0) / speed
            delay = due - clock()
            if delay > 0:
                sleep(delay)
            body = {**body, "ts": round(clock(), 3)}
            publish(topic, json.dumps(body).encode())
            n += 1
            if on_progress is not None and clock() - last_report >= 5:
                last_report = clock()
                on_progress(n, t_sim - t0)
        return n
