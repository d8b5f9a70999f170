"""Planning glue: elevator risk and cleaning status for the viewer, preventive work orders.

Plain functions wiring :mod:`sim.elevators.risk` and :mod:`sim.cleaning` to the twin and the
operations database (see docs/api.md, docs/elevators.md, docs/cleaning.md):

* :func:`elevator_risk` — the latest risks (scored on the live daily rows when there are
  any, else the daily risk log), each elevator mapped to its ``elevator_controller``
  device of the twin (``GET /api/elevators/risk``);
* :func:`cleaning_day` / :func:`cleaning_status` — one day's cleaning plan for the twin and
  each public area's status at a moment of that day (``GET /api/cleaning/status``);
* :func:`open_preventive_work_orders` — risk and cleaning-plan requests filed as real work
  orders (source ``preventive``) through :func:`services.workorders.service.create_work_order`,
  once per request: the request's ``dedupe_key`` is stored as the order's external key
  (column ``alarm_id``, unique per community), so running a job twice creates nothing new.
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import select

from services.auth import SYSTEM
from services.db import Database, _community_of
from services.errors import InvalidInput
from twin.model import Community
from services.communities import DEFAULT_TIMEZONE

__all__ = [
    "CleaningCache", "CleaningDay", "RISK_LOG_NAME", "cleaning_day", "cleaning_status", "elevator_devices",
    "daily_log_path", "elevator_risk", "open_preventive_work_orders", "risk_log_path",
]

#: File name of the daily risk log in the data folder.
RISK_LOG_NAME = "elevator_risk.json"


def risk_log_path(settings) -> Path:
    """The risk log the daily scoring job writes and the API reads: ``data_dir/elevator_risk.json``."""
    return Path(settings.data_dir) / RISK_LOG_NAME


# --------------------------------------------------------------------------- elevators

def elevator_devices(community: Community | None) -> dict[str, tuple[str | None, str | None]]:
    """Map every id an elevator is known by to ``(controller device id, building id)``.

    Keys: each ``elevator_controller`` device id, each elevator id and each elevator name
    (telemetry may use any of them). A controller names its elevator in
    ``attributes["serves"]``; failing that, a controller whose id starts with the
    elevator's name (tag ``T1-U1-E1-EC`` of elevator ``T1-U1-E1``) is taken.
    """
    if community is None:
        return {}
    out: dict[str, tuple[str | None, str | None]] = {}
    from services.elevator_live import controllers as elevator_controllers

    controllers = elevator_controllers(community)
    for d in controllers:
        out[d.id] = (d.id, d.building_id)
    for e in community.elevators:
        dev = next((d for d in controllers if d.attributes.get("serves") == e.id), None)
        if dev is None and e.name:
            dev = next((d for d in controllers if d.id.startswith(f"{e.name}-")), None)
        value = (dev.id if dev else None, e.building_id)
        out.setdefault(e.id, value)
        if e.name:
            out.setdefault(e.name, value)
    return out


def elevator_risk(community: Community | None, log_path: str | Path,
                  daily_path: str | Path | None = None) -> dict[str, Any]:
    """The latest elevator risks, mapped onto the twin: from live daily rows when the
    service has logged any (``daily_path``, :class:`services.elevator_live.DailyLog`),
    else the latest scored day of the risk log.

    Returns
    -------
    dict
        ``{"as_of": "YYYY-MM-DD" | None, "source": "live" | "log" | None, "elevators":
        [{"elevator_id", "device_id", "building", "risk", "p_fail_7d", "reason"}]}``,
        highest risk first; ``risk`` is P(failure within 7 days) in [0, 1] (the same
        number as ``p_fail_7d``); ``device_id`` / ``building`` are ``None`` for an elevator
        the twin does not know. ``{"as_of": None, "source": None, "elevators": []}`` when
        nothing was scored yet.
    """
    from sim.elevators.risk import RiskLog

    live = _live_risks(daily_path) if daily_path is not None else None
    if live is not None:
        as_of, risks, source = live[0], live[1], "live"
    else:
        as_of, risks = RiskLog(log_path).latest()
        source = "log" if as_of is not None else None
    where = elevator_devices(community)
    rows = []
    for r in risks:
        device_id, building = where.get(r.elevator_id, (None, None))
        rows.append({"elevator_id": r.elevator_id, "device_id": device_id, "building": building,
                     "risk": r.p_fail_7d, "p_fail_7d": r.p_fail_7d, "reason": r.reason})
    return {"as_of": as_of, "source": source, "elevators": rows}


_LIVE_CACHE: dict[str, tuple[int, tuple[str, list]]] = {}
_LIVE_LOCK = threading.Lock()


def _live_risks(daily_path: str | Path) -> tuple[str, list] | None:
    """Risks scored on the logged live rows as of their last day (cached per file version),
    or None when no live row was logged."""
    from services.elevator_live import DailyLog, score_rows

    path = Path(daily_path)
    try:
        version = path.stat().st_mtime_ns
    except FileNotFoundError:
        return None
    with _LIVE_LOCK:
        hit = _LIVE_CACHE.get(str(path))
        if hit is not None and hit[0] == version:
            return hit[1]
        log = DailyLog(path)
        rows = log.rows()
        if not rows:
            return None
        as_of = dt.date.fromisoformat(max(r["date"] for r in rows))
        result = (as_of.isoformat(), score_rows(rows, as_of))
        _LIVE_CACHE[str(path)] = (version, result)
        return result


def daily_log_path(settings) -> Path:
    """The live elevator daily rows the service logs: ``data_dir/elevator_daily.json``."""
    from services.elevator_live import DAILY_LOG_NAME

    return Path(settings.data_dir) / DAILY_LOG_NAME


# --------------------------------------------------------------------------- cleaning

@dataclass
class CleaningDay:
    """One day's cleaning plan on the twin and the soil it leaves (minutes from local midnight)."""

    date: dt.date
    layout: Any
    state: Any
    threshold_g_m2: float
    trigger: float
    requests: list[dict] = field(default_factory=list)
    #: planned cleanings per area index: [(start minute, cleaner id)]
    planned: dict[int, list[tuple[float, str]]] = field(default_factory=dict)
    #: the plan as made: [(start minute, area index, cleaner id)]
    plan: list[tuple[float, int, str]] = field(default_factory=list)
    #: forecast passages per area and hour of the day ``[area, 24]``
    forecast: Any = None
    rain: bool = False
    crew: list = field(default_factory=list)
    soil: Any = None
    params: Any = None


