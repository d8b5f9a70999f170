"""Georeferencing against hand computations from the files' IfcMapConversion numbers,
anchors, and the footprint IoU helper."""

from __future__ import annotations

import math

import ifcopenshell
import pytest
import shapely
from shapely.geometry import box

from bim import GeoreferenceError, apply_anchor, footprint_iou, load_ifc
from bim.georef import read_map_conversion
from twin.model import Community

# authored_building.ifc, by hand from its STEP text:
#   #17=IFCPROJECTEDCRS('EPSG:4547',...)
#   #18=IFCMAPCONVERSION(#11,#17,500123.45,3379456.78,12.5,0.8660254037844387,0.49999999999999994,1.)
AUTH_E, AUTH_N, AUTH_COS, AUTH_SIN = 500123.45, 3379456.78, 0.8660254037844387, 0.49999999999999994

# geographic-referencing.ifc (project in millimetres, MapUnit metre, Scale omitted):
#   #1= IFCPROJECTEDCRS('EPSG:25832',...,#3);  #3= IFCSIUNIT(*,.LENGTHUNIT.,$,.METRE.);
#   #2= IFCMAPCONVERSION(#100011,#1,458658.78,5438232.79,113.7,0.270600445976,0.962691746426,$);
GEO_E, GEO_N, GEO_A, GEO_O = 458658.78, 5438232.79, 0.270600445976, 0.962691746426


def _hand(x, y):
    return (AUTH_E + AUTH_COS * x - AUTH_SIN * y, AUTH_N + AUTH_SIN * x + AUTH_COS * y)


def test_authored_building_in_map_coordinates(shared_ifc, tmp_path):
    geo = load_ifc(shared_ifc / "authored_building.ifc", cache_dir=tmp_path)
    local = load_ifc(shared_ifc / "authored_building.ifc", cache_dir=tmp_path, georeference=False)
    assert geo.crs == "EPSG:4547" and local.crs is None
    assert geo.georeferenced and not local.georeferenced
    local_spaces = {s.id: s for s in local.community.spaces}
    for sp in geo.community.spaces:
        ring = local_spaces[sp.id].footprint.exterior.coords
        want = shapely.Polygon([_hand(x, y) for x, y in ring])
        assert footprint_iou(sp.footprint, want) > 0.9999
        assert sp.footprint.area == pytest.approx(want.area, rel=1e-9)
    # one corner by hand: space 101 spans local (0.2, 0.2)-(6.0, 7.8) m
    s101 = next(s for s in geo.community.spaces if s.name == "101")
    corner = (500123.45 + 0.8660254 * 0.2 - 0.5 * 0.2, 3379456.78 + 0.5 * 0.2 + 0.8660254 * 0.2)
    assert s101.footprint.distance(shapely.Point(corner)) < 1e-6
    assert min(math.dist(corner, p) for p in s101.footprint.exterior.coords) < 1e-6
    for d_geo, d_loc in zip(geo.community.doors, local.community.doors):
        assert d_geo.position == pytest.approx(_hand(*d_loc.position), abs=1e-6)
    # the building's placement origin, read here from the file, placed by hand
    import ifcopenshell.util.placement as P

    f = ifcopenshell.open(str(shared_ifc / "authored_building.ifc"))
    placement = f.by_type("IfcBuilding")[0].ObjectPlacement  # none: the world origin
    origin = P.get_local_placement(placement)[:2, 3] if placement is not None else (0.0, 0.0)
    assert geo.community.buildings[0].attributes["origin_xy"] == pytest.approx(
        list(_hand(*origin)), abs=1e-6)
    assert local.community.buildings[0].attributes["origin_xy"] == pytest.approx(list(origin))


