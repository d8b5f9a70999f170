"""The best fixed timetable a crew can complete, at a given labour budget.

Today's timetable (:data:`sim.cleaning.crews.CrewParams.fixed_per_day`) asks more rounds
than the crew can do, so comparing demand-driven dispatch with it mostly measures the
backlog. The fair baseline is the fixed timetable a planner would write knowing each
area's *average* soiling and nothing of the day-to-day traffic:

- each area gets rounds in proportion to its average soil rate over the period (its foot
  traffic × surface × weather × mats over its floor area, plus the background, in g/m²
  per day) — so that every area is cleaned when it has collected about the same soil;
- an area's rounds are spread evenly over the crew's working time (the union of the
  shifts, ending ``margin_min`` before the last shift ends so the last round still fits),
  each area shifted by its own phase (golden-ratio sequence) so the load spreads;
- the scale (rounds per g/m²) is calibrated by simulation until the timetable's labour
  hours (walking + cleaning, the same measure as the other policies) match a target
  within ``tolerance``; rounds the crew could not finish on their day are reported as
  ``backlog_rounds`` (0 for a timetable the crew can complete).

The average is taken over the simulated period itself — hindsight the fixed timetable
could not have — so the comparison is, if anything, generous to the fixed timetable.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sim.cleaning.areas import SiteLayout
from sim.cleaning.crews import (Cleaner, CrewParams, SoilState, Task, run_timetable,
                                task_minutes)
from sim.cleaning.errors import CleaningParameterError
from sim.cleaning.soiling import MINUTES_PER_DAY, SoilParams

__all__ = ["FairTimetable", "fair_timetable", "timetable_rounds"]

_PHI = (math.sqrt(5.0) - 1.0) / 2.0  # golden-ratio phases: evenly spread, never repeating


@dataclass
class FairTimetable:
    """A calibrated proportional timetable and how the crew carried it out.

    ``rounds``: ``(minute from day 0, area index)`` of every round of the period;
    ``scale``: rounds per g/m² of average soil; ``tasks``/``state``: the simulation;
    ``backlog_rounds``: rounds not done on their day; ``calibration_runs``: simulations.
    """

    rounds: list[tuple[float, int]]
    scale: float
    window: tuple[float, float]
    tasks: list[Task]
    state: SoilState
    backlog_rounds: int
    calibration_runs: int

    @property
    def labor_hours(self) -> float:
        """Walking + cleaning hours of the tasks done."""
        return sum(t.end_min - t.start_min for t in self.tasks) / 60.0


def timetable_rounds(rate_g_m2_day: np.ndarray, scale: float, days: int,
                     window: tuple[float, float]) -> list[tuple[float, int]]:
    """Rounds of a proportional timetable: ``scale × rate[a] × days`` rounds for area ``a``.

    The total ``round(scale × Σ rate × days)`` is shared in proportion to ``rate`` by the
    largest-remainder method (ties: lower area index first), so each area gets the floor or
    the ceiling of its share and the total moves one round at a time with ``scale``. The
    rounds of an area are evenly spaced over the working time of the period (``days``
    windows ``[start, end)`` minutes of each day laid end to end), the first at phase
    ``frac(a × 0.618…)`` of the spacing. Returns ``(minute from day 0, area)`` sorted.
    """
    start, end = window
    width = end - start
    if not width > 0:
        raise CleaningParameterError(f"working window {window} is empty")
    if not (np.isfinite(scale) and scale >= 0):
        raise CleaningParameterError(f"scale={scale} must be a finite number >= 0")
    share = scale * np.maximum(np.asarray(rate_g_m2_day, dtype=float), 0.0) * days
    counts = np.floor(share).astype(np.int64)
    extra = int(round(float(share.sum()))) - int(counts.sum())
    if extra > 0:
        order = np.lexsort((np.arange(len(share)), -(share - counts)))
        counts[order[:extra]] += 1
    total = width * days
    out = []
    for a, n in enumerate(counts):
        if n <= 0:
            continue
        spacing = total / n
        phase = (a * _PHI) % 1.0
        for k in range(int(n)):
            d, within = divmod((k + phase) * spacing, width)
            out.append((d * MINUTES_PER_DAY + start + within, a))
    out.sort()
    return out


def _window(crew: list[Cleaner], margin_min: float) -> tuple[float, float]:
    start = min(c.shift_start_min for c in crew)
    end = max(c.shift_end_min for c in crew) - margin_min
    if end <= start:
        raise CleaningParameterError(f"margin_min={margin_min} leaves no working time in the shifts")
    return float(start), float(end)


def fair_timetable(layout: SiteLayout, deposit: np.ndarray, crew: list[Cleaner], days: int,
                   target_labor_hours: float, *, soil: SoilParams | None = None,
                   params: CrewParams | None = None, tolerance: float = 0.02,
                   margin_min: float = 60.0, max_runs: int = 12) -> FairTimetable:
    """Calibrate a proportional timetable to ``target_labor_hours`` and carry it out.

    ``deposit``: soil deposited per minute ``[area, days × 1440]`` (g/m²), the same actual
    deposits the policies are scored on. The scale starts from an estimate (target hours
    over the hours of one round at the trigger soil) and is corrected by the ratio of
    target to simulated hours (secant steps once two runs bracket the target), until the
    hours are within ``tolerance`` or ``max_runs`` simulations were made; the run closest to
    the target is returned.

    Raises
    ------
    CleaningParameterError
        ``target_labor_hours`` <= 0, an empty crew or working window.
    """
    soil = soil or SoilParams()
    params = params or CrewParams()
    if not (np.isfinite(target_labor_hours) and target_labor_hours > 0):
        raise CleaningParameterError(f"target_labor_hours={target_labor_hours} must be > 0")
    if not crew:
        raise CleaningParameterError("crew is empty: no cleaner to run the timetable")
    window = _window(crew, margin_min)
    rate = deposit.sum(axis=1) / days
    per_round = np.array([task_minutes(a, 1.0, params) for a in layout.areas]) / 60.0
    scale = target_labor_hours / max(float((rate * per_round).sum() * days), 1e-9)
    best: FairTimetable | None = None
    tried: list[tuple[float, float]] = []  # (scale, hours)
    for run in range(1, max_runs + 1):
        rounds = timetable_rounds(rate, scale, days, window)
        tasks, state, dropped = run_timetable(layout, deposit, crew, days, rounds,
                                              day_start_min=window[0], soil=soil, params=params)
        got = FairTimetable(rounds, scale, window, tasks, state, dropped, run)
        hours = got.labor_hours
        tried.append((scale, hours))
        if best is None or abs(hours - target_labor_hours) < abs(best.labor_hours - target_labor_hours):
            best = got
        if abs(hours / target_labor_hours - 1.0) <= tolerance:
            break
        scale = _next_scale(tried, target_labor_hours)
    best.calibration_runs = len(tried)
    return best


def _next_scale(tried: list[tuple[float, float]], target: float) -> float:
    """Next scale: secant between the closest runs below and above the target, else ratio."""
    below = [t for t in tried if t[1] < target]
    above = [t for t in tried if t[1] > target]
    if below and above:
        (s0, h0), (s1, h1) = max(below, key=lambda t: t[1]), min(above, key=lambda t: t[1])
        return s0 + (target - h0) * (s1 - s0) / (h1 - h0)
    s, h = tried[-1]
    return s * target / max(h, 1e-9)