def cleaning_day(community: Community, date: dt.date, *, seed: int = 0,
                 tz: str = DEFAULT_TIMEZONE) -> CleaningDay:
    """Plan ``date`` for the twin (crowd-flow forecast, the ``plan`` policy) and run it.

    The same pipeline as ``twin cleaning plan`` (:func:`sim.cleaning.compare.compare_policies`
    with one day): traffic from the crowd-flow simulation, soil deposits, tomorrow's plan
    made at midnight and carried out by the SimPy crews. Returns the plan's work-order
    requests and the soil state, from which :func:`cleaning_status` reads any minute.
    """
    from sim.cleaning.areas import build_layout
    from sim.cleaning.compare import crew_from_staff, forecast_traffic
    from sim.cleaning.crews import CrewParams, run_policy
    from sim.cleaning.errors import SiteLayoutError
    from sim.cleaning.plan import make_planner, plan_work_orders
    from sim.cleaning.soiling import SoilParams, deposit_per_minute, rainy_days
    from sim.cleaning.traffic import build_routes, expected_traffic, simulate_traffic

    soil, params = SoilParams(), CrewParams()
    layout = build_layout(community)
    n = len(layout.areas)
    routes = build_routes(community, layout, None)
    actual = simulate_traffic(routes, n, 1, seed, date).astype(float)
    forecast = forecast_traffic(actual, expected_traffic(routes, n, weekend=False),
                                expected_traffic(routes, n, weekend=True), date)
    rain = rainy_days(1, seed, soil.rain_probability)
    deposit = deposit_per_minute(layout.areas, actual, rain, soil)
    fdeposit = deposit_per_minute(layout.areas, forecast, rain, soil)
    crew = crew_from_staff(community, layout)
    if not crew:
        raise SiteLayoutError("no cleaner")
    fcum = np.zeros((n, fdeposit.shape[1] + 1))
    np.cumsum(fdeposit, axis=1, out=fcum[:, 1:])
    planner = make_planner(fcum, layout, crew, soil, params)
    _tasks, state, plans = run_policy("plan", layout, deposit, fdeposit, crew, 1, soil=soil,
                                      params=params, planner=planner)
    plan = plans[0] if plans else []
    planned: dict[int, list[tuple[float, str]]] = {}
    for minute, a, cid in plan:
        planned.setdefault(a, []).append((float(minute), cid))
    return CleaningDay(date, layout, state, soil.threshold_g_m2, params.trigger,
                       plan_work_orders(plan, layout, date, tz=tz, params=params), planned,
                       plan=list(plan), forecast=forecast[:, 0], rain=bool(rain[0]), crew=crew,
                       soil=soil, params=params)


