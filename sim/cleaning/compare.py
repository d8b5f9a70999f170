"""Compare cleaning policies on a community over some days (the ``twin cleaning compare``).

Pipeline: areas and walking distances from the twin → foot traffic (crowd flow, or
counters merged with it) → soil deposits (traffic × surface × weather, mats) → the SimPy
crew model under each policy → rounds, labour hours and minutes over threshold.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sim.cleaning.areas import SiteLayout, build_layout
from sim.cleaning.crews import POLICIES, Cleaner, CrewParams, parse_shift, run_policy
from sim.cleaning.errors import CleaningParameterError, SiteLayoutError
from sim.cleaning.plan import make_planner, plan_work_orders
from sim.cleaning.soiling import (SoilParams, deposit_per_minute,
                                  minutes_over_threshold, rainy_days)
from sim.cleaning.timetable import fair_timetable
from sim.cleaning.traffic import (FlowParams, build_routes, expected_traffic,
                                  read_traffic_csv, simulate_traffic, traffic_from_counts)
from twin.model import Community

__all__ = ["compare_policies", "crew_from_staff", "forecast_traffic", "prepare_scenario", "Scenario",
           "CLEANER_ROLES"]

log = logging.getLogger(__name__)

#: Staff whose role or skills contain one of these words are cleaners.
CLEANER_ROLES = ("clean", "保洁", "janitor", "custodian")
#: Apartments per cleaner when the staff register names no cleaner.
APARTMENTS_PER_CLEANER = 120


def crew_from_staff(c: Community, layout: SiteLayout) -> list[Cleaner]:
    """Cleaners of the staff register (role/skills), else a default crew.

    Each cleaner starts the day at their ``base_space`` when it is an area, else at the
    first lobby. Default: one cleaner per 120 apartments (at least 2), 07:00-17:00.
    """
    lobbies = [i for i, a in enumerate(layout.areas) if a.kind == "lobby"] or [0]
    crew = []
    for s in c.staff:
        words = " ".join([s.role or "", *s.skills]).lower()
        if any(w in words for w in CLEANER_ROLES):
            start, end = parse_shift(s.shift)
            try:
                base = layout.index(s.base_space_id) if s.base_space_id else lobbies[len(crew) % len(lobbies)]
            except KeyError:
                base = lobbies[len(crew) % len(lobbies)]
            crew.append(Cleaner(s.id, start, end, base))
    if crew:
        return crew
    flats = sum(1 for u in c.billing_units if u.kind == "apartment") or \
        sum(1 for s in c.spaces if (s.usage or "").lower() == "apartment")
    n = max(2, math.ceil(flats / APARTMENTS_PER_CLEANER))
    start, end = parse_shift(None)
    return [Cleaner(f"cleaner-{k + 1}", start, end, lobbies[k % len(lobbies)]) for k in range(n)]


def forecast_traffic(actual: np.ndarray, expected_wd: np.ndarray, expected_we: np.ndarray,
                     start: dt.date) -> np.ndarray:
    """Forecast of each day from what was known the evening before.

    Day ``d`` is forecast as the mean of the earlier days of the same kind (weekday or
    weekend) of ``actual``, or the crowd-flow expectation when there is none yet.
    """
    n, days, hours = actual.shape
    out = np.empty((n, days, hours))
    for d in range(days):
        weekend = (start + dt.timedelta(days=d)).weekday() >= 5
        same = [k for k in range(d) if ((start + dt.timedelta(days=k)).weekday() >= 5) == weekend]
        out[:, d] = actual[:, same].mean(axis=1) if same else (expected_we if weekend else expected_wd)
    return out


def _summary(tasks, state, deposit, soil, layout) -> dict:
    over = minutes_over_threshold(deposit, state.cleanings, soil)
    by_kind: dict[str, int] = {}
    for t in tasks:
        k = layout.areas[t.area].kind
        by_kind[k] = by_kind.get(k, 0) + 1
    return {
        "rounds": len(tasks),
        "labor_hours": round(float(sum(t.end_min - t.start_min for t in tasks)) / 60.0, 3),
        "minutes_over_threshold": int(over.sum()),
        "walk_hours": round(float(sum(t.walk_min for t in tasks)) / 60.0, 3),
        "rounds_by_kind": dict(sorted(by_kind.items())),
        "areas_ever_over_threshold": int((over > 0).sum()),
    }


def _savings(base: dict, demand: dict) -> dict:
    """Demand-driven vs a fixed timetable, in % of the fixed one (positive = demand needs less)."""
    def pct(key):
        return round(100 * (1 - demand[key] / base[key]), 1) if base[key] else 0.0
    return {"rounds_pct": pct("rounds"), "labor_hours_pct": pct("labor_hours"),
            "minutes_over_threshold_pct": pct("minutes_over_threshold")}


def _today_backlog(layout: SiteLayout, params: CrewParams, days: int) -> int:
    """Rounds today's timetable asks for over ``days`` days (rounds done are subtracted by the caller)."""
    from sim.cleaning.crews import _fixed_due

    per_day = params.fixed_per_day
    return sum(_fixed_due(per_day.get(a.kind, 1), i, d, k)
               for d in range(days) for k in range(len(params.round_hours))
               for i, a in enumerate(layout.areas))


