"""Counted traffic during the day → the soil of each counted area now → its next round moves.

The day's plan (:func:`sim.cleaning.plan.plan_day`) is made at midnight from forecast
traffic. During the day people counters and gates report the passages of some public
areas. For each counted area:

- counted passages so far today are compared with the forecast of the same minutes; the
  area **departs from the forecast** when counted > ``ratio`` × forecast + ``margin``
  (1.5 × and 30 passages by default — an event in the clubhouse, a rainy-day rush);
- its soil is recomputed on the live traffic: counted passages up to now (each minute's
  passages deposit their soil in that minute), the forecast after now, the planned
  cleanings up to now taken as done (and any the caller adds, such as completed orders);
- the first minute from now on at which that soil reaches ``trigger`` × threshold is the
  area's new due time; when it is more than ``min_shift_min`` before the next planned
  round, the round **moves** to it (same cleaner); when no round is left for the day and
  the due time falls within the shifts, a round is **added** (the cleaner on duty then).

Traffic below the forecast never drops a planned round (conservative: the plan stands).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.cleaning.areas import CleaningArea
from sim.cleaning.crews import Cleaner, CrewParams
from sim.cleaning.soiling import MINUTES_PER_DAY, SoilParams, deposit_per_minute

__all__ = ["Move", "LiveAdjustment", "adjust_plan", "live_deposit"]


@dataclass(frozen=True)
class Move:
    """One round moved (``planned_min`` set) or added (``planned_min`` None) by live traffic."""

    area: int
    planned_min: float | None
    new_min: float
    cleaner: str
    counted: int
    forecast: float


@dataclass
class LiveAdjustment:
    """Live view of one planned day at ``minute``: moves, counts and each counted area's soil.

    ``counted`` / ``forecast``: passages so far today per counted area; ``soil``: soil now
    (g/m²) of the counted areas on live traffic; ``moves``: per area index.
    """

    minute: float
    moves: dict[int, Move]
    counted: dict[int, int]
    forecast: dict[int, float]
    soil: dict[int, float]


def live_deposit(areas: list[CleaningArea], forecast: np.ndarray, counted: dict[int, np.ndarray],
                 minute: int, rain: bool, soil: SoilParams) -> np.ndarray:
    """Soil per minute of the day ``[area, 1440]`` on live traffic.

    ``forecast[a, h]``: forecast passages of hour ``h``; ``counted[a]``: passages counted in
    each minute of the day (only minutes before ``minute`` are used). Counted areas take
    their counts before ``minute`` and the forecast after; the others the forecast.
    """
    n = len(areas)
    base = deposit_per_minute(areas, np.zeros((n, 1, 24)), np.array([rain]), soil)
    unit = deposit_per_minute(areas, np.ones((n, 1, 24)), np.array([rain]), soil)
    per_pass = (unit[:, 0] - base[:, 0]) * 60.0  # g/m² per passage (the hourly model spreads 1/60)
    out = deposit_per_minute(areas, forecast[:, None, :], np.array([rain]), soil)
    m = int(min(max(minute, 0), MINUTES_PER_DAY))
    for a, per_min in counted.items():
        out[a, :m] = base[a, :m] + per_pass[a] * np.asarray(per_min[:m], dtype=float)
    return out


def _soil_now(cum: np.ndarray, cleanings: list[int], minute: int, soil: SoilParams) -> tuple[float, int]:
    """Soil at ``minute`` after the cleanings up to it (one in this very minute included);
    return ``(base, since)``."""
    base, since = soil.initial_share * soil.threshold_g_m2, 0
    for c in sorted(cleanings):
        if c > minute:
            break
        base = soil.residual * (base + cum[c] - cum[since])
        since = c
    return base, since


def adjust_plan(areas: list[CleaningArea], plan: list[tuple[float, int, str]], cleanings: list[list[int]],
                forecast: np.ndarray, counted: dict[int, np.ndarray], minute: float, *, rain: bool,
                crew: list[Cleaner], soil: SoilParams | None = None, params: CrewParams | None = None,
                ratio: float = 1.5, margin: float = 30.0, min_shift_min: float = 15.0) -> LiveAdjustment:
    """Move the next round of each counted area whose traffic departs from the forecast.

    ``plan``: the day's ``(start minute, area, cleaner)``; ``cleanings[a]``: minutes the
    area was cleaned (as planned) today; ``forecast[a, 24]``: forecast passages per hour;
    ``counted[a][1440]``: counted passages per minute; ``minute``: now (from midnight).
    """
    soil = soil or SoilParams()
    params = params or CrewParams()
    m = int(min(max(minute, 0), MINUTES_PER_DAY - 1))
    dep = live_deposit(areas, forecast, counted, m, rain, soil)
    cum = np.zeros((len(areas), MINUTES_PER_DAY + 1))
    np.cumsum(dep, axis=1, out=cum[:, 1:])
    hi = int(max(c.shift_end_min for c in crew)) if crew else 0
    hi = min(hi, MINUTES_PER_DAY)
    out = LiveAdjustment(float(minute), {}, {}, {}, {})
    for a, per_min in counted.items():
        got = int(np.asarray(per_min[:m]).sum())
        full, part = divmod(m, 60)
        expected = float(forecast[a, :full].sum() + (forecast[a, full] * part / 60.0 if full < 24 else 0.0))
        base, since = _soil_now(cum[a], cleanings[a], m, soil)
        out.counted[a], out.forecast[a] = got, round(expected, 1)
        out.soil[a] = float(base + cum[a, m] - cum[a, since])
        if not got > ratio * expected + margin:
            continue
        level = base + cum[a, m:hi + 1] - cum[a, since]
        due_idx = np.nonzero(level >= params.trigger * soil.threshold_g_m2)[0]
        if len(due_idx) == 0:
            continue
        due = float(m + due_idx[0])
        ahead = sorted((t, cid) for t, area, cid in plan if area == a and t >= minute)
        if ahead:
            planned, cid = ahead[0]
            if due < planned - min_shift_min:
                out.moves[a] = Move(a, planned, max(due, float(minute)), cid, got, round(expected, 1))
        else:
            on_duty = [c for c in crew if c.shift_start_min <= due < c.shift_end_min]
            if on_duty:
                out.moves[a] = Move(a, None, max(due, float(minute)), on_duty[0].id, got, round(expected, 1))
    return out