def cleaning_status(day: CleaningDay, minute: float, *, building: str | None = None,
                    live: Any = None) -> dict[str, Any]:
    """Each area's status at ``minute`` (from local midnight) of the planned day.

    ``status``: ``"overdue"`` when the soil is at or above the cleanliness threshold,
    ``"due"`` at or above ``trigger`` × threshold (the plan's cleaning point), else ``"ok"``.
    ``live`` (a :class:`sim.cleaning.live.LiveAdjustment` of this day): counted areas show
    their soil on counted traffic, and a round moved by live traffic replaces the planned one.

    Returns
    -------
    dict
        ``{"date", "minute", "threshold_g_m2", "areas": [{"space_id", "name", "kind",
        "building", "status", "soil", "soil_ratio", "next_cleaning"}]}``; ``soil`` in g/m²,
        ``next_cleaning`` the next planned start (``HH:MM``) or ``None``. Counted areas add
        ``"traffic": {"counted", "forecast"}`` (passages so far today); a moved or added
        round adds ``"moved_from"`` (the planned ``HH:MM``, ``None`` when added) and
        ``"moved_by": "live-traffic"``.
    """
    minute = float(min(max(minute, 0.0), 1439.0))
    T = day.threshold_g_m2
    areas = []
    for a, area in enumerate(day.layout.areas):
        if building is not None and area.building_id != building:
            continue
        s = float(day.state.soil(a, minute))
        if live is not None and a in live.soil:
            s = live.soil[a]
        status = "overdue" if s >= T else "due" if s >= day.trigger * T else "ok"
        nxt = next((m for m, _ in sorted(day.planned.get(a, [])) if m >= minute), None)
        rec = {
            "space_id": area.id, "name": area.name, "kind": area.kind, "building": area.building_id,
            "status": status, "soil": round(s, 3), "soil_ratio": round(s / T, 3),
            "next_cleaning": _hhmm(nxt),
        }
        if live is not None and a in live.counted:
            rec["traffic"] = {"counted": live.counted[a], "forecast": live.forecast[a]}
        move = live.moves.get(a) if live is not None else None
        if move is not None:
            rec.update(next_cleaning=_hhmm(move.new_min), moved_from=_hhmm(move.planned_min),
                       moved_by="live-traffic")
        areas.append(rec)
    return {"date": day.date.isoformat(), "minute": int(minute), "threshold_g_m2": T, "areas": areas}


def _hhmm(minute: float | None) -> str | None:
    return None if minute is None else f"{int(minute) // 60:02d}:{int(minute) % 60:02d}"