def test_geographic_referencing_millimetre_file(shared_ifc):
    m = load_ifc(shared_ifc / "geographic-referencing.ifc")
    assert m.crs == "EPSG:25832" and m.georeferenced
    assert m.unit_scale_m == 1e-3
    # a point 1000 mm east and 2000 mm north of the project origin (here: metres 1 and 2)
    conv = read_map_conversion(ifcopenshell.open(str(shared_ifc / "geographic-referencing.ifc")), 1e-3)
    e, n = conv.transform().xy(1.0, 2.0)
    assert e == pytest.approx(GEO_E + GEO_A * 1.0 - GEO_O * 2.0, abs=1e-9)
    assert n == pytest.approx(GEO_N + GEO_O * 1.0 + GEO_A * 2.0, abs=1e-9)
    assert m.map_conversion["orthogonal_height"] == pytest.approx(113.7)
    # site and building sit at the project origin: exactly Eastings/Northings
    assert m.site["origin_xy"] == pytest.approx([GEO_E, GEO_N], abs=1e-9)
    assert m.community.buildings[0].attributes["origin_xy"] == pytest.approx([GEO_E, GEO_N], abs=1e-9)
    # the storey's Elevation -1.6 is in project millimetres
    assert m.community.storeys[0].elevation_m == pytest.approx(-0.0016)


def test_files_without_map_conversion_stay_local(shared_ifc):
    m = load_ifc(shared_ifc / "AC20-FZK-Haus.ifc")
    assert m.crs is None and not m.georeferenced and m.map_conversion is None
    minx, miny, maxx, maxy = m.community.buildings[0].footprint.bounds
    assert -5 < minx < maxx < 30 and -5 < miny < maxy < 30


def test_apply_anchor_moves_and_turns_a_local_model(shared_ifc):
    m = load_ifc(shared_ifc / "AC20-FZK-Haus.ifc")
    before = {s.id: s.footprint.centroid.coords[0] for s in m.community.spaces}
    doors = {d.id: d.position for d in m.community.doors}
    out = apply_anchor(m, 1000.0, 2000.0, 90.0)
    assert out is m
    for s in m.community.spaces:  # 90 deg counter-clockwise: (x, y) -> (-y, x)
        x, y = before[s.id]
        assert s.footprint.centroid.coords[0] == pytest.approx((1000.0 - y, 2000.0 + x), abs=1e-6)
    for d in m.community.doors:
        x, y = doors[d.id]
        assert d.position == pytest.approx((1000.0 - y, 2000.0 + x), abs=1e-6)
    assert m.community.attributes["anchor"] == {"easting": 1000.0, "northing": 2000.0,
                                                "rotation_deg": 90.0}


def test_apply_anchor_on_a_community_and_errors(shared_ifc):
    c = Community("c")
    c.attributes["georeferenced"] = False
    assert apply_anchor(c, 1.0, 2.0, 0.0) is c
    with pytest.raises(GeoreferenceError, match="easting=nan"):
        apply_anchor(Community("x"), float("nan"), 0.0, 0.0)
    with pytest.raises(GeoreferenceError, match="rotation_deg='a'"):
        apply_anchor(Community("x"), 0.0, 0.0, "a")
    geo = load_ifc(shared_ifc / "authored_building.ifc")
    first = geo.community.spaces[0].footprint
    with pytest.raises(GeoreferenceError, match="already in map coordinates"):
        apply_anchor(geo, 0.0, 0.0, 0.0)
    assert geo.community.spaces[0].footprint.equals(first)  # nothing moved


def test_footprint_iou_by_hand():
    assert footprint_iou(box(0, 0, 2, 1), box(1, 0, 3, 1)) == pytest.approx(1 / 3)
    assert footprint_iou(box(0, 0, 1, 1), box(0, 0, 1, 1)) == pytest.approx(1.0)
    assert footprint_iou(box(0, 0, 1, 1), box(2, 2, 3, 3)) == 0.0
    assert footprint_iou(box(0, 0, 1, 1), shapely.Polygon()) == 0.0
    assert footprint_iou(None, box(0, 0, 1, 1)) == 0.0
    bowtie = shapely.Polygon([(0, 0), (2, 2), (2, 0), (0, 2)])  # invalid: made valid first
    assert footprint_iou(bowtie, box(0, 0, 2, 2)) == pytest.approx(0.5)
