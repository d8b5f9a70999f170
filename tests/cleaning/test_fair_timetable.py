"""The fair fixed baseline of ``twin cleaning compare``: the timetable the crew completes.

Labour hours are recomputed here from each task's walk and cleaning time with the
published model (docs/cleaning.md: 1 m/s, 3 min setup, area / rate × (1 + 0.5 ×
min(soil ratio, 2))), not taken from the code's summary.
"""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.cleaning.compare import prepare_scenario
from sim.cleaning.crews import run_policy
from sim.cleaning.errors import CleaningParameterError
from sim.cleaning.timetable import fair_timetable, timetable_rounds
from tests.cleaning.community import make_community
from tests.conftest import SAMPLE_SITES

#: cleaning rates of docs/cleaning.md, m²/min
RATES = {"lobby": 4, "elevator_hall": 4, "corridor": 4, "stair": 1.5, "garage": 25, "plaza": 12,
         "path": 12, "playground": 6, "gate": 6, "clubhouse": 4}


def hand_labour_hours(tasks, layout, crew) -> float:
    """Σ walk (distance from the cleaner's previous area, or base at a new day) + cleaning."""
    base = {c.id: c.base for c in crew}
    total = 0.0
    for cid in base:
        prev, prev_day = base[cid], None
        for t in sorted((t for t in tasks if t.cleaner == cid), key=lambda t: t.start_min):
            day = int(t.start_min // 1440)
            if day != prev_day:
                prev = base[cid]
            area = layout.areas[t.area]
            d = layout.distance_m[prev, t.area]
            walk = d / 60.0 if math.isfinite(d) else 0.0
            clean = 3.0 + area.area_m2 / RATES[area.kind] * (1 + 0.5 * min(max(t.soil_ratio, 0), 2))
            assert t.end_min - t.start_min == pytest.approx(walk + clean, abs=1e-6)
            total += walk + clean
            prev, prev_day = t.area, day
    return total / 60.0


def _site(name):
    if name == "town":
        return make_community(2, 10, 4, cleaners=2)
    from services.cli.cleaning import load_site_community

    return load_site_community(SAMPLE_SITES / name)


@pytest.mark.parametrize("site,seed", [("town", 3), ("tiny", 1), ("lakeside", 1)])
def test_equal_labour_no_backlog(site, seed):
    scn = prepare_scenario(_site(site), days=7, seed=seed)
    tasks_d, state_d, _ = run_policy("demand", scn.layout, scn.deposit, scn.fdeposit, scn.crew, 7,
                                     soil=scn.soil, params=scn.params)
    demand_h = hand_labour_hours(tasks_d, scn.layout, scn.crew)
    fair = fair_timetable(scn.layout, scn.deposit, scn.crew, 7, demand_h, soil=scn.soil, params=scn.params)
    fixed_h = hand_labour_hours(fair.tasks, scn.layout, scn.crew)
    assert abs(fixed_h / demand_h - 1) <= 0.05, (fixed_h, demand_h)
    # no backlog: every round of the timetable was done, on its own day, after its release
    planned = Counter((int(m // 1440), a) for m, a in fair.rounds)
    done = Counter((int(t.start_min // 1440), t.area) for t in fair.tasks)
    assert fair.backlog_rounds == 0 and done == planned
    # rounds proportional to the average soil rate: floor or ceiling of each area's share
    rate = scn.deposit.sum(axis=1) / 7
    per_area = Counter(a for _, a in fair.rounds)
    share = fair.scale * rate * 7
    for a in range(len(scn.layout.areas)):
        assert math.floor(share[a]) <= per_area.get(a, 0) <= math.ceil(share[a])


@pytest.mark.parametrize("n,days,start,end", [(1, 1, 360, 1200), (5, 7, 420, 1020), (40, 3, 0, 1439)])
def test_rounds_evenly_spread_in_working_time(n, days, start, end):
    rounds = timetable_rounds(np.array([n / days / 2.0]), 2.0, days, (start, end))
    assert len(rounds) == n
    # working-time positions: equal gaps of days × width / n
    width = end - start
    pos = [(m // 1440) * width + (m % 1440 - start) for m, _ in rounds]
    assert all(start <= m % 1440 < end for m, _ in rounds)
    gaps = np.diff(pos)
    assert np.allclose(gaps, days * width / n)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(0, 50, allow_nan=False), min_size=1, max_size=30),
       st.floats(0, 5), st.integers(1, 14))
def test_rounds_total_and_shares(rates, scale, days):
    rate = np.array(rates)
    rounds = timetable_rounds(rate, scale, days, (360.0, 1200.0))
    share = scale * rate * days
    assert len(rounds) == round(float(share.sum()))
    per_area = Counter(a for _, a in rounds)
    for a, s in enumerate(share):
        assert math.floor(s) <= per_area.get(a, 0) <= math.ceil(s)
    assert [m for m, _ in rounds] == sorted(m for m, _ in rounds)


@pytest.mark.parametrize("kwargs,msg", [
    ({"scale": -1.0}, "scale=-1.0"), ({"scale": float("nan")}, "scale=nan"),
    ({"window": (600.0, 600.0)}, "window"),
])
def test_bad_timetable_input(kwargs, msg):
    args = {"rate_g_m2_day": np.ones(3), "scale": 1.0, "days": 2, "window": (360.0, 1200.0), **kwargs}
    with pytest.raises(CleaningParameterError, match=msg):
        timetable_rounds(**args)


def test_bad_target():
    scn = prepare_scenario(make_community(1, 3, 2, cleaners=1), days=1)
    for bad in (0.0, -2.0, float("inf")):
        with pytest.raises(CleaningParameterError, match="target_labor_hours"):
            fair_timetable(scn.layout, scn.deposit, scn.crew, 1, bad)