class CleaningCache:
    """Today's :class:`CleaningDay` per site, computed once per date (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._days: dict[dt.date, CleaningDay] = {}

    def get(self, community: Community, date: dt.date, tz: str) -> CleaningDay:
        with self._lock:
            if date not in self._days:
                self._days = {date: cleaning_day(community, date, tz=tz)}
            return self._days[date]


# --------------------------------------------------------------------------- work orders

def _elevator_order(devices: dict, req: dict) -> tuple[dict | None, str | None]:
    device_id, _ = devices.get(req["asset_id"], (None, None))
    if device_id is None:
        return None, f"elevator {req['asset_id']!r} has no elevator_controller device in the twin"
    text = f"{req['title']}\n{req['description']} Due {req['due']}."
    return {"location": {"device_id": device_id}, "description": text}, None


def _cleaning_order(community: Community | None, req: dict) -> tuple[dict | None, str | None]:
    area_id = req["area_id"]
    known = community is not None and (any(s.id == area_id for s in community.spaces)
                                       or any(f.id == area_id for f in community.features))
    if not known:
        return None, f"area {area_id!r} ({req.get('area_kind')}) is neither a space nor a site feature of the twin"
    text = (f"{req['title']}\nScheduled {req['scheduled_at']}, about {req['estimated_minutes']} min "
            f"({req.get('area_kind')}).")
    return {"location": {"space_id": area_id}, "description": text}, None


def open_preventive_work_orders(db: Database, community: Community | None, requests: list[dict], *,
                                timezone: str = DEFAULT_TIMEZONE,
                                now: dt.datetime | None = None) -> dict[str, list]:
    """File planning requests as work orders (source ``preventive``), once per ``dedupe_key``.

    ``requests`` are the dicts of :func:`sim.elevators.risk.work_order_requests` (located
    at the elevator's controller device) and of :func:`sim.cleaning.plan.plan_work_orders`
    (located at the area's space; a cleaning request naming a staff member is assigned to
    them). Orders go through :func:`services.workorders.service.create_work_order` as the
    ``system`` actor, all in one transaction.

    Returns
    -------
    dict
        ``{"created": [work-order id], "existing": [work-order id], "skipped":
        [{"dedupe_key", "reason"}]}`` — ``existing`` are requests filed before (same key).

    Raises
    ------
    InvalidInput
        A request without ``dedupe_key``/``category`` or of an unknown ``source``.
    """
    from services.workorders.models import WorkOrder
    from services.workorders.service import Location, create_work_order, transition_work_order

    created: list[int] = []
    existing: list[int] = []
    skipped: list[dict] = []
    staff = {m.id for m in community.staff} if community is not None else set()
    devices = elevator_devices(community)
    with db.transaction() as session:
        for req in requests:
            key = req.get("dedupe_key")
            if not key or not req.get("category"):
                raise InvalidInput(f"work-order request {req!r} needs a dedupe_key and a category")
            if len(key) > 128:
                raise InvalidInput(f"dedupe_key={key!r} is longer than 128 characters")
            found = session.scalar(select(WorkOrder.id).where(WorkOrder.alarm_id == key,  # unique per community
                                                              WorkOrder.community == _community_of(session)))
            if found is not None:
                existing.append(found)
                continue
            source = req.get("source")
            if source == "elevator-risk":
                order, why = _elevator_order(devices, req)
            elif source == "cleaning-plan":
                order, why = _cleaning_order(community, req)
            else:
                raise InvalidInput(f"source={source!r} must be 'elevator-risk' or 'cleaning-plan'")
            if order is None:
                skipped.append({"dedupe_key": key, "reason": why})
                continue
            wo = create_work_order(session, community, SYSTEM, description=order["description"],
                                   location=Location(**order["location"]), source="preventive",
                                   category=req["category"], priority=req.get("priority"),
                                   alarm_id=key, now=now, timezone=timezone)
            who = req.get("assignee")
            if who in staff and wo.assignee != who:
                transition_work_order(session, community, SYSTEM, wo.id, "assigned", assignee=who,
                                      note="assigned by the cleaning plan", now=now, timezone=timezone)
            created.append(wo.id)
    return {"created": created, "existing": existing, "skipped": skipped}
