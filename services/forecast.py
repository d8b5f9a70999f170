"""Live evacuation forecast: a fire or smoke alarm → the evacuation of its building, now.

When an alarm of a fire rule is raised (the kind table says which fields and events are
fire signals, :func:`live.rules.fire_rule_ids`), :class:`ForecastComponent` builds one
building's scenario (:func:`sim.evacuation.builder.scenario_from_community`) with

- **people per storey** from the live occupancy estimate of the building
  (:mod:`services.occupancy`; the register's night population when live ingestion has no
  database), distributed over its storeys in proportion to the people the households
  register has on each storey (largest remainders; evenly when nobody is registered), and
  within a storey over its households by size;
- **the fire storey** (the alarm's storey, and those of the building's other open fire
  alarms) alerted first: its people start after the day pre-movement time U(30, 120) s
  whatever the hour; the other storeys follow the time of day at the site
  (U(60, 300) s at night, 22:00-07:00);

and runs it on the drills' workers (:meth:`services.drills.DrillJobs.call`: the process
pool, or dask), off the event loop and off the ingestion threads. The full engine
settings run (cell 0.2 m, step 0.05 s, seed 1); a worker is warmed when the service starts
so that the first alarm does not pay the process start and the numba cache load.

The result is kept per alarm id (in memory: a restart recomputes the forecasts of the
open fire alarms) and pushed as a ``forecast`` event (WebSocket ``/ws/live``). It is
recomputed when another fire alarm of the same building is raised, and when the
building's occupancy moved by more than :data:`OCCUPANCY_CHANGE_MIN` people and
:data:`OCCUPANCY_CHANGE_REL` of the people the forecast used (checked every
``check_every_s``). A recomputation asked for while one runs is run once after it.

Lifecycle of a record's ``status``: ``running`` (queued or computing; the previous figures
stay until the new ones are in) → ``done`` or ``failed`` (``error``); ``none`` for an
alarm that gets no forecast (not a fire rule, or no building).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import threading
import time
from typing import Any
from zoneinfo import ZoneInfo

__all__ = ["DOOR_SPECIFIC_FLOW_PMPS", "FORECAST_STATUSES", "OCCUPANCY_CHANGE_MIN", "OCCUPANCY_CHANGE_REL",
           "ForecastComponent", "people_per_storey", "run_forecast", "warm_worker"]

log = logging.getLogger(__name__)

FORECAST_STATUSES = ("running", "done", "failed", "none")
#: Recompute when the building's people moved by more than this many people ...
OCCUPANCY_CHANGE_MIN = 10
#: ... and by more than this share of the people the forecast used.
OCCUPANCY_CHANGE_REL = 0.10
#: SFPE design specific flow through a door (P/(m·s)) and its boundary layer per side (m).
DOOR_SPECIFIC_FLOW_PMPS = 1.32
DOOR_BOUNDARY_LAYER_M = 0.15
#: Window (s) over which an exit's discharge is compared with its door capacity.
EXIT_WINDOW_S = 5.0
#: A window at this share of the door capacity or more counts as a queue at the door.
EXIT_AT_CAPACITY = 0.9


# ---------------------------------------------------------------------------- worker side
def _tiny_scenario() -> dict:
    """Two floors, one stair, one exit, three people: loads every kernel of a real run."""
    def sq(x0, y0, x1, y1):
        return {"type": "Polygon", "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]}
    return {"schema_version": 1, "name": "warm-up", "seed": 1, "max_time_s": 300.0,
            "floors": [{"id": "U", "elevation_m": 3.0, "walkable": sq(0, 0, 6, 4)},
                       {"id": "G", "elevation_m": 0.0, "walkable": sq(0, 0, 6, 4)}],
            "stairs": [{"id": "S", "from_floor": "U", "to_floor": "G", "entry": sq(5, 0, 6, 2),
                        "exit": sq(5, 0, 6, 2), "length_m": 6.0, "width_m": 1.2}],
            "exits": [{"id": "E", "floor": "G", "area": sq(0, 0, 1, 2)}], "blocked": [], "agents": [],
            "groups": [{"id": "g", "floor": "U", "area": sq(1, 1, 4, 3), "count": 3, "speed_mps": 1.3,
                        "premovement_s": {"uniform": [0.0, 2.0]}}]}


def warm_worker() -> float:
    """Run a tiny evacuation in this worker (imports, numba caches); return its wall s."""
    t0 = time.perf_counter()
    from sim.evacuation import parse_scenario, simulate

    simulate(parse_scenario(_tiny_scenario()))
    return time.perf_counter() - t0


def run_forecast(text: str, door_widths: dict[str, float]) -> dict:
    """Run the scenario JSON ``text`` (in a worker) and return the compact forecast figures.

    ``stairs``: per scenario stair id ``count`` and ``full_s``; ``exits``: per exit id
    ``count``, ``first_s``, ``last_s`` and ``queue_s``: seconds (in windows of
    :data:`EXIT_WINDOW_S`) the exit discharged at :data:`EXIT_AT_CAPACITY` or more of its
    door capacity, ``DOOR_SPECIFIC_FLOW_PMPS`` × (width − 2 × 0.15 m) (SFPE hydraulic
    model: a door passing its capacity has people waiting at it).
    """
    import numpy as np

    from sim.evacuation import parse_scenario, simulate

    t0 = time.perf_counter()
    res = simulate(parse_scenario(json.loads(text), check_schema=False))
    worker_s = time.perf_counter() - t0
    times: dict[str, list[float]] = {}
    for a in res["agents"]:
        if a["exit"] is not None:
            times.setdefault(a["exit"], []).append(a["exit_time_s"])
    exits = {}
    for eid, e in res["exits"].items():
        width = float(door_widths.get(eid) or 0.9)
        cap_pps = DOOR_SPECIFIC_FLOW_PMPS * max(width - 2 * DOOR_BOUNDARY_LAYER_M, 0.3)
        t = np.asarray(times.get(eid, []), dtype=float)
        full = 0
        if t.size:
            counts = np.bincount((t // EXIT_WINDOW_S).astype(np.int64))
            full = int((counts >= EXIT_AT_CAPACITY * cap_pps * EXIT_WINDOW_S).sum())
        exits[eid] = dict(e, queue_s=full * EXIT_WINDOW_S, capacity_pps=round(cap_pps, 4))
    return {k: res[k] for k in ("evacuation_time_s", "evacuated", "not_evacuated", "completed", "stalled",
                                "wall_time_s", "stairs")} | {"exits": exits, "worker_s": round(worker_s, 3)}


# ---------------------------------------------------------------------------- service side
def people_per_storey(community, building_id: str, people: int) -> dict[str, int]:
    """Split a building's ``people`` over its storeys by the register's people per storey.

    Weights: the sizes of the households whose unit (its space, else its own storey) is on
    the storey; Hamilton's largest remainders; evenly over the storeys when nobody is
    registered in the building.
    """
    from sim.evacuation.builder import largest_remainders

    b = next(b for b in community.buildings if b.id == building_id)
    weight = {s.id: 0 for s in sorted(b.storeys, key=lambda s: s.elevation_m)}
    space_storey = {sp.id: sp.storey_id for sp in community.spaces}
    units = {u.id: u for u in community.billing_units}
    for h in community.households:
        u = units.get(h.unit_id)
        if u is None or u.building_id != building_id:
            continue
        sid = space_storey.get(u.space_id) if u.space_id else u.storey_id
        if sid in weight:
            weight[sid] += max(int(h.size), 0)
    return largest_remainders(int(people), weight)


class ForecastComponent:
    """Forecasts of the fire alarms of one site, kept per alarm id.

    Parameters
    ----------
    live : services.live_component.LiveComponent
        Its rules, alarm book and event bus (started before this component).
    community : twin.model.Community
    check_every_s : float
        How often the occupancy of buildings with an open forecast is compared (s).
    """

    name = "forecast"

    def __init__(self, live, community, *, check_every_s: float = 10.0) -> None:
        self.live, self.community = live, community
        self.check_every_s = check_every_s
        self.fire_rules: set[str] = set()
        self._records: dict[str, dict] = {}
        self._used_people: dict[str, int] = {}
        self._running: set[str] = set()
        self._pending: dict[str, str] = {}
        self._lock = threading.Lock()
        self._app = None
        self._jobs = None
        self._task: asyncio.Task | None = None
        self._closed = False
        self.names = None
        self.doors: dict[str, float] = {}
        self.warm_s: float | None = None

    # -- component ------------------------------------------------------------------------
    async def start(self, app) -> None:
        from live.rules import fire_rule_ids
        from services.drills import DrillJobs
        from twin.naming import SiteNames

        self._app = app
        app.state.forecasts = self
        self.fire_rules = fire_rule_ids(self.live.rules)
        self.names = SiteNames(self.community)
        self.doors = {d.id: float(d.width_m or 0.9) for d in self.community.doors}
        self._jobs = DrillJobs.of_app(app)
        try:
            self._jobs.call(warm_worker).add_done_callback(self._warmed)
        except Exception:  # noqa: BLE001 - a cold worker is slower, not wrong
            log.exception("forecast: warming a worker failed")
        self.live.bus.subscribe("forecast", self._on_event, types=("alarm",), maxsize=100_000)
        for alarm in self.live.book.list("open"):  # after a restart: the open fire alarms again
            if self._is_fire(alarm):
                self.request(alarm.id, "restart")
        self._task = asyncio.create_task(self._watch())

    async def stop(self, app) -> None:
        self._closed = True
        if self._task is not None:
            self._task.cancel()

    def health(self) -> dict[str, Any]:
        with self._lock:
            return {"ready": True, "forecasts": len(self._records), "running": len(self._running),
                    "worker_warm_s": self.warm_s}

    def _warmed(self, fut) -> None:
        try:
            self.warm_s = round(fut.result(), 3)
        except Exception as exc:  # noqa: BLE001
            log.warning("forecast: warming a worker failed: %s", exc)

    # -- reading --------------------------------------------------------------------------
    def get(self, alarm_id: str) -> dict | None:
        """The forecast record of an alarm (``status`` ``none`` when it gets none); None for
        an unknown alarm id."""
        alarm = self.live.book.get(alarm_id)
        if alarm is None:
            return None
        with self._lock:
            rec = self._records.get(alarm_id)
            if rec is not None:
                return json.loads(json.dumps(rec))
        if not self._is_fire(alarm):
            return self._blank(alarm, "none")
        self.request(alarm_id, "alarm")  # raised before this component saw it
        with self._lock:
            return json.loads(json.dumps(self._records.get(alarm_id) or self._blank(alarm, "running")))

    def _is_fire(self, alarm) -> bool:
        return alarm.rule_id in self.fire_rules and bool(alarm.building) and any(
            b.id == alarm.building and b.storeys for b in self.community.buildings)

    def _blank(self, alarm, status: str) -> dict:
        names = self.names
        return {"alarm_id": alarm.id, "rule_id": alarm.rule_id, "building": alarm.building,
                "building_name": names.buildings.get(alarm.building) if names and alarm.building else None,
                "storey": alarm.storey,
                "storey_name": names.storeys.get(alarm.storey) if names and alarm.storey else None,
                "status": status, "evacuation_time_s": None, "people": None, "evacuated": None,
                "occupancy": None, "stairs": [], "exits": [], "keep_clear": None, "computed_at": None,
                "requested_at": None, "elapsed_s": None, "reason": None, "error": None}

    # -- triggers -------------------------------------------------------------------------
    def _on_event(self, ev: dict) -> None:
        """Bus subscriber (own thread): a fire alarm raised → forecast it and recompute the
        building's other open fire alarms."""
        if ev.get("transition") != "raised":
            return
        alarm = self.live.book.get(ev.get("alarm_id"))
        if alarm is None or not self._is_fire(alarm):
            return
        self.request(alarm.id, "alarm")
        for other in self._open_fire(alarm.building):
            if other.id != alarm.id:
                self.request(other.id, "alarm_in_building")

    def _open_fire(self, building: str) -> list:
        return [a for a in self.live.book.list("open") if a.building == building and self._is_fire(a)]

    async def _watch(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.check_every_s)
            try:
                await loop.run_in_executor(None, self.check_occupancy)
            except Exception:  # noqa: BLE001 - try again at the next check
                log.exception("forecast: occupancy check failed")

    def check_occupancy(self, now: float | None = None) -> list[str]:
        """Recompute the forecasts whose building's people moved past the threshold; return
        the alarm ids asked for."""
        now = time.time() if now is None else now
        asked = []
        with self._lock:
            used = {aid: (self._records[aid]["building"], n) for aid, n in self._used_people.items()
                    if aid in self._records and aid not in self._running}
        current: dict[str, int] = {}
        for aid, (bid, n) in used.items():
            alarm = self.live.book.get(aid)
            if alarm is None or not alarm.is_open:
                continue
            if bid not in current:
                current[bid] = self._occupancy(bid, now)[0]
            if abs(current[bid] - n) > max(OCCUPANCY_CHANGE_MIN, OCCUPANCY_CHANGE_REL * n):
                self.request(aid, "occupancy")
                asked.append(aid)
        return asked

    # -- computing ------------------------------------------------------------------------
    def request(self, alarm_id: str, reason: str) -> None:
        """Forecast (again) the evacuation for an alarm; returns at once."""
        alarm = self.live.book.get(alarm_id)
        if alarm is None or self._closed:
            return
        now = time.time()
        with self._lock:
            if reason == "alarm" and alarm_id in self._records:
                return  # its first forecast is done or on its way (asked for by a read and the event)
            if alarm_id in self._running:
                self._pending[alarm_id] = reason
                return
            self._running.add(alarm_id)
            rec = self._records.get(alarm_id) or self._blank(alarm, "running")
            rec.update(status="running", reason=reason, requested_at=_iso(now), error=None)
            self._records[alarm_id] = rec
        try:
            people, source = self._occupancy(alarm.building, now)
            per_storey = people_per_storey(self.community, alarm.building, people)
            fire_storeys = sorted({a.storey for a in self._open_fire(alarm.building) if a.storey} | (
                {alarm.storey} if alarm.storey else set()))
            text = json.dumps(self._scenario(alarm, per_storey, fire_storeys, now))
            with self._lock:
                rec["scenario_s"] = round(time.time() - now, 3)
                rec["occupancy"] = {"people": people, "source": source,
                                    "per_storey": {self.names.storeys.get(s, s): n for s, n in per_storey.items()}}
                rec["fire_storeys"] = [self.names.storeys.get(s, s) for s in fire_storeys]
                self._used_people[alarm_id] = people
            fut = self._jobs.call(run_forecast, text, self.doors)
        except Exception as exc:  # noqa: BLE001 - recorded as a failed forecast
            log.exception("forecast of alarm %s could not start", alarm_id)
            self._finish(alarm_id, now, None, f"{type(exc).__name__}: {exc}")
            return
        fut.add_done_callback(lambda f: self._done(alarm_id, now, f))

    def _scenario(self, alarm, per_storey: dict[str, int], fire_storeys: list[str], now: float) -> dict:
        from sim.evacuation.builder import scenario_from_community

        tz = ZoneInfo(getattr(self._app.state.settings, "timezone", None) or "Asia/Shanghai")
        local = dt.datetime.fromtimestamp(now, tz)
        return scenario_from_community(self.community, buildings=[alarm.building],
                                       time_of_day=f"{local.hour:02d}:{local.minute:02d}", seed=1,
                                       occupants=per_storey, alerted_storeys=fire_storeys)

    def _occupancy(self, building: str, now: float) -> tuple[int, str]:
        """People in ``building`` now and where the figure comes from."""
        from services.occupancy import night_population, service_of

        svc = service_of(self._app) if self._app is not None else None
        if svc is not None:
            try:
                snap = svc.current(now, building)
                [b] = [b for b in snap["buildings"] if b["id"] == building]
                return int(b["people"]), str(b["source"])
            except Exception as exc:  # noqa: BLE001 - fall back to the register
                log.warning("forecast: occupancy of %s unavailable (%s): the register's", building, exc)
        return int(night_population(self.community).get(building, 0)), "register"

    def _done(self, alarm_id: str, requested: float, fut) -> None:
        try:
            res, err = fut.result(), None
        except BaseException as exc:  # noqa: BLE001 - cancelled at shutdown, a worker died ...
            res, err = None, f"{type(exc).__name__}: {exc}"
            log.warning("forecast of alarm %s failed: %s", alarm_id, err)
        self._finish(alarm_id, requested, res, err)

    def _finish(self, alarm_id: str, requested: float, res: dict | None, err: str | None) -> None:
        from live.events import forecast_event

        now = time.time()
        with self._lock:
            rec = self._records[alarm_id]
            if res is not None:
                rec.update(self._figures(res))
            rec.update(status="failed" if err else "done", error=err, computed_at=_iso(now),
                       elapsed_s=round(now - requested, 3))
            out = json.loads(json.dumps(rec))
            self._running.discard(alarm_id)
            again = self._pending.pop(alarm_id, None)
        self.live.bus.publish(forecast_event(out, now=now))
        if again is not None:
            self.request(alarm_id, again)

    def _figures(self, res: dict) -> dict:
        """Stairs by staircase and exits, with the names people use, and the stair to keep clear."""
        names = self.names
        stair_named = {n.id: n for n in names.stairs}
        exit_named = {n.id: n.name for n in names.exits}
        cases: dict[str, dict] = {}
        for sid, s in res["stairs"].items():
            rid = sid.split("/", 1)[0]
            named = stair_named.get(rid)
            case = (named.group or named.name) if named else rid
            c = cases.setdefault(case, {"id": rid, "name": case, "people": 0, "queue_s": 0.0, "queues": False,
                                        "flights": 0})
            c["flights"] += 1
            c["people"] = max(c["people"], int(s["count"]))
            c["queue_s"] = round(max(c["queue_s"], float(s.get("full_s", 0.0))), 2)
            c["queues"] = c["queue_s"] > 0
        exits = [{"id": eid, "name": exit_named.get(eid, eid), "people": int(e["count"]),
                  "first_s": e["first_s"], "last_s": e["last_s"], "queue_s": float(e["queue_s"]),
                  "queues": e["queue_s"] > 0, "capacity_pps": e["capacity_pps"]}
                 for eid, e in res["exits"].items()]
        stairs = sorted(cases.values(), key=lambda c: c["name"])
        keep = max(stairs, key=lambda c: (c["people"], c["queue_s"]), default=None)
        keep_clear = None if keep is None or keep["people"] == 0 else {
            "id": keep["id"], "name": keep["name"], "people": keep["people"],
            "reason": f"carries the most people ({keep['people']}): keep it clear for the evacuation"}
        return {"evacuation_time_s": res["evacuation_time_s"], "people": res["evacuated"] + res["not_evacuated"],
                "evacuated": res["evacuated"], "completed": res["completed"], "stalled": res["stalled"],
                "engine_wall_s": res["wall_time_s"], "worker_s": res.get("worker_s"), "stairs": stairs,
                "exits": sorted(exits, key=lambda e: e["name"]), "keep_clear": keep_clear,
                "settings": {"cell_m": 0.2, "dt_s": 0.05, "seed": 1}}


def _iso(t: float) -> str:
    from live.events import iso

    return iso(t)
