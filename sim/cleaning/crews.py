"""A SimPy discrete-event model of cleaning crews under three policies.

Time is in minutes from midnight of day 0. Cleaners work their shifts, walk between areas
along the walking distances of :class:`sim.cleaning.areas.SiteLayout`, and clean; a task
takes ``setup_min + area / rate(kind) × (1 + 0.5 × min(soil / threshold, 2))`` minutes.
Soil follows :mod:`sim.cleaning.soiling` exactly (cleanings take effect at whole minutes,
the convention of :func:`sim.cleaning.soiling.minutes_over_kernel`).

Policies:

- ``fixed``: today's practice — every area is cleaned a fixed number of times a day
  (lobbies 3, corridors and elevator halls 1, stairwells twice a week...), rounds released
  at fixed hours into one first-in-first-out queue that the cleaners work through;
- ``demand``: dispatch from the soil each area has collected (people counters or the
  crowd-flow estimate): a free cleaner takes the area most over ``trigger`` × threshold,
  nearer areas first among equals; in the last part of the shift, areas that the forecast
  says would cross the threshold before the next shift are swept too;
- ``plan``: a timetable for tomorrow made the evening before from forecast traffic
  (:func:`sim.cleaning.plan.plan_day`), executed as planned whatever the real traffic.

The generic piece is :func:`fifo_worker`: a worker that takes tasks from a
``simpy.Store`` while on duty; the machine-repair test checks it against the M/M/c//N
closed form.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Iterator

import numpy as np
import simpy

from sim.cleaning.areas import CleaningArea, SiteLayout
from sim.cleaning.errors import CleaningParameterError
from sim.cleaning.soiling import MINUTES_PER_DAY, SoilParams

__all__ = ["Cleaner", "CrewParams", "SoilState", "Task", "fifo_worker", "run_policy",
           "run_timetable", "task_minutes", "POLICIES", "parse_shift"]

POLICIES = ("fixed", "demand", "plan")

_RATE_M2_MIN = {"lobby": 4.0, "elevator_hall": 4.0, "corridor": 4.0, "stair": 1.5,
                "garage": 25.0, "plaza": 12.0, "path": 12.0, "playground": 6.0, "gate": 6.0,
                "clubhouse": 4.0}
#: Today's timetable (visits per day; below 1: every 1/x days), after common 小区 cleaning
#: standards: lobbies mopped 3× a day, halls and corridors daily, stairwells twice a week,
#: squares, playgrounds and gates swept twice a day, paths and the garage daily.
_FIXED_PER_DAY = {"lobby": 3, "elevator_hall": 1, "corridor": 1, "stair": 2 / 7, "garage": 1,
                  "plaza": 2, "path": 1, "playground": 2, "gate": 2, "clubhouse": 1}

#: Order of a fixed round: the most visible areas first, building by building, bottom up.
_FIXED_ORDER = ("lobby", "gate", "plaza", "playground", "clubhouse", "elevator_hall",
                "corridor", "garage", "path", "stair")


@dataclass(frozen=True)
class CrewParams:
    """Crew and policy parameters (minutes, metres, m²/min)."""

    walk_speed_m_s: float = 1.0
    setup_min: float = 3.0
    rate_m2_min: dict = field(default_factory=lambda: dict(_RATE_M2_MIN))
    fixed_per_day: dict = field(default_factory=lambda: dict(_FIXED_PER_DAY))
    round_hours: tuple[float, ...] = (7.0, 11.0, 14.5)
    trigger: float = 0.7
    sweep_window_min: float = 120.0
    idle_poll_min: float = 10.0
    distance_weight_per_km: float = 0.5

    def validate(self) -> None:
        """Raise :class:`CleaningParameterError` naming the first bad field."""
        if not self.walk_speed_m_s > 0:
            raise CleaningParameterError(f"walk_speed_m_s={self.walk_speed_m_s} must be > 0")
        if not 0 < self.trigger <= 1:
            raise CleaningParameterError(f"trigger={self.trigger} must be in (0, 1]")
        if self.idle_poll_min <= 0:
            raise CleaningParameterError(f"idle_poll_min={self.idle_poll_min} must be > 0")


@dataclass(frozen=True)
class Cleaner:
    """A cleaner: id, daily shift in minutes from midnight, base area index."""

    id: str
    shift_start_min: float
    shift_end_min: float
    base: int = 0


def parse_shift(text: str | None, default: str = "07:00-17:00") -> tuple[float, float]:
    """``"HH:MM-HH:MM"`` → (start, end) minutes from midnight (end past midnight: +1440)."""
    text = (text or default).strip()
    try:
        a, b = text.split("-")
        start = int(a[:2]) * 60 + int(a[3:5])
        end = int(b[:2]) * 60 + int(b[3:5])
    except (ValueError, IndexError):
        raise CleaningParameterError(f"shift={text!r} is not HH:MM-HH:MM") from None
    if not (0 <= start < 1440 and 0 <= end < 1440) or start == end:
        raise CleaningParameterError(f"shift={text!r} is not HH:MM-HH:MM")
    return float(start), float(end if end > start else end + 1440)


@dataclass
class Task:
    """A cleaning done: area index, cleaner, walk and clean times (minutes)."""

    area: int
    cleaner: str
    start_min: float
    end_min: float
    walk_min: float
    soil_ratio: float


class SoilState:
    """Soil of every area over time from cumulative deposits ``cum[a, minute]``.

    Invariant: soil(a, m) = ``base[a]`` + cum[a, m] − cum[a, since[a]]; a cleaning at whole
    minute m sets ``base`` = residual × soil and ``since`` = m.
    """

    def __init__(self, cum: np.ndarray, params: SoilParams):
        self.cum = cum
        self.params = params
        n = cum.shape[0]
        self.base = np.full(n, params.initial_share * params.threshold_g_m2)
        self.since = np.zeros(n, dtype=np.int64)
        self.cleanings: list[list[int]] = [[] for _ in range(n)]

    def _m(self, t: float) -> int:
        return min(int(math.ceil(t - 1e-9)), self.cum.shape[1] - 1)

    def soil(self, a: int, t: float) -> float:
        """Soil density (g/m²) of area ``a`` at time ``t`` (minutes)."""
        m = self._m(t)
        return self.base[a] + self.cum[a, m] - self.cum[a, self.since[a]]

    def ratios(self, t: float) -> np.ndarray:
        """Soil / threshold of every area at time ``t``."""
        m = self._m(t)
        return (self.base + self.cum[:, m] - self.cum[np.arange(len(self.base)), self.since]) \
            / self.params.threshold_g_m2

    def clean(self, a: int, t: float) -> None:
        """Record a cleaning of area ``a`` ending at time ``t``."""
        m = self._m(t)
        if m < self.since[a]:
            return
        self.base[a] = self.params.residual * self.soil(a, m)
        self.since[a] = m
        self.cleanings[a].append(m)


def task_minutes(area: CleaningArea, soil_ratio: float, params: CrewParams) -> float:
    """Minutes to clean an area at a given soil / threshold ratio."""
    rate = params.rate_m2_min.get(area.kind, 4.0)
    return params.setup_min + area.area_m2 / rate * (1.0 + 0.5 * min(max(soil_ratio, 0.0), 2.0))


def fifo_worker(env: simpy.Environment, queue: simpy.Store,
                serve: Callable[[object], Iterator], on_duty: Callable[[float], tuple[float, float]]):
    """A worker process: take tasks first-in-first-out from ``queue`` while on duty.

    ``on_duty(now)`` returns the current or next duty window ``(start, end)``; ``serve(task)``
    is a generator that performs one task. A task started before the end is finished.
    """
    while True:
        start, end = on_duty(env.now)
        if start == math.inf:
            return
        if env.now < start:
            yield env.timeout(start - env.now)
        while env.now < end:
            get = queue.get()
            if end == math.inf:
                task = yield get
            else:
                got = yield get | env.timeout(end - env.now)
                if get not in got:
                    get.cancel()
                    break
                task = got[get]
            yield from serve(task)


def _duty(cleaner: Cleaner, days: int) -> Callable[[float], tuple[float, float]]:
    def on_duty(now: float) -> tuple[float, float]:
        d = int(now // MINUTES_PER_DAY)
        for day in (d - 1, d, d + 1):
            s = day * MINUTES_PER_DAY + cleaner.shift_start_min
            e = day * MINUTES_PER_DAY + cleaner.shift_end_min
            if day >= 0 and now < e and day < days:
                return max(s, now if now >= s else s), e
        return math.inf, math.inf
    return on_duty


class _Run:
    """State shared by the processes of one policy run."""

    def __init__(self, layout: SiteLayout, cum: np.ndarray, forecast_cum: np.ndarray,
                 crew: list[Cleaner], days: int, soil: SoilParams, params: CrewParams):
        self.env = simpy.Environment()
        self.layout, self.crew, self.days = layout, crew, days
        self.params, self.soil_params = params, soil
        self.state = SoilState(cum, soil)
        self.forecast_cum = forecast_cum
        self.pos = {c.id: c.base for c in crew}
        self.busy = np.zeros(len(layout.areas), dtype=bool)
        self.tasks: list[Task] = []
        self.plans: list[list[tuple[float, int, str]]] = []

    def walk_min(self, cleaner: str, area: int) -> float:
        return self.layout.distance_m[self.pos[cleaner], area] / self.params.walk_speed_m_s / 60.0

    def do(self, cleaner: Cleaner, area: int) -> Iterator:
        """Walk to an area and clean it."""
        env = self.env
        self.busy[area] = True
        start = env.now
        walk = self.walk_min(cleaner.id, area)
        if np.isfinite(walk) and walk > 0:
            yield env.timeout(walk)
        ratio = self.state.soil(area, env.now) / self.soil_params.threshold_g_m2
        yield env.timeout(task_minutes(self.layout.areas[area], ratio, self.params))
        self.state.clean(area, env.now)
        self.pos[cleaner.id] = area
        self.busy[area] = False
        self.tasks.append(Task(area, cleaner.id, start, env.now, walk if np.isfinite(walk) else 0.0, ratio))


# -- policies -------------------------------------------------------------------------------
def _fixed_due(per_day: float, area: int, day: int, round_k: int) -> bool:
    """Whether the fixed timetable cleans an area in round ``round_k`` of ``day``.

    ``per_day`` >= 1: the first ``per_day`` rounds of every day; below 1: the first round
    of every ``round(1 / per_day)``-th day, staggered by area so the load spreads.
    """
    if per_day >= 1:
        return round_k < per_day
    every = max(1, round(1.0 / per_day))
    return round_k == 0 and (day + area) % every == 0


def _fixed(run: _Run) -> None:
    env, p = run.env, run.params
    queue = simpy.Store(env)
    first = {k: n for n, k in enumerate(_FIXED_ORDER)}
    order = sorted(range(len(run.layout.areas)),
                   key=lambda i: (first.get(run.layout.areas[i].kind, len(first)),
                                  run.layout.areas[i].building_id or "~",
                                  run.layout.areas[i].floor, run.layout.areas[i].id))

    def releases():
        for d in range(run.days):
            for k, hour in enumerate(p.round_hours):
                t = d * MINUTES_PER_DAY + hour * 60.0
                yield env.timeout(max(0.0, t - env.now))
                if k == 0:
                    queue.items.clear()  # yesterday's unfinished rounds are dropped
                    for c in run.crew:
                        run.pos[c.id] = c.base
                for i in order:
                    if _fixed_due(p.fixed_per_day.get(run.layout.areas[i].kind, 1), i, d, k):
                        queue.put(i)

    env.process(releases())
    for c in run.crew:
        env.process(fifo_worker(env, queue, lambda area, c=c: run.do(c, area), _duty(c, run.days)))


def _demand(run: _Run) -> None:
    env, p, T = run.env, run.params, run.soil_params.threshold_g_m2

    def overnight(t: float, cleaner: Cleaner) -> np.ndarray:
        """Soil ratio each area would reach by the next shift start, on the forecast."""
        d = int(t // MINUTES_PER_DAY)
        nxt = min((d + 1) * MINUTES_PER_DAY + cleaner.shift_start_min, run.forecast_cum.shape[1] - 1)
        m = min(int(math.ceil(t)), run.forecast_cum.shape[1] - 1)
        return run.state.ratios(t) + (run.forecast_cum[:, int(nxt)] - run.forecast_cum[:, m]) / T

    def worker(c: Cleaner):
        on_duty = _duty(c, run.days)
        while True:
            start, end = on_duty(env.now)
            if start == math.inf:
                return
            if env.now < start:
                yield env.timeout(start - env.now)
                run.pos[c.id] = c.base
            while env.now < end:
                ratio = run.state.ratios(env.now)
                want = ratio >= p.trigger
                if env.now >= end - p.sweep_window_min:
                    want |= overnight(env.now, c) > 1.0
                want &= ~run.busy
                if want.any():
                    score = ratio - p.distance_weight_per_km * run.layout.distance_m[run.pos[c.id]] / 1000.0
                    score = np.where(want & np.isfinite(score), score, -np.inf)
                    best = int(np.argmax(score))
                    if np.isfinite(score[best]):
                        yield from run.do(c, best)
                        continue
                yield env.timeout(min(p.idle_poll_min, end - env.now))

    for c in run.crew:
        env.process(worker(c))


def _planned(run: _Run, planner) -> None:
    env = run.env

    def day_worker(c: Cleaner, day: int, items: list[tuple[float, int]]):
        start = day * MINUTES_PER_DAY + c.shift_start_min
        if env.now < start:
            yield env.timeout(start - env.now)
        run.pos[c.id] = c.base
        for t, area in items:
            if env.now < t:
                yield env.timeout(t - env.now)
            yield from run.do(c, area)

    def days():
        for d in range(run.days):
            yield env.timeout(max(0.0, d * MINUTES_PER_DAY - env.now))
            plan = planner(d, run.state)
            run.plans.append(plan)
            for c in run.crew:
                items = sorted((t, a) for t, a, cid in plan if cid == c.id)
                if items:
                    env.process(day_worker(c, d, items))

    env.process(days())


def run_policy(policy: str, layout: SiteLayout, deposit: np.ndarray, forecast: np.ndarray,
               crew: list[Cleaner], days: int, *, soil: SoilParams | None = None,
               params: CrewParams | None = None, planner=None) -> tuple[list[Task], SoilState, list]:
    """Run one policy over ``days`` days; return the tasks done and the final soil state.

    ``deposit`` / ``forecast``: soil deposited per minute ``[area, days × 1440]``, actual
    and as forecast (the demand policy looks ahead on the forecast only). ``planner``
    (for ``plan``): ``planner(day, soil_state) -> [(minute, area, cleaner id)]``, called
    at midnight before each day. Returns ``(tasks, soil state, plans made)``.
    """
    soil = soil or SoilParams()
    params = params or CrewParams()
    params.validate()
    if policy not in POLICIES:
        raise CleaningParameterError(f"policy={policy!r} must be one of {', '.join(POLICIES)}")
    if not crew:
        raise CleaningParameterError("crew is empty: no cleaner to run the policy")
    cum = _cum(deposit)
    run = _Run(layout, cum, _cum(forecast), crew, days, soil, params)
    if policy == "fixed":
        _fixed(run)
    elif policy == "demand":
        _demand(run)
    else:
        if planner is None:
            raise CleaningParameterError("policy='plan' needs a planner")
        _planned(run, planner)
    run.env.run(until=days * MINUTES_PER_DAY)
    return run.tasks, run.state, run.plans


def run_timetable(layout: SiteLayout, deposit: np.ndarray, crew: list[Cleaner], days: int,
                  rounds: list[tuple[float, int]], *, day_start_min: float,
                  soil: SoilParams | None = None,
                  params: CrewParams | None = None) -> tuple[list[Task], SoilState, int]:
    """Carry out a fixed timetable: each ``(minute, area)`` round is released at its minute.

    Released rounds go into one first-in-first-out queue that the cleaners on duty work
    through (:func:`fifo_worker`). At ``day_start_min`` of every day the cleaners start from
    their base again and what is still queued is dropped (it was not done on its day).
    Returns ``(tasks, soil state, rounds dropped)``: the backlog the crew could not finish.
    """
    soil = soil or SoilParams()
    params = params or CrewParams()
    params.validate()
    if not crew:
        raise CleaningParameterError("crew is empty: no cleaner to run the timetable")
    run = _Run(layout, _cum(deposit), _cum(deposit), crew, days, soil, params)
    env = run.env
    queue = simpy.Store(env)
    dropped = [0]
    ordered = sorted(rounds)

    def new_day(d: int):
        dropped[0] += len(queue.items)
        queue.items.clear()
        for c in run.crew:
            run.pos[c.id] = c.base

    def releases():
        d_next = 0
        for minute, area in ordered:
            while d_next * MINUTES_PER_DAY + day_start_min <= minute and d_next < days:
                yield env.timeout(max(0.0, d_next * MINUTES_PER_DAY + day_start_min - env.now))
                new_day(d_next)
                d_next += 1
            yield env.timeout(max(0.0, minute - env.now))
            queue.put(area)
        yield env.timeout(max(0.0, days * MINUTES_PER_DAY - 1e-6 - env.now))
        dropped[0] += len(queue.items)  # still queued at the end: never done

    env.process(releases())
    for c in run.crew:
        env.process(fifo_worker(env, queue, lambda area, c=c: run.do(c, area), _duty(c, days)))
    env.run(until=days * MINUTES_PER_DAY)
    return run.tasks, run.state, dropped[0]


def _cum(deposit: np.ndarray) -> np.ndarray:
    cum = np.zeros((deposit.shape[0], deposit.shape[1] + 1))
    np.cumsum(deposit, axis=1, out=cum[:, 1:])
    return cum
