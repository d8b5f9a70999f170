"""The reader on files authored here with known answers: odd placements, millimetres,
hundreds of spaces and doors, devices by position, an elevator referenced in storeys."""

from __future__ import annotations

import math

import pytest
import shapely
from shapely.geometry import box

from bim import footprint_iou, load_ifc
from ifc_synth import STOREY_H_M, WALL_M, Spec, build, room_box_local, to_world


def _expected_footprint(spec: Spec, i: int):
    minx, miny, maxx, maxy = room_box_local(spec, i)
    return shapely.Polygon([to_world(spec, x, y) for x, y in
                            ((minx, miny), (maxx, miny), (maxx, maxy), (minx, maxy))])


@pytest.mark.parametrize("spec", [
    Spec(),
    Spec(mm=True),
    Spec(origin=(250.0, -80.0, 0.0), rotation_deg=30.0),
    Spec(mm=True, origin=(12.5, 7.25, 0.0), rotation_deg=-127.0),
    Spec(schema="IFC4X3", mm=True, origin=(-3.0, 40.0, 0.0), rotation_deg=75.0),
    Spec(schema="IFC2X3", origin=(8.0, -2.0, 0.0), rotation_deg=200.0),
], ids=["metres", "millimetres", "shifted-rotated", "mm-shifted-rotated", "ifc4x3", "ifc2x3"])
def test_placements_and_units(tmp_path, spec):
    path = tmp_path / "b.ifc"
    ids = build(spec, path)
    m = load_ifc(path)
    c = m.community
    assert m.unit_scale_m == (1e-3 if spec.mm else 1.0)
    assert [s.elevation_m for s in c.storeys] == pytest.approx([0.0, STOREY_H_M])
    by_id = {s.id: s for s in c.spaces}
    for row in ids["spaces"]:
        for i, sid in enumerate(row):
            sp = by_id[sid]
            want = _expected_footprint(spec, i)
            assert sp.footprint.area == pytest.approx(spec.room_w * spec.room_d, rel=1e-6)
            assert footprint_iou(sp.footprint, want) > 0.999
            assert sp.height_m == pytest.approx(2.8)
    for door_id, a, b in ids["doors"]:
        d = next(d for d in c.doors if d.id == door_id)
        assert set(d.spaces) == {a, b}
        assert d.width_m == pytest.approx(0.9)
        assert d.attributes["leads_outside"] == (b is None)
        assert d.is_exit == (door_id == ids["exit"])  # the upper floor's door is no exit
    assert not m.warnings


def test_hundreds_of_spaces_and_doors(tmp_path):
    spec = Spec(storeys=10, rooms=20)
    path = tmp_path / "tower.ifc"
    ids = build(spec, path)
    c = load_ifc(path).community
    assert c.counts()["storeys"] == 10
    assert c.counts()["spaces"] == 200
    assert c.counts()["doors"] == 10 * (19 + 1)
    want = {d: {a, b} for d, a, b in ids["doors"]}
    assert all(set(d.spaces) == want[d.id] for d in c.doors)
    # storey walkable area: 20 rooms of 4 x 5 m, separated by 0.2 m gaps
    for st in c.storeys:
        assert st.walkable.area == pytest.approx(20 * 20.0, rel=1e-6)
    # every sensor is placed at the centre of its room
    spaces_of = dict(ids["devices"])
    assert len(c.devices) == 200
    for dev in c.devices:
        assert dev.space_id == spaces_of[dev.id] and dev.kind == "temp_humidity"
    (lift,) = c.elevators
    assert lift.storey_ids == ids["storeys"]  # contained in F01, referenced in the others
    x0 = 20 * (spec.room_w + WALL_M)
    assert footprint_iou(lift.footprint, box(x0, 0, x0 + 2, 2)) > 0.999
    c.validate()


def test_map_conversion_in_millimetre_project(tmp_path):
    """Project in mm, IfcMapConversion Scale 1 with MapUnit metre: E = E0 + R(x_m)."""
    e0, n0, theta = 500000.0, 3380000.0, math.radians(20.0)
    spec = Spec(mm=True, storeys=1, rooms=2, elevator=False, devices=False, map_conversion={
        "Eastings": e0, "Northings": n0, "OrthogonalHeight": 15.0,
        "XAxisAbscissa": math.cos(theta), "XAxisOrdinate": math.sin(theta), "Scale": 1.0})
    path = tmp_path / "geo.ifc"
    ids = build(spec, path)
    m = load_ifc(path)
    assert m.crs == "EPSG:4547" and m.georeferenced
    sp = next(s for s in m.community.spaces if s.id == ids["spaces"][0][1])
    # room 1 spans x 4.2..8.2 m, y 0..5 m locally; hand-rotate its corners by 20 degrees
    c, s = math.cos(theta), math.sin(theta)
    corners = [(e0 + c * x - s * y, n0 + s * x + c * y) for x, y in
               ((4.2, 0.0), (8.2, 0.0), (8.2, 5.0), (4.2, 5.0))]
    assert footprint_iou(sp.footprint, shapely.Polygon(corners)) > 0.999
    assert sp.footprint.area == pytest.approx(20.0, rel=1e-6)  # metres kept: no mm scale
    assert m.community.storeys[0].elevation_m == pytest.approx(0.0)  # z not shifted


