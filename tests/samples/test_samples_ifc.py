"""The committed sample IFC files: schema validity, counts by hand arithmetic, geometry.

Expected numbers come from the site description in docs/sample-sites.md, worked out by
hand below, never from the generator.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict

import ifcopenshell
import ifcopenshell.geom
import ifcopenshell.util.element as ue
import ifcopenshell.validate
import numpy as np
import pytest
from shapely.geometry import Point
from shapely.ops import unary_union

from samples_ifcread import (
    building_ifcs, manifest, point_of, site_dir, space_footprint, storey_of,
)

STOREY_H = 2.9
# id: (storeys, units, flats per floor, apartments) -- the ground floor of unit 1 of a
# 4-flat tower gives one flat's place to the distribution room (配电间).
TOWERS = {
    "B1": (33, 2, 2, 33 * 2 * 2),        # 132
    "B2": (26, 2, 3, 26 * 2 * 3),        # 156
    "B3": (26, 2, 4, 26 * 2 * 4 - 1),    # 207
    "B4": (18, 2, 4, 18 * 2 * 4 - 1),    # 143
    "B5": (18, 1, 4, 18 * 1 * 4 - 1),    # 71
}
TINY = {"T1": (3, 1, 2, 3 * 1 * 2)}
ALL_TOWERS = [("lakeside", b) for b in TOWERS] + [("tiny", "T1")]


def _spec(site, bid):
    return (TOWERS if site == "lakeside" else TINY)[bid]


def _ifc(site, bid) -> ifcopenshell.file:
    return building_ifcs(site)[bid]


def _spaces(f, usage):
    return [s for s in f.by_type("IfcSpace") if s.ObjectType == usage]


def test_lakeside_promises_by_arithmetic():
    assert sum(a for *_, a in TOWERS.values()) + 6 * 2 * 2 == 733   # + B6 walk-up
    assert 500 <= 733 <= 750
    assert len(TOWERS) >= 4 and all(18 <= n <= 33 for n, *_ in TOWERS.values())


@pytest.mark.parametrize("site", ["tiny", "lakeside"])
def test_every_ifc_is_ifc4_in_metres_with_fixed_header(site):
    for bid, f in building_ifcs(site).items():
        assert f.schema == "IFC4"
        units = f.by_type("IfcUnitAssignment")[0].Units
        length = next(u for u in units if getattr(u, "UnitType", None) == "LENGTHUNIT")
        assert length.Name == "METRE" and length.Prefix is None
        assert f.header.file_name.time_stamp == "2026-01-01T00:00:00+08:00"
        assert not f.by_type("IfcOwnerHistory")
        gids = [e.GlobalId for e in f.by_type("IfcRoot")]
        assert len(gids) == len(set(gids)), bid
        assert all(len(g) == 22 for g in gids)


@pytest.mark.parametrize("site,bid", [("tiny", "T1"), ("lakeside", "C1"), ("lakeside", "GAR")])
def test_schema_and_where_rules_valid(site, bid):
    logger = ifcopenshell.validate.json_logger()
    ifcopenshell.validate.validate(_ifc(site, bid), logger, express_rules=True)
    assert logger.statements == []


def test_large_files_schema_valid():
    for bid in TOWERS:
        logger = ifcopenshell.validate.json_logger()
        ifcopenshell.validate.validate(_ifc("lakeside", bid), logger, express_rules=False)
        assert logger.statements == [], bid


@pytest.mark.parametrize("site,bid", ALL_TOWERS)
def test_storeys_apartments_and_heights(site, bid):
    n, units, per_floor, apartments = _spec(site, bid)
    f = _ifc(site, bid)
    storeys = sorted(f.by_type("IfcBuildingStorey"), key=lambda s: s.Elevation)
    assert len(storeys) == n
    for i, st in enumerate(storeys):
        assert st.Elevation == pytest.approx(i * STOREY_H, abs=1e-6)
    flats = _spaces(f, "apartment")
    assert len(flats) == apartments
    above_ground = [s for s in flats if storey_of(s).Elevation > 0]
    assert len(above_ground) == (n - 1) * units * per_floor
    for s in flats:
        area = space_footprint(s).area
        assert 60.0 <= area <= 140.0, (s.Name, area)
        qto = ue.get_psets(s)["Qto_SpaceBaseQuantities"]
        assert qto["NetFloorArea"] == pytest.approx(area, abs=0.01)
        assert qto["Height"] == pytest.approx(STOREY_H - 0.15)
    b = next(x for x in manifest(site)["buildings"] if x["id"] == bid)
    top = storeys[-1].Elevation + STOREY_H
    assert top == pytest.approx(n * STOREY_H)
    assert b["ifc"] == f"ifc/{bid}.ifc"


@pytest.mark.parametrize("site,bid", ALL_TOWERS)
def test_core_stairs_elevators_per_unit(site, bid):
    n, units, *_ = _spec(site, bid)
    per_unit = 1 if site == "tiny" else 2
    f = _ifc(site, bid)
    storeys = {s.Name: s for s in f.by_type("IfcBuildingStorey")}
    ground = min(storeys.values(), key=lambda s: s.Elevation)
    lifts = f.by_type("IfcTransportElement")
    assert len(lifts) == per_unit * units
    for e in lifts:
        assert e.PredefinedType == "ELEVATOR"
        assert ue.get_container(e) == ground
        refs = {r.RelatingStructure.Name for r in e.ReferencedInStructures}
        assert refs == set(storeys) - {ground.Name}
    stairs = f.by_type("IfcStair")
    assert len(stairs) == per_unit * units * (n - 1)
    for s in stairs:
        lower = ue.get_container(s)
        uppers = [r.RelatingStructure for r in s.ReferencedInStructures]
        assert len(uppers) == 1 and uppers[0].Elevation == pytest.approx(lower.Elevation + STOREY_H)
        flights = [p for p in ue.get_decomposition(s) if p.is_a("IfcStairFlight")]
        assert len(flights) == 2
        for fl in flights:
            assert 0.16 <= fl.RiserHeight <= 0.175          # reference: 0.16-0.175 m
            assert 0.26 <= fl.TreadLength <= 0.28
            assert fl.NumberOfRisers * 2 * fl.RiserHeight == pytest.approx(STOREY_H, abs=0.01)
        width = ue.get_psets(s)["Twin_Stair"]["Width"]
        run = ue.get_psets(s)["Twin_Stair"]["RunLength"]
        assert width >= 1.1                                 # GB 50016 stair width
        going = flights[0].TreadLength * (flights[0].NumberOfRisers - 1)
        slope = math.hypot(going, STOREY_H / 2)
        assert 2 * slope < run < 2 * slope + 2.0
    year = int(ue.get_psets(f.by_type("IfcBuilding")[0])["Pset_BuildingCommon"]["YearOfConstruction"])
    for e in lifts:
        props = ue.get_psets(e)["Twin_Elevator"]
        assert props["InstallYear"] == year and 1990 <= year <= 2026
        # taller towers get faster cars: >= 1.75 m/s from 18 storeys, 2.5 m/s above 26
        assert props["RatedSpeed"] >= (2.5 if n > 26 else 1.75 if n >= 18 else 1.0)
    # controllers: one per elevator, each names its elevator's GlobalId in the register
    assert len(f.by_type("IfcController")) == len(lifts)


@pytest.mark.parametrize("site,bid", ALL_TOWERS)
def test_doors_widths_and_exits(site, bid):
    n, units, *_ = _spec(site, bid)
    f = _ifc(site, bid)
    per_unit_stairs = 1 if site == "tiny" else 2
    for d in f.by_type("IfcDoor"):
        assert d.OverallWidth >= 0.9, d.Name                # flat doors >= 0.90 m
        rels = d.ProvidesBoundaries
        kinds = {r.InternalOrExternalBoundary for r in rels}
        if kinds == {"EXTERNAL"}:
            assert len(rels) == 1 and d.OverallWidth >= 1.1  # ground-floor exits >= 1.10 m
            assert ue.get_psets(d)["Pset_DoorCommon"] == {**ue.get_psets(d)["Pset_DoorCommon"],
                                                          "IsExternal": True, "FireExit": True}
            assert storey_of(d).Elevation == 0.0
        else:
            assert len(rels) == 2 and kinds == {"INTERNAL"}
    exits = [d for d in f.by_type("IfcDoor")
             if {r.InternalOrExternalBoundary for r in d.ProvidesBoundaries} == {"EXTERNAL"}]
    assert len(exits) == units * (1 + per_unit_stairs)    # lobby + one per stair


def _door_graph(f):
    """Space adjacency through doors (None = outside) and stairs (stair spaces stacked)."""
    adj = defaultdict(set)
    for d in f.by_type("IfcDoor"):
        spaces = [r.RelatingSpace.GlobalId for r in d.ProvidesBoundaries]
        if len(spaces) == 1:
            spaces.append(None)
        a, b = spaces
        adj[a].add(b)
        adj[b].add(a)
    stair_spaces = defaultdict(list)
    for s in f.by_type("IfcSpace"):
        if s.ObjectType == "stair":
            stair_spaces[storey_of(s).GlobalId].append((space_footprint(s), s.GlobalId))
    for st in f.by_type("IfcStair"):
        x, y, _ = point_of(st)
        p = Point(x + 0.5, y + 0.5)
        lower = ue.get_container(st).GlobalId
        upper = st.ReferencedInStructures[0].RelatingStructure.GlobalId
        a = [g for poly, g in stair_spaces[lower] if poly.contains(p)]
        b = [g for poly, g in stair_spaces[upper] if poly.contains(p)]
        assert len(a) == 1 and len(b) == 1, st.Name
        adj[a[0]].add(b[0])
        adj[b[0]].add(a[0])
    return adj


@pytest.mark.parametrize("site,bid", [("tiny", "T1"), ("lakeside", "B1"), ("lakeside", "B3"),
                                      ("lakeside", "C1"), ("lakeside", "GAR")])
def test_every_room_with_a_door_reaches_the_outside(site, bid):
    f = _ifc(site, bid)
    adj = _door_graph(f)
    seen, todo = {None}, [None]
    while todo:
        for nxt in adj[todo.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    usable = [s for s in f.by_type("IfcSpace") if s.ObjectType not in ("elevator",)]
    unreachable = [s.Name for s in usable if s.GlobalId not in seen]
    assert unreachable == []


@pytest.mark.parametrize("site,bid", [("tiny", "T1"), ("lakeside", "B2"), ("lakeside", "C1")])
def test_doors_sit_on_the_wall_between_their_spaces(site, bid):
    f = _ifc(site, bid)
    for d in f.by_type("IfcDoor"):
        x, y, _ = point_of(d)
        p = Point(x, y)
        for r in d.ProvidesBoundaries:
            poly = space_footprint(r.RelatingSpace)
            assert poly.exterior.distance(p) < 1e-6, d.Name
        if len(d.ProvidesBoundaries) == 1:
            outline = unary_union([space_footprint(s) for s in f.by_type("IfcSpace")
                                   if storey_of(s) == storey_of(d)])
            assert outline.exterior.distance(p) < 1e-6, d.Name


@pytest.mark.parametrize("site,bid", [("tiny", "T1"), ("lakeside", "B4"), ("lakeside", "GAR")])
def test_devices_lie_in_their_space(site, bid):
    f = _ifc(site, bid)
    devices = list(f.by_type("IfcDistributionControlElement")) + list(f.by_type("IfcFlowMeter"))
    assert devices
    for e in devices:
        space = ue.get_container(e)
        assert space.is_a("IfcSpace"), e.Tag
        x, y, z = point_of(e)
        assert space_footprint(space).buffer(1e-6).contains(Point(x, y)), e.Tag
        base = storey_of(space).Elevation
        assert base <= z <= base + STOREY_H + 1.0


def test_tiny_geometry_builds_and_flights_fit_their_stair():
    f = _ifc("tiny", "T1")
    settings = ifcopenshell.geom.settings()
    settings.set("use-world-coords", True)
    it = ifcopenshell.geom.iterator(settings, f)
    assert it.initialize()
    shapes = {}
    while True:
        shape = it.get()
        v = np.array(shape.geometry.verts).reshape(-1, 3)
        shapes[shape.guid] = (v.min(0), v.max(0))
        if not it.next():
            break
    products = [e for e in f.by_type("IfcProduct") if e.Representation is not None]
    assert set(shapes) == {e.GlobalId for e in products}
    stairs_by_storey = {storey_of(s).Name: s for s in f.by_type("IfcSpace") if s.ObjectType == "stair"}
    for fl in f.by_type("IfcStairFlight"):
        lo, hi = shapes[fl.GlobalId]
        stair = ue.get_aggregate(fl)
        room = stairs_by_storey[ue.get_container(stair).Name]
        minx, miny, maxx, maxy = space_footprint(room).bounds
        assert minx <= lo[0] and hi[0] <= maxx and miny <= lo[1] and hi[1] <= maxy
        assert 0.0 <= hi[2] - lo[2] <= STOREY_H / 2 + 0.21


def test_mapped_geometry_keeps_towers_small():
    f = _ifc("lakeside", "B1")
    # one floor's geometry is stored once: far fewer shape maps than spaces
    maps = f.by_type("IfcRepresentationMap")
    assert len(maps) < len(f.by_type("IfcSpace")) / 10
    sizes = [p.stat().st_size for p in (site_dir("lakeside") / "ifc").glob("*.ifc")]
    assert sum(sizes) < 5_000_000


def test_georeferencing_paths():
    m = manifest("lakeside")
    entries = {b["id"]: b for b in m["buildings"]}
    ifcs = building_ifcs("lakeside")
    anchored = [b for b in ifcs if "anchor" in entries[b]]
    assert anchored == ["B3"]
    for bid, f in ifcs.items():
        conv = f.by_type("IfcMapConversion")
        if bid in anchored:
            assert len(conv) == 0
            continue
        assert len(conv) == 1
        crs = conv[0].TargetCRS
        assert crs.Name == "EPSG:4547" and crs.MapUnit.Name == "METRE"
        c = conv[0]
        assert c.Scale == 1.0 and math.hypot(c.XAxisAbscissa, c.XAxisOrdinate) == pytest.approx(1)
        # EPSG:4547 false easting 500 km; the site lies east of CM 114E, north of 30N
        assert 500_000 < c.Eastings < 560_000 and 3_320_000 < c.Northings < 3_450_000
    conv = _ifc("tiny", "T1").by_type("IfcMapConversion")
    assert conv and conv[0].TargetCRS.Name == "EPSG:4547"


def test_counts_of_element_kinds_in_tiny():
    f = _ifc("tiny", "T1")
    counts = Counter(e.is_a() for e in f.by_type("IfcProduct"))
    # 3 storeys x (2 flats + lobby/hall + stair + elevator shaft) spaces
    assert counts["IfcSpace"] == 3 * 5
    # flats' doors 6, stair doors 3, lobby exit 1, stair exit 1
    assert counts["IfcDoor"] == 6 + 3 + 1 + 1
    assert counts["IfcFlowMeter"] == 2 * 6
    assert counts["IfcSlab"] == 3 + 1


@pytest.mark.parametrize("site,bid", [("tiny", "T1"), ("lakeside", "B1"), ("lakeside", "B3"),
                                      ("lakeside", "C1"), ("lakeside", "GAR")])
def test_spaces_of_a_storey_tile_without_overlap(site, bid):
    f = _ifc(site, bid)
    by_storey = defaultdict(list)
    for s in f.by_type("IfcSpace"):
        by_storey[storey_of(s).GlobalId].append(space_footprint(s))
    for polys in by_storey.values():
        assert all(p.is_valid and p.area > 1.0 for p in polys)
        union = unary_union(polys)
        assert union.area == pytest.approx(sum(p.area for p in polys), abs=1e-6)
        assert union.geom_type == "Polygon" and not union.interiors   # one outline, no holes