def _hhmm(minute: float) -> str:
    m = int(round(minute))
    return f"{m // 60:02d}:{m % 60:02d}"


@dataclass
class Scenario:
    """Everything the policies run on: areas, crew, actual and forecast soil deposits.

    ``deposit`` / ``fdeposit``: soil per minute ``[area, days × 1440]`` (g/m²) from the
    actual and the forecast traffic ``[area, days, 24]`` (``actual``, ``forecast``).
    """

    layout: SiteLayout
    crew: list
    days: int
    start: dt.date
    actual: np.ndarray
    forecast: np.ndarray
    rain: np.ndarray
    deposit: np.ndarray
    fdeposit: np.ndarray
    soil: SoilParams
    params: CrewParams
    traffic_info: dict


def prepare_scenario(c: Community, *, days: int = 7, seed: int = 0,
                     traffic_csv: str | Path | None = None, start: dt.date | None = None,
                     soil: SoilParams | None = None, crew_params: CrewParams | None = None,
                     flow: FlowParams | None = None, tz: str = "Asia/Shanghai",
                     progress=None) -> Scenario:
    """Areas, crew, traffic (crowd flow or counters), weather and soil deposits of a run.

    Raises
    ------
    CleaningParameterError
        ``days`` < 1 or ``seed`` < 0.
    SiteLayoutError
        Nothing to clean, or no cleaner.
    TrafficError
        A bad traffic CSV.
    """
    if int(days) != days or days < 1:
        raise CleaningParameterError(f"days={days} must be an integer >= 1")
    if seed < 0:
        raise CleaningParameterError(f"seed={seed} must be >= 0")
    say = progress or (lambda msg: None)
    soil = soil or SoilParams()
    soil.validate()
    crew_params = crew_params or CrewParams()
    layout = build_layout(c)
    n = len(layout.areas)
    say(f"{n} cleaning areas; routing residents' trips")
    routes = build_routes(c, layout, flow)
    counts = read_traffic_csv(traffic_csv, tz) if traffic_csv else None
    if start is None:
        start = min(counts["date"]) if counts is not None else dt.date(2025, 6, 2)
    estimate = simulate_traffic(routes, n, days, seed, start)
    traffic_info = {"source": "crowd-flow", "routes": routes.count,
                    "passages_per_day": round(float(estimate.sum()) / days, 1)}
    actual = estimate.astype(float)
    if counts is not None:
        actual, info = traffic_from_counts(counts, layout, estimate, start)
        traffic_info = {"source": "counters+crowd-flow", "routes": routes.count, **info,
                        "passages_per_day": round(float(actual.sum()) / days, 1)}
    exp_wd = expected_traffic(routes, n, weekend=False)
    exp_we = expected_traffic(routes, n, weekend=True)
    if counts is not None:
        exp_wd = exp_wd * traffic_info["scale"]
        exp_we = exp_we * traffic_info["scale"]
    forecast = forecast_traffic(actual, exp_wd, exp_we, start)
    rain = rainy_days(days, seed, soil.rain_probability)
    deposit = deposit_per_minute(layout.areas, actual, rain, soil)
    fdeposit = deposit_per_minute(layout.areas, forecast, rain, soil)
    crew = crew_from_staff(c, layout)
    if not crew:
        raise SiteLayoutError("no cleaner")
    return Scenario(layout, crew, days, start, actual, forecast, rain, deposit, fdeposit, soil,
                    crew_params, traffic_info)