def test_scale_holding_the_unit_conversion_is_not_applied_twice(tmp_path):
    """Some authors write Scale=0.001 for a mm project (IFC4 wording); same map result."""
    spec = Spec(mm=True, storeys=1, rooms=1, elevator=False, devices=False, map_conversion={
        "Eastings": 1000.0, "Northings": 2000.0, "OrthogonalHeight": 0.0,
        "XAxisAbscissa": 1.0, "XAxisOrdinate": 0.0, "Scale": 0.001})
    path = tmp_path / "geo.ifc"
    build(spec, path)
    m = load_ifc(path)
    sp = m.community.spaces[0]
    assert footprint_iou(sp.footprint, box(1000.0, 2000.0, 1004.0, 2005.0)) > 0.999
    assert any("Scale=0.001" in w for w in m.warnings)


def test_ifc2x3_generic_devices_operation_type_and_epset_georeferencing(tmp_path):
    """IFC2X3: sensors as IfcDistributionControlElement typed by IfcSensorType, the lift's
    OperationType, and ePSet_MapConversion / ePSet_ProjectedCRS on the site."""
    spec = Spec(schema="IFC2X3", mm=True, map_conversion={
        "Eastings": 1000.0, "Northings": 2000.0, "OrthogonalHeight": 0.0,
        "XAxisAbscissa": 0.0, "XAxisOrdinate": 1.0, "Scale": 1.0})
    path = tmp_path / "x3.ifc"
    ids = build(spec, path)
    m = load_ifc(path)
    c = m.community
    assert m.schema == "IFC2X3" and m.crs == "EPSG:4547"
    assert c.counts()["devices"] == 6 and c.counts()["elevators"] == 1
    spaces_of = dict(ids["devices"])
    for dev in c.devices:
        assert dev.kind == "temp_humidity" and dev.ifc_class == "IfcDistributionControlElement"
        assert dev.space_id == spaces_of[dev.id]
    assert c.elevators[0].storey_ids == ids["storeys"]
    # x axis turned to north: room 0 (local 0..4 x 0..5 m) lands at E 995..1000, N 2000..2004
    room0 = next(s for s in c.spaces if s.id == ids["spaces"][0][0])
    assert footprint_iou(room0.footprint, box(995.0, 2000.0, 1000.0, 2004.0)) > 0.999
    want = {d: {a, b} for d, a, b in ids["doors"]}
    assert all(set(d.spaces) == want[d.id] for d in c.doors)


def test_geometry_kernel_fallback(tmp_path):
    """An unknown (or failing) kernel falls back to OpenCASCADE for every element."""
    import ifcopenshell

    from bim.meshes import iterate_meshes

    path = tmp_path / "b.ifc"
    ids = build(Spec(storeys=1, rooms=2), path)
    f = ifcopenshell.open(str(path))
    spaces = [f.by_guid(g) for g in ids["spaces"][0]]
    fast = iterate_meshes(f, spaces)
    fallback = iterate_meshes(f, spaces, kernel="no-such-kernel")
    assert set(fast) == set(fallback) == {s.id() for s in spaces}
    for k in fast:
        assert fast[k].verts[:, :2].min(axis=0) == pytest.approx(fallback[k].verts[:, :2].min(axis=0))
        assert fast[k].verts[:, :2].max(axis=0) == pytest.approx(fallback[k].verts[:, :2].max(axis=0))


def test_duplicate_global_ids_are_kept_apart(tmp_path):
    """A broken file repeating a GlobalId still gives a valid model, with a warning."""
    import ifcopenshell
    import ifcopenshell.api.aggregate
    import ifcopenshell.api.root

    path = tmp_path / "dup.ifc"
    ids = build(Spec(storeys=1, rooms=3), path)
    f = ifcopenshell.open(str(path))
    first, second = (f.by_guid(g) for g in ids["spaces"][0][:2])
    second.GlobalId = first.GlobalId
    storeys = f.by_type("IfcBuildingStorey")
    lone = ifcopenshell.api.root.create_entity(f, ifc_class="IfcBuildingStorey", name="dup")
    lone.GlobalId, lone.Elevation = storeys[0].GlobalId, 6.0
    ifcopenshell.api.aggregate.assign_object(f, products=[lone], relating_object=f.by_type("IfcBuilding")[0])
    f.write(str(path))
    c = load_ifc(path).community
    assert len(c.spaces) == 3 and len(c.storeys) == 2
    c.validate()  # ids unique again, references resolve
    assert sum(s.id.startswith(first.GlobalId) for s in c.spaces) == 2
    assert sum("duplicate GlobalId" in w for w in c.warnings) == 2
    # the doors still join the right rooms: the second room answers to its new id
    renamed = next(s.id for s in c.spaces if s.id != first.GlobalId and s.id.startswith(first.GlobalId))
    assert any(set(d.spaces) == {first.GlobalId, renamed} for d in c.doors)
