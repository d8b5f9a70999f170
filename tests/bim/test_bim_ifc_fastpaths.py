"""Fast paths of the reader against their naive twins (tests/bim/naive.py)."""

from __future__ import annotations

import ifcopenshell
import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import box

from bim.extract import geometry_plan
from bim.meshes import Mesh, iterate_meshes, mesh_footprint, oriented_box
from bim.relations import Relations
from naive import footprint_naive, placement_naive, prism_mesh

REAL = ["AC20-FZK-Haus.ifc", "Duplex_A_20110907.ifc", "IfcOpenHouse_IFC4.ifc",
        "IfcOpenHouse_IFC2x3.ifc", "authored_building.ifc", "geographic-referencing.ifc"]


@pytest.mark.parametrize("name", REAL)
def test_placements_match_ifcopenshell(shared_ifc, name):
    import ifcopenshell.util.unit as U

    f = ifcopenshell.open(str(shared_ifc / name))
    scale = U.calculate_unit_scale(f)
    rel = Relations(f, scale)
    n = 0
    for el in f.by_type("IfcProduct"):
        want = placement_naive(el, scale)
        got = rel.placement(el)
        if want is None:
            assert got is None
            continue
        assert got == pytest.approx(want, abs=1e-9), el
        n += 1
    assert n > 0


@pytest.mark.parametrize("name", ["AC20-FZK-Haus.ifc", "Duplex_A_20110907.ifc", "authored_building.ifc"])
def test_footprints_match_naive_union_on_real_meshes(shared_ifc, name):
    f = ifcopenshell.open(str(shared_ifc / name))
    meshes = iterate_meshes(f, geometry_plan(f))
    assert meshes
    for mesh in meshes.values():
        fast, slow = mesh_footprint(mesh), footprint_naive(mesh)
        assert fast.is_valid
        tol = 1e-6 * (slow.area + slow.length)  # vertices snap to 1 um
        assert fast.area == pytest.approx(slow.area, abs=tol)
        assert fast.symmetric_difference(slow).area < tol


def test_footprint_degenerate_inputs():
    empty = Mesh(np.zeros((0, 3)), np.zeros((0, 3), dtype=np.int64))
    assert mesh_footprint(empty).is_empty and footprint_naive(empty).is_empty
    wall = Mesh(np.array([[0, 0, 0], [1, 0, 0], [1, 0, 3], [0, 0, 3]], float),
                np.array([[0, 1, 2], [0, 2, 3]]))  # vertical only
    assert mesh_footprint(wall).is_empty
    tri = Mesh(np.array([[0, 0, 1], [2, 0, 1], [0, 2, 1]], float), np.array([[0, 1, 2]]))
    assert mesh_footprint(tri).area == pytest.approx(2.0)  # an open, one-sided mesh
    flipped = Mesh(tri.verts, np.array([[0, 2, 1]]))
    assert mesh_footprint(flipped).area == pytest.approx(2.0)


def test_footprint_of_a_courtyard_prism_keeps_the_hole():
    ring = box(0, 0, 10, 8).difference(box(3, 3, 6, 5))
    fp = mesh_footprint(prism_mesh(ring, 0.0, 3.0))
    assert fp.area == pytest.approx(80 - 6) and len(fp.interiors) == 1


#: building coordinates: metres with millimetre resolution (no 1e-149 slivers)
_coord = st.integers(-50_000, 50_000).map(lambda mm: mm / 1000.0)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(_coord, _coord), min_size=3, max_size=12), _coord, st.floats(0.1, 10))
def test_footprint_of_random_prisms(points, z0, height):
    poly = shapely.convex_hull(shapely.multipoints(points))
    if poly.geom_type != "Polygon" or poly.area < 1e-3:
        return
    mesh = prism_mesh(poly, z0, z0 + height)
    fast, slow = mesh_footprint(mesh), footprint_naive(mesh)
    tol = 1e-6 * (poly.area + poly.length)  # vertices snap to 1 um: <= perimeter x 1 um
    assert fast.area == pytest.approx(poly.area, abs=tol)
    assert fast.symmetric_difference(slow).area < tol


@settings(max_examples=40, deadline=None)
@given(st.floats(0.3, 5), st.floats(0.05, 2), st.floats(-180, 180), _coord, _coord)
def test_oriented_box_of_rotated_rectangles(w, d, angle, cx, cy):
    rect = shapely.affinity.rotate(box(-w / 2, -d / 2, w / 2, d / 2), angle, origin=(0, 0))
    rect = shapely.affinity.translate(rect, cx, cy)
    centre, axis, long_m, short_m = oriented_box(np.asarray(rect.exterior.coords))
    assert long_m == pytest.approx(max(w, d), abs=1e-6)
    assert short_m == pytest.approx(min(w, d), abs=1e-6)
    assert centre == pytest.approx((cx, cy), abs=1e-6)
    assert np.hypot(*axis) == pytest.approx(1.0)


def test_oriented_box_degenerate():
    c, axis, long_m, short_m = oriented_box(np.zeros((0, 2)))
    assert (long_m, short_m) == (0.0, 0.0)
    c, axis, long_m, short_m = oriented_box(np.array([[1.0, 1.0], [1.0, 1.0]]))
    assert (long_m, short_m) == (0.0, 0.0) and tuple(c) == (1.0, 1.0)
    c, axis, long_m, short_m = oriented_box(np.array([[0.0, 0.0], [3.0, 4.0], [1.5, 2.0]]))
    assert long_m == pytest.approx(5.0) and short_m == 0.0


def test_batched_oriented_boxes_match_one_by_one(shared_ifc):
    from bim.meshes import oriented_boxes

    f = ifcopenshell.open(str(shared_ifc / "Duplex_A_20110907.ifc"))
    meshes = iterate_meshes(f, f.by_type("IfcDoor") + f.by_type("IfcStairFlight"))
    sets = [m.verts[:, :2] for m in meshes.values()] + [np.zeros((0, 2)), np.ones((2, 2))]
    for batched, single in zip(oriented_boxes(sets), [oriented_box(p) for p in sets]):
        assert batched[2:] == pytest.approx(single[2:], abs=1e-9)
        assert batched[0] == pytest.approx(single[0], abs=1e-9)
        assert abs(abs(float(np.dot(batched[1], single[1]))) - 1.0) < 1e-9 or batched[2] == batched[3]


def test_batched_footprints_match_one_by_one(shared_ifc):
    from bim.meshes import mesh_footprints

    f = ifcopenshell.open(str(shared_ifc / "AC20-FZK-Haus.ifc"))
    meshes = list(iterate_meshes(f, geometry_plan(f)).values())
    empty = Mesh(np.zeros((0, 3)), np.zeros((0, 3), dtype=np.int64))
    meshes = [empty] + meshes + [empty]
    for batched, single in zip(mesh_footprints(meshes), [mesh_footprint(m) for m in meshes]):
        assert batched.equals(single) or batched.symmetric_difference(single).area < 1e-9
    assert mesh_footprints([]) == []