def compare_policies(c: Community, *, days: int = 7, seed: int = 0,
                     traffic_csv: str | Path | None = None, start: dt.date | None = None,
                     soil: SoilParams | None = None, crew_params: CrewParams | None = None,
                     flow: FlowParams | None = None, tz: str = "Asia/Shanghai",
                     policies: tuple[str, ...] = POLICIES, progress=None) -> dict:
    """Run each policy on the same traffic and weather; return the comparison.

    Returns ``{"fixed": {...}, "demand": {...}, "plan": {...}, ...}``; each policy has
    ``rounds`` (cleanings done), ``labor_hours`` (walking + cleaning), and
    ``minutes_over_threshold`` (area-minutes above the cleanliness threshold), plus
    details. ``fixed`` is the best fixed timetable the crew can complete at the demand
    policy's labour hours (:func:`sim.cleaning.timetable.fair_timetable`: rounds
    proportional to average soil, ``backlog_rounds``, ``timetable``); ``fixed_today``
    today's timetable (:data:`CrewParams.fixed_per_day`, which overloads the crew).
    Top-level details: ``site``, ``days``, ``seed``, ``areas``, ``cleaners``, ``traffic``,
    ``rainy_days``, ``savings`` (demand vs fixed, %), ``savings_vs_today``,
    ``labor_hours`` (of each), ``plan_work_orders`` (the first day's plan as work-order
    requests).

    Raises
    ------
    CleaningParameterError
        ``days`` < 1.
    SiteLayoutError
        Nothing to clean.
    TrafficError
        A bad traffic CSV.
    """
    say = progress or (lambda msg: None)
    scn = prepare_scenario(c, days=days, seed=seed, traffic_csv=traffic_csv, start=start,
                           soil=soil, crew_params=crew_params, flow=flow, tz=tz, progress=progress)
    layout, crew, deposit, fdeposit = scn.layout, scn.crew, scn.deposit, scn.fdeposit
    soil, crew_params, start, rain, traffic_info = scn.soil, scn.params, scn.start, scn.rain, scn.traffic_info
    n = len(layout.areas)
    result: dict = {}
    fcum = np.zeros((n, fdeposit.shape[1] + 1))
    np.cumsum(fdeposit, axis=1, out=fcum[:, 1:])
    planner = make_planner(fcum, layout, crew, soil, crew_params)
    plans = []
    order = [p for p in ("demand", "plan") if p in policies or (p == "demand" and "fixed" in policies)]
    for policy in order + (["fixed"] if "fixed" in policies else []):
        say(f"simulating the {policy} policy over {days} days with {len(crew)} cleaners")
        tasks, state, made = run_policy(policy, layout, deposit, fdeposit, crew, days, soil=soil,
                                        params=crew_params, planner=planner)
        key = "fixed_today" if policy == "fixed" else policy
        result[key] = _summary(tasks, state, deposit, soil, layout)
        if policy == "fixed":
            result[key]["backlog_rounds"] = _today_backlog(layout, crew_params, days) - len(tasks)
        if policy == "plan":
            plans = made
    if "fixed" in policies:
        say("calibrating the fixed timetable the crew can complete to the demand policy's labour hours")
        fair = fair_timetable(layout, deposit, crew, days, result["demand"]["labor_hours"],
                              soil=soil, params=crew_params)
        result["fixed"] = _summary(fair.tasks, fair.state, deposit, soil, layout)
        result["fixed"].update({
            "backlog_rounds": fair.backlog_rounds, "rounds_planned": len(fair.rounds),
            "timetable": {"method": "rounds proportional to average soil rate, spread over the shifts",
                          "scale_rounds_per_g_m2": round(fair.scale, 4),
                          "window": [_hhmm(fair.window[0]), _hhmm(fair.window[1])],
                          "calibration_runs": fair.calibration_runs},
        })
        result["savings"] = _savings(result["fixed"], result["demand"])
        result["savings_vs_today"] = _savings(result["fixed_today"], result["demand"])
        result["labor_hours"] = {"fixed": result["fixed"]["labor_hours"],
                                 "demand": result["demand"]["labor_hours"],
                                 "fixed_today": result["fixed_today"]["labor_hours"]}
    result = {k: result[k] for k in ("fixed", "demand", "plan", "fixed_today", "savings",
                                     "savings_vs_today", "labor_hours") if k in result}
    result.update({
        "site": c.name, "days": days, "seed": seed, "start": start.isoformat(),
        "areas": n, "cleaners": [k.id for k in crew], "traffic": traffic_info,
        "rainy_days": int(rain.sum()),
        "threshold_g_m2": soil.threshold_g_m2,
    })
    if plans:
        result["plan_work_orders"] = plan_work_orders(plans[0], layout, start, tz=tz, params=crew_params)
    return result
