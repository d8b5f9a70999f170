"""Tomorrow's cleaning plan from forecast traffic, and its work-order requests (保洁巡检).

:func:`plan_day` looks at each area's soil at midnight and the forecast deposits of the
day: it schedules a cleaning when the forecast soil reaches ``trigger`` × threshold during
the shift, and a last sweep before the shift ends when the forecast says the area would
cross the threshold overnight. Tasks are then given to the cleaner who can start first
(walking from the previous task), within shift hours; :func:`plan_work_orders` turns the
plan into plain work-order requests for the staff.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from sim.cleaning.areas import SiteLayout
from sim.cleaning.crews import Cleaner, CrewParams, SoilState, task_minutes
from sim.cleaning.soiling import MINUTES_PER_DAY, SoilParams

__all__ = ["plan_day", "plan_work_orders", "make_planner"]


def _due_times(s0: float, fc: np.ndarray, lo: int, hi: int, nxt: int, soil: SoilParams,
               p: CrewParams) -> list[int]:
    """Minutes in ``[lo, hi)`` at which one area needs cleaning on the forecast ``fc``."""
    T = soil.threshold_g_m2
    out: list[int] = []
    base, since = s0, lo
    while True:
        level = base + fc[lo:hi + 1] - fc[since]
        skip = 1 if out else 0  # a cleaning is never due twice in the same minute
        idx = np.nonzero(level[since - lo + skip:] >= p.trigger * T)[0]
        if len(idx) == 0:
            break
        t = since + skip + int(idx[0])
        if t >= hi:
            break
        out.append(t)
        base = soil.residual * (base + fc[t] - fc[since])
        since = t
    end_level = base + fc[hi] - fc[since] + fc[min(nxt, len(fc) - 1)] - fc[hi]
    sweep = int(hi - p.sweep_window_min)
    if end_level > T and (not out or out[-1] < sweep):
        out.append(max(sweep, lo))
    return out


def plan_day(day: int, state: SoilState, forecast_cum: np.ndarray, layout: SiteLayout,
             crew: list[Cleaner], soil: SoilParams, params: CrewParams) -> list[tuple[float, int, str]]:
    """Return the plan of ``day``: ``(start minute, area index, cleaner id)`` sorted by time."""
    if not crew:
        return []
    d0 = day * MINUTES_PER_DAY
    lo = int(d0 + min(c.shift_start_min for c in crew))
    hi = int(d0 + max(c.shift_end_min for c in crew))
    hi = min(hi, forecast_cum.shape[1] - 1)
    nxt = lo + MINUTES_PER_DAY
    due: list[tuple[int, int]] = []
    for a in range(len(layout.areas)):
        s_mid = state.soil(a, d0)
        s_lo = s_mid + forecast_cum[a, lo] - forecast_cum[a, d0]
        for t in _due_times(s_lo, forecast_cum[a], lo, hi, nxt, soil, params):
            due.append((t, a))
    due.sort()
    free = {c.id: d0 + c.shift_start_min for c in crew}
    pos = {c.id: c.base for c in crew}
    out = []
    speed = params.walk_speed_m_s * 60.0
    for t, a in due:
        best = None
        for c in crew:
            walk = layout.distance_m[pos[c.id], a] / speed
            start = max(free[c.id], t - walk)
            if start >= d0 + c.shift_end_min:
                continue
            if best is None or start < best[0]:
                best = (start, c, walk)
        if best is None:
            continue
        start, c, walk = best
        out.append((float(start), a, c.id))
        free[c.id] = start + walk + task_minutes(layout.areas[a], params.trigger, params)
        pos[c.id] = a
    return out


def make_planner(forecast_cum: np.ndarray, layout: SiteLayout, crew: list[Cleaner],
                 soil: SoilParams, params: CrewParams):
    """A ``planner(day, state)`` for :func:`sim.cleaning.crews.run_policy`."""
    def planner(day: int, state: SoilState):
        return plan_day(day, state, forecast_cum, layout, crew, soil, params)
    return planner


def plan_work_orders(plan: list[tuple[float, int, str]], layout: SiteLayout,
                     start: dt.date, *, tz: str = "Asia/Shanghai",
                     params: CrewParams | None = None) -> list[dict]:
    """Turn a plan into cleaning work-order requests (保洁巡检), one per task.

    Each request: ``kind`` ("cleaning-inspection"), ``category`` ("保洁"), ``scope``
    ("public"), ``title``, ``area_id``, ``area_kind``, ``assignee`` (staff id),
    ``scheduled_at`` (ISO 8601 with the site's offset), ``estimated_minutes``,
    ``source`` ("cleaning-plan"), ``dedupe_key``.
    """
    from zoneinfo import ZoneInfo

    params = params or CrewParams()
    zone = ZoneInfo(tz)
    out = []
    for minute, a, cid in plan:
        area = layout.areas[a]
        when = dt.datetime.combine(start, dt.time(0), tzinfo=zone) + dt.timedelta(minutes=float(minute))
        out.append({
            "kind": "cleaning-inspection", "category": "保洁", "scope": "public",
            "title": f"保洁巡检 {area.name}", "area_id": area.id, "area_kind": area.kind,
            "assignee": cid, "scheduled_at": when.isoformat(timespec="minutes"),
            "estimated_minutes": round(task_minutes(area, params.trigger, params), 1),
            "source": "cleaning-plan", "dedupe_key": f"cleaning-plan:{area.id}:{when:%Y-%m-%dT%H:%M}",
        })
    return out
