"""Areas, distances, traffic and policies on a community built in code."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest

from sim.cleaning.areas import DETOUR, build_layout
from sim.cleaning.compare import compare_policies, crew_from_staff
from sim.cleaning.errors import CleaningParameterError, SiteLayoutError, TrafficError
from sim.cleaning.traffic import (FlowParams, build_routes, expected_traffic,
                                  simulate_traffic)
from tests.cleaning.community import make_community
from twin.model import Community


@pytest.fixture(scope="module")
def town():
    return make_community(2, 6, 4)


@pytest.fixture(scope="module")
def layout(town):
    return build_layout(town)


def test_areas(layout):
    kinds = {a.id: a.kind for a in layout.areas}
    assert kinds["B1-F01-CORR"] == "lobby" and kinds["B1-F03-CORR"] == "corridor"
    assert kinds["B1-F02-ST"] == "stair"
    assert "B1-F02-EL" not in kinds  # elevator shafts are not cleaned
    assert kinds["G-WEST"] == "gate" and kinds["PATH-1"] == "path" and kinds["garage"] == "garage"
    path = layout.areas[layout.index("PATH-1")]
    assert path.area_m2 == pytest.approx(290.0 * 3.0)  # 290 m long, 3 m wide


def test_distances_by_hand(layout):
    d = layout.distance_m
    lobby, f2 = layout.index("B1-F01-CORR"), layout.index("B1-F02-CORR")
    # by stairs: corridor centre (10, 9.5) -> stair door (20, 9.5) -> stair centre
    # (22, 10.5), 7 m of stair, the same on the other storey: 31.47 m; by elevator: corridor
    # centre -> centre of the elevator (21.5, 14.5), 3 m a storey, back: 28.08 m (shorter)
    stairs = 2 * (10.0 + math.hypot(2.0, 1.0)) + 7.0
    ride = 2 * math.hypot(11.5, 5.0) + 3.0
    assert ride < stairs
    assert d[lobby, f2] == pytest.approx(ride)
    assert d[lobby, layout.index("B1-F04-CORR")] == pytest.approx(2 * math.hypot(11.5, 5.0) + 9.0)
    # two lobbies: 10 m to each exit, 120 m between the exits outdoors × detour
    other = layout.index("B2-F01-CORR")
    assert d[lobby, other] == pytest.approx(10.0 + DETOUR * 120.0 + 10.0)
    assert np.allclose(d, d.T)


def test_expected_traffic_by_hand(town, layout):
    p = FlowParams()
    routes = build_routes(town, layout, p)
    wd = expected_traffic(routes, len(layout.areas), weekend=False)
    per_person = p.commute + p.errands + p.amenity  # passages per resident and weekday
    # every trip of a tower leaves through its lobby: 6 floors × 4 flats × 3 people
    assert wd[layout.index("B1-F01-CORR")].sum() == pytest.approx(72 * per_person)
    # an upper corridor sees its own 12 residents only
    assert wd[layout.index("B1-F04-CORR")].sum() == pytest.approx(12 * per_person)
    # everyone above the ground floor rides the elevator: stairs see no trips
    assert all(wd[i].sum() == 0 for i, a in enumerate(layout.areas) if a.kind == "stair")
    # commuting peaks in the morning, errands and play in the afternoon
    lobby = wd[layout.index("B1-F01-CORR")]
    assert lobby[7] > 2 * lobby[3]
    # gates: all gate trips of both towers (walking commuters + errands)
    gates = wd[layout.index("G-WEST")].sum() + wd[layout.index("G-EAST")].sum()
    assert gates == pytest.approx(144 * (p.commute * (1 - p.car_share) + p.errands))


def test_simulated_traffic_is_reproducible_and_unbiased(town, layout):
    routes = build_routes(town, layout)
    start = dt.date(2025, 6, 2)  # a Monday
    a = simulate_traffic(routes, len(layout.areas), 5, 3, start)
    b = simulate_traffic(routes, len(layout.areas), 5, 3, start)
    np.testing.assert_array_equal(a, b)
    lobby = layout.index("B1-F01-CORR")
    expected = expected_traffic(routes, len(layout.areas), weekend=False)[lobby].sum()
    assert a[lobby].sum(axis=1).mean() == pytest.approx(expected, rel=0.08)


def test_demand_beats_fixed_timetable():
    town = make_community(2, 10, 4, cleaners=2)
    r = compare_policies(town, days=7, seed=3)
    today, fixed, demand = r["fixed_today"], r["fixed"], r["demand"]
    assert demand["rounds"] <= 0.75 * today["rounds"]
    assert demand["minutes_over_threshold"] <= today["minutes_over_threshold"]
    # the fair baseline: the fixed timetable the crew completes, at the same labour hours
    assert fixed["backlog_rounds"] == 0 and fixed["rounds"] == fixed["rounds_planned"]
    assert abs(fixed["labor_hours"] / demand["labor_hours"] - 1) <= 0.05
    assert demand["minutes_over_threshold"] <= 0.75 * fixed["minutes_over_threshold"]
    assert r["cleaners"] == ["S1", "S2"]
    assert r["plan_work_orders"] and all(o["category"] == "保洁" for o in r["plan_work_orders"])
    again = compare_policies(town, days=7, seed=3)
    assert again["demand"] == demand and again["fixed"] == fixed


def test_counter_csv_overrides_estimates(tmp_path, town):
    csv = tmp_path / "counts.csv"
    rows = ["area_id,timestamp,count"]
    for h in range(24):
        rows.append(f"B1-F01-CORR,2025-06-02T{h:02d}:30:00,{1000 if h == 8 else 0}")
    rows.append("ROAD-9,2025-06-02T08:00:00,5")  # not a cleaning area: ignored
    csv.write_text("\n".join(rows) + "\n")
    r = compare_policies(town, days=1, seed=1, traffic_csv=csv)
    assert r["traffic"]["source"] == "counters+crowd-flow"
    assert r["traffic"]["counted_areas"] == 1 and r["traffic"]["ignored_ids"] == ["ROAD-9"]
    # 1000 counted passages against an estimate of 72 × 3.5 = 252: others scaled by ~4
    assert r["traffic"]["scale"] == pytest.approx(1000 / 252, rel=0.15)


@pytest.mark.parametrize("text,msg", [
    ("area_id,when,count\nA,2025-01-01,3\n", "lacks column"),
    ("area_id,timestamp,count\nA,not-a-time,3\n", "timestamp='not-a-time'"),
    ("area_id,timestamp,count\nA,2025-01-01T08:00,-3\n", "count=-3"),
    ("area_id,timestamp,count\nNOPE,2025-01-01T08:00,3\n", "no area_id"),
])
def test_bad_counter_csv(tmp_path, town, text, msg):
    csv = tmp_path / "bad.csv"
    csv.write_text(text)
    with pytest.raises(TrafficError, match=msg):
        compare_policies(town, days=1, traffic_csv=csv)


def test_bad_inputs(town):
    with pytest.raises(CleaningParameterError, match="days=0"):
        compare_policies(town, days=0)
    with pytest.raises(SiteLayoutError, match="no public area"):
        build_layout(Community(name="empty"))


def test_default_crew_size(town, layout):
    crew = crew_from_staff(town, layout)
    assert len(crew) == max(2, math.ceil(48 / 120))
    assert crew[0].shift_start_min == 7 * 60 and crew[0].shift_end_min == 17 * 60
