"""GIS-only buildings: storeys, core, apartments, doors and reachability (hand values)."""

from __future__ import annotations

import math
from collections import deque

import pytest
from shapely import affinity
from shapely.geometry import Point, Polygon, box

from bim.errors import GisError
from bim.extrude import Core, default_core, extrude_building, stair_run_length_m
from twin import RouteGraph
from twin.model import Community

SLAB = box(500000, 3380000, 500040, 3380012)  # 40 m x 12 m = 480 m2


def _community(parts) -> Community:
    c = Community(name="x", buildings=[parts.building], spaces=parts.spaces, doors=parts.doors,
                  stairs=parts.stairs, elevators=parts.elevators)
    c.validate()
    return c


def _reachable(parts) -> set[str]:
    """Plain BFS from outside over doors, and over stairs between their storey spaces."""
    links: dict[str | None, set[str | None]] = {}
    for d in parts.doors:
        a, b = d.spaces
        links.setdefault(a, set()).add(b)
        links.setdefault(b, set()).add(a)
    for st in parts.stairs:
        spaces = [st.attributes["spaces"][s] for s in st.storey_ids]
        for lo, hi in zip(spaces, spaces[1:]):
            links.setdefault(lo, set()).add(hi)
            links.setdefault(hi, set()).add(lo)
    seen, todo = {None}, deque([None])
    while todo:
        for nxt in links.get(todo.popleft(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen - {None}


def test_six_storey_slab_storeys_and_elevations():
    parts = extrude_building("B1", "Block 1", SLAB, floors=6, height_m=17.4)
    storeys = parts.building.storeys
    assert [s.id for s in storeys] == [f"B1-F0{i}" for i in range(1, 7)]
    assert [s.elevation_m for s in storeys] == pytest.approx([i * 17.4 / 6 for i in range(6)])
    assert all(s.height_m == pytest.approx(2.9) for s in storeys)
    assert parts.building.source == "gis" and parts.building.floors == 6


def test_spaces_tile_each_storey_footprint():
    parts = extrude_building("B1", "Block 1", SLAB, floors=3, height_m=9.0)
    for storey in parts.building.storeys:
        spaces = [s for s in parts.spaces if s.storey_id == storey.id]
        assert sum(s.area_m2 for s in spaces) == pytest.approx(480.0, rel=1e-6)
        for i, a in enumerate(spaces):
            assert a.footprint.difference(SLAB).area < 1e-6
            for b in spaces[i + 1:]:
                assert a.footprint.intersection(b.footprint).area < 1e-6
    # corridor 40 m x 1.5 m on each storey
    corr = [s for s in parts.spaces if s.usage == "corridor"]
    assert len(corr) == 3 and all(s.area_m2 == pytest.approx(60.0) for s in corr)


def test_default_core_follows_the_codes():
    assert (default_core(6, 17.4).stairs, default_core(6, 17.4).elevators) == (1, 1)
    assert default_core(6, 17.4).stair_width_m >= 1.1
    tall = default_core(18, 54.0)       # over 27 m: high-rise
    assert (tall.stairs, tall.elevators) == (2, 2)
    assert (default_core(12, 26.0).stairs, default_core(12, 26.0).elevators) == (2, 2)  # 12+ storeys
    assert (default_core(1, 3.0).stairs, default_core(1, 3.0).elevators) == (0, 0)


def test_stairs_link_consecutive_storeys_with_run_length_from_height():
    parts = extrude_building("T", "Tower", box(0, 0, 40, 15), floors=18, height_m=54.0)
    ids = [s.id for s in parts.building.storeys]
    assert len(parts.stairs) == 2 and len(parts.elevators) == 2
    for st in parts.stairs:
        assert st.storey_ids == ids and st.width_m == pytest.approx(1.2)
        # 3.0 m storey: ceil(3.0 / 0.175) = 18 risers of 1/6 m, tread 0.27 m, + 1.2 m landing
        assert st.run_length_m == pytest.approx(18 * math.hypot(3.0 / 18, 0.27) + 1.2)
        assert 2 * 9 * 0.27 < st.run_length_m < 10.0
        assert len(st.flights) == 17
    for el in parts.elevators:
        assert el.storey_ids == ids


def test_stair_run_length_by_hand():
    # 2.9 m: 17 risers of 0.17059 m; each step along the slope hypot(0.17059, 0.27) = 0.31937
    assert stair_run_length_m(2.9, 1.1) == pytest.approx(17 * 0.319372 + 1.1, abs=1e-4)
    with pytest.raises(GisError, match="storey_height_m=0"):
        stair_run_length_m(0)


def test_every_apartment_has_a_door_to_its_corridor():
    parts = extrude_building("B1", "Block 1", SLAB, floors=2, height_m=5.8)
    doors = {d.spaces[0]: d for d in parts.doors if d.spaces[1] is not None}
    flats = [s for s in parts.spaces if s.usage == "apartment"]
    assert len(flats) == 2 * 4  # 480 m2 less corridor and core, ~90 m2 each
    for flat in flats:
        door = doors[flat.id]
        corridor = f"{flat.storey_id}-CORR"
        assert door.spaces == (flat.id, corridor)
        p = Point(door.position)
        assert flat.footprint.boundary.distance(p) < 1e-3
        assert parts.spaces[[s.id for s in parts.spaces].index(corridor)].footprint.boundary.distance(p) < 1e-3
        assert door.width_m >= 0.9


def test_ground_exits_and_every_space_reachable():
    parts = extrude_building("B2", "Block 2", SLAB, floors=6, height_m=17.4)
    exits = [d for d in parts.doors if d.is_exit]
    assert [d.storey_id for d in exits] == ["B2-F01", "B2-F01"]
    assert sorted(d.position[0] for d in exits) == pytest.approx([500000.0, 500040.0])
    assert all(d.width_m >= 1.1 for d in exits)
    assert _reachable(parts) == {s.id for s in parts.spaces}
    # the twin's own route graph agrees: every space has a finite distance from outside
    graph = RouteGraph(_community(parts))
    dist = graph.distances_from("B2-F06-A01")
    assert set(dist) >= {s.id for s in parts.spaces if s.usage != "elevator"}


def test_rotated_footprint_keeps_everything_inside():
    fp = affinity.rotate(box(500000, 3380000, 500060, 3380015), 30, origin="centroid")
    parts = extrude_building("R", "R", fp, floors=12, height_m=34.8)
    assert all(s.footprint.difference(fp).area < 1e-6 for s in parts.spaces)
    ground = [s for s in parts.spaces if s.storey_id == "R-F01"]
    assert sum(s.area_m2 for s in ground) == pytest.approx(900.0, rel=1e-6)
    assert _reachable(parts) == {s.id for s in parts.spaces}


def test_l_shaped_footprint_every_space_reachable():
    fp = Polygon([(0, 0), (30, 0), (30, 10), (10, 10), (10, 30), (0, 30)])
    parts = extrude_building("L", "L", fp, floors=3, height_m=8.7)
    assert _reachable(parts) == {s.id for s in parts.spaces}
    ground = [s for s in parts.spaces if s.storey_id == "L-F01"]
    assert sum(s.area_m2 for s in ground) == pytest.approx(fp.area, rel=1e-6)


def test_apartments_per_floor_and_one_storey_house():
    parts = extrude_building("S", "S", SLAB, floors=3, height_m=9.0,
                             core=Core(stairs=1, elevators=0, stair_width_m=1.1, apartments_per_floor=6))
    assert sum(1 for s in parts.spaces if s.storey_id == "S-F01" and s.usage == "apartment") == 6
    assert parts.elevators == []
    house = extrude_building("H", "H", box(0, 0, 10, 8), floors=1, height_m=None)
    assert house.building.storeys[0].height_m == pytest.approx(2.9)
    assert house.stairs == [] and house.elevators == []
    assert _reachable(house) == {s.id for s in house.spaces}


def test_floors_from_height_and_errors():
    parts = extrude_building("X", "X", SLAB, floors=None, height_m=29.0)
    assert len(parts.building.storeys) == 10  # 29.0 / 2.9
    with pytest.raises(GisError, match="needs floors or height_m"):
        extrude_building("X", "X", SLAB, floors=None, height_m=None)
    with pytest.raises(GisError, match="too low"):
        extrude_building("X", "X", SLAB, floors=10, height_m=5.0)
    with pytest.raises(GisError, match="at least 4"):
        extrude_building("X", "X", box(0, 0, 1, 1), floors=1, height_m=3.0)
