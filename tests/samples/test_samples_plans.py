"""Properties of the plan generator for any tower it can draw, not only the committed ones.

Each property is checked against plain geometry (shapely) and a breadth-first search
written here, not against the generator's own summaries.
"""

from __future__ import annotations

from collections import defaultdict

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import Point
from shapely.ops import unary_union

from bim.samplegen.errors import SampleGenError
from bim.samplegen.facilities import clubhouse_plan, garage_parking, garage_plan
from bim.samplegen.towers import residential_plan

towers = st.builds(
    lambda floors, units, variant: residential_plan("BX", "test", floors, units, variant),
    st.integers(1, 34), st.integers(1, 3), st.sampled_from([2, 3, 4, "tiny"]),
)


def _reachable(plan) -> set:
    """Keys (storey, space) reachable from the outside through doors and stairs."""
    adj = defaultdict(set)
    for s in plan.storeys:
        for d in s.doors:
            a = (s.name, d.spaces[0])
            b = "outside" if d.spaces[1] is None else (s.name, d.spaces[1])
            adj[a].add(b)
            adj[b].add(a)
    for stair in plan.stairs:
        p = Point(stair.x0 + 0.5, stair.y0 + 0.5)
        for lo, hi in zip(stair.storeys, stair.storeys[1:]):
            a = [(lo, x.key) for x in plan_storey(plan, lo).spaces if x.polygon.contains(p)]
            b = [(hi, x.key) for x in plan_storey(plan, hi).spaces if x.polygon.contains(p)]
            assert len(a) == len(b) == 1
            adj[a[0]].add(b[0])
            adj[b[0]].add(a[0])
    seen, todo = {"outside"}, ["outside"]
    while todo:
        for n in adj[todo.pop()]:
            if n not in seen:
                seen.add(n)
                todo.append(n)
    return seen


def plan_storey(plan, name):
    return next(s for s in plan.storeys if s.name == name)


@settings(max_examples=25, deadline=None)
@given(towers)
def test_any_tower_tiles_reaches_out_and_keeps_flats_in_range(plan):
    for s in plan.storeys:
        polys = [x.polygon for x in s.spaces]
        assert unary_union(polys).area == pytest.approx(sum(p.area for p in polys))
        for x in s.spaces:
            if x.usage == "apartment":
                assert 60.0 <= x.area_m2 <= 140.0
        keys = {x.key for x in s.spaces}
        for d in s.doors:
            assert d.spaces[0] in keys and (d.spaces[1] is None or d.spaces[1] in keys)
            p = Point(d.x, d.y)
            for k in filter(None, d.spaces):
                assert s.space(k).polygon.exterior.distance(p) < 1e-6
        for dv in s.devices:
            assert s.space(dv.space).polygon.buffer(1e-6).contains(Point(dv.x, dv.y))
    seen = _reachable(plan)
    for s in plan.storeys:
        for x in s.spaces:
            if x.usage != "elevator":
                assert (s.name, x.key) in seen, (s.name, x.key)
    assert plan.height_m == pytest.approx(len(plan.storeys) * 2.9)


@pytest.mark.parametrize("kwargs", [dict(floors=0, units=1, variant=2),
                                    dict(floors=3, units=0, variant=2),
                                    dict(floors=3, units=1, variant=5)])
def test_bad_tower_parameters_name_the_value(kwargs):
    with pytest.raises(SampleGenError, match="floors=|units=|variant="):
        residential_plan("BX", "bad", **kwargs)


def test_facilities_reach_out_and_garage_bays_stay_in_the_hall():
    for plan in (clubhouse_plan("C9", "c"), garage_plan("G9", "g")):
        seen = _reachable(plan)
        for s in plan.storeys:
            assert {(s.name, x.key) for x in s.spaces} <= seen
    hall = garage_plan("G9", "g").storeys[0].space("HALL").polygon
    bays = garage_parking()
    assert len(bays) >= 150
    assert all(hall.contains(p) for _, p in bays)
    assert unary_union([p for _, p in bays]).area == pytest.approx(sum(p.area for _, p in bays))
