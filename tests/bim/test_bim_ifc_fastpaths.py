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


# -- fast paths of the cold-load work (see docs/benchmarks.md, Loading) -------------------

@pytest.mark.parametrize("name", REAL)
def test_positional_attributes_equal_getattr(shared_ifc, name):
    from bim.ifcattr import attribute, attributes, global_id, has_representation
    from bim.ifcattr import name as ifc_name

    f = ifcopenshell.open(str(shared_ifc / name))
    n = 0
    for el in list(f.by_type("IfcRoot"))[:400]:
        assert global_id(el) == el.GlobalId and ifc_name(el) == el.Name
        assert has_representation(el) == (getattr(el, "Representation", None) is not None)
        for attr in el.get_attribute_names():
            assert attribute(el, attr) == getattr(el, attr)
            n += 1
        assert attribute(el, "NoSuchAttribute") is None
        names = tuple(el.get_attribute_names()) + ("NoSuchAttribute",)
        assert attributes(el, names) == tuple(getattr(el, a, None) for a in names)
    for rel in f.by_type("IfcRelDefinesByProperties")[:5]:
        assert rel.RelatedObjects and attribute(rel.RelatedObjects[0], "IsDefinedBy") is None  # inverse
    assert n > 0


@pytest.mark.parametrize("name", REAL)
def test_positions_are_placement_origins(shared_ifc, name):
    import ifcopenshell.util.unit as U

    f = ifcopenshell.open(str(shared_ifc / name))
    scale = U.calculate_unit_scale(f)
    rel = Relations(f, scale)
    for el in f.by_type("IfcProduct"):
        want = placement_naive(el, scale)
        got = rel.position(el)
        if want is None:
            assert got is None
            continue
        assert got == pytest.approx(tuple(want[:3, 3]), abs=1e-9), el


def test_shared_property_sets_read_once_and_not_aliased(tmp_path):
    import ifcopenshell.api.pset
    import ifcopenshell.api.root

    f = ifcopenshell.file(schema="IFC4")
    spaces = [ifcopenshell.api.root.create_entity(f, ifc_class="IfcSpace", name=f"S{i}")
              for i in range(3)]
    pset = ifcopenshell.api.pset.add_pset(f, product=spaces[0], name="Pset_SpaceCommon")
    ifcopenshell.api.pset.edit_pset(f, pset=pset, properties={"PubliclyAccessible": True,
                                                              "Category": "lobby"})
    own = ifcopenshell.api.pset.add_pset(f, product=spaces[2], name="Pset_SpaceCommon")
    ifcopenshell.api.pset.edit_pset(f, pset=own, properties={"Category": "shop"})
    shared = [r for r in f.by_type("IfcRelDefinesByProperties") if r.RelatingPropertyDefinition == pset]
    shared[0].RelatedObjects = tuple(spaces)  # one set shared by the three spaces
    r = Relations(f, 1.0)
    got = [r.psets(s, names={"Pset_SpaceCommon"}) for s in spaces]
    assert got[0] == got[1] == {"Pset_SpaceCommon": {"PubliclyAccessible": True, "Category": "lobby"}}
    assert got[2]["Pset_SpaceCommon"]["Category"] in ("lobby", "shop")  # both sets name it
    got[0]["Pset_SpaceCommon"]["Category"] = "changed"  # a caller's dict is its own
    assert r.psets(spaces[1], names={"Pset_SpaceCommon"})["Pset_SpaceCommon"]["Category"] == "lobby"


def test_locator_box_path_matches_strtree_and_brute_force():
    from bim.doors import SpaceLocator

    rng = np.random.default_rng(7)
    polys = [box(x, y, x + w, y + d) for x, y, w, d in rng.uniform([0, 0, 1, 1], [40, 40, 8, 8], (60, 4))]
    polys += [shapely.Polygon(), polys[3]]  # an empty one (dropped) and a duplicate
    ids = [f"s{i}" for i in range(len(polys))]
    loc = SpaceLocator(ids, polys)
    pts = rng.uniform(-2, 50, (500, 2))
    pts[:10] = [p.exterior.coords[0] for p in polys[:10]]  # on boundaries
    fast = loc.at_many(pts)
    loc.BOX_PAIRS_MAX = 0  # force the STRtree path
    tree = loc.at_many(pts)
    for (x, y), a, b in zip(pts, fast, tree):
        inside = [(p.area, i) for i, p in enumerate(polys)
                  if not p.is_empty and p.intersects(shapely.Point(x, y))]
        want = ids[min(inside)[1]] if inside else None
        assert a == want and b == want
    assert loc.at(*pts[0]) == fast[0]
    assert SpaceLocator([], []).at_many(pts[:3]) == [None, None, None]


def test_equal_plans_share_one_footprint_and_box():
    from bim.meshes import mesh_footprints, oriented_boxes

    room = prism_mesh(box(0, 0, 4, 5), 0.0, 3.0)
    upper = Mesh(room.verts + [0.0, 0.0, 3.0], room.faces)  # the same plan a storey up
    other = prism_mesh(box(0, 0, 4, 6), 0.0, 3.0)
    fps = mesh_footprints([room, upper, other, room])
    assert fps[0] is fps[1] is fps[3] and fps[2] is not fps[0]
    assert fps[0].equals(mesh_footprint(upper)) and fps[2].equals(mesh_footprint(other))
    sets = [room.verts[:, :2], upper.verts[:, :2], other.verts[:, :2]]
    boxes = oriented_boxes(sets)
    assert boxes[0] is boxes[1]
    for got, p in zip(boxes, sets):
        want = oriented_box(p)
        assert got[0] == pytest.approx(want[0]) and got[2:] == pytest.approx(want[2:])
    with pytest.raises(ValueError):  # a shared result cannot be changed by one of its users
        boxes[0][0][0] = 99.0


def test_z_ranges_in_one_pass_equal_one_by_one():
    from bim.meshes import set_z_ranges

    rng = np.random.default_rng(3)
    meshes = [Mesh(rng.normal(size=(n, 3)) * 10, np.zeros((0, 3), dtype=np.int64)) for n in (1, 5, 40)]
    meshes.append(Mesh(np.zeros((0, 3)), np.zeros((0, 3), dtype=np.int64)))
    set_z_ranges(meshes)
    for m in meshes[:3]:
        assert (m.zmin, m.zmax) == (float(m.verts[:, 2].min()), float(m.verts[:, 2].max()))
    assert np.isnan(meshes[3].zmin) and np.isnan(meshes[3].zmax)


def test_cache_entry_round_trip_keeps_shared_geometries():
    import io
    import pickle

    from bim import sitecache
    from twin.model import Community, Storey

    plan = box(0, 0, 10, 8)
    c = Community(name="x")
    storeys = [Storey(id=f"F{i}", name=f"F{i}", building_id="B", elevation_m=3.0 * i, walkable=plan)
               for i in range(3)]
    obj = {"storeys": storeys, "other": box(1, 1, 2, 2), "plain": [1, "a", 2.5, None], "c": c}
    buf = io.BytesIO()
    sitecache.dump(obj, buf)
    back = sitecache.load(io.BytesIO(buf.getvalue()))
    assert [s.walkable.equals(plan) for s in back["storeys"]] == [True] * 3
    assert back["storeys"][0].walkable is back["storeys"][2].walkable  # stored once
    assert back["other"].equals(box(1, 1, 2, 2)) and back["plain"] == [1, "a", 2.5, None]
    body = buf.getvalue()[len(b"TWINSITE3"):]
    pickle.load(io.BytesIO(body))  # the WKB list
    with pytest.raises(Exception):  # the body alone cannot be read without its geometries
        stream = io.BytesIO(body)
        pickle.load(stream)
        pickle.load(stream)


def test_transform_of_shared_geometries_moves_every_slot():
    from bim.transform import map_xy
    from twin.model import Building, Community, Storey

    plan = box(0, 0, 10, 8)
    c = Community(name="x")
    b = Building(id="B", name="B", source="ifc", footprint=plan)
    b.storeys = [Storey(id=f"F{i}", name=f"F{i}", building_id="B", elevation_m=3.0 * i, walkable=plan)
                 for i in range(3)]
    c.buildings.append(b)
    map_xy(c, lambda x, y: (x + 100.0, y * 2.0))
    want = box(100, 0, 110, 16)
    assert b.footprint.equals(want)
    assert all(s.walkable.equals(want) for s in b.storeys)


def test_products_without_representation_yield_no_mesh_and_no_retry(shared_ifc, monkeypatch):
    import bim.meshes as M

    f = ifcopenshell.open(str(shared_ifc / "Duplex_A_20110907.ifc"))
    bare = [e for e in f.by_type("IfcStair") + f.by_type("IfcStairFlight") + f.by_type("IfcDoor")]
    with_rep = [e for e in bare if e.Representation is not None]
    assert len(with_rep) < len(bare)  # the file has stairs without their own geometry
    kernels = []
    real = M._run_iterator
    monkeypatch.setattr(M, "_run_iterator", lambda *a: kernels.append(a[2]) or real(*a))
    meshes = iterate_meshes(f, bare)
    assert set(meshes) == {e.id() for e in with_rep} and kernels == [M.FAST_KERNEL]
    seen = []
    iterate_meshes(f, bare, progress=lambda done, total, msg: seen.append(total))
    assert seen and set(seen) == {len(with_rep)}


def _merged(*meshes: Mesh) -> Mesh:
    """One mesh of several solids (separate vertex sets), as IFC stairs of treads on stringers."""
    off = np.cumsum([0] + [len(m.verts) for m in meshes[:-1]])
    return Mesh(np.vstack([m.verts for m in meshes]), np.vstack([m.faces + o for m, o in zip(meshes, off)]))


def _welded_box(x0, y0, x1, y1, z0, z1) -> Mesh:
    """A closed box of 8 shared corners and 12 outward triangles (as ifcopenshell welds)."""
    v = np.array([[(x0, x1)[i], (y0, y1)[j], (z0, z1)[k]] for k in (0, 1) for j in (0, 1) for i in (0, 1)])
    quads = [(0, 2, 3, 1), (4, 5, 7, 6), (0, 1, 5, 4), (2, 6, 7, 3), (0, 4, 6, 2), (1, 3, 7, 5)]
    return Mesh(v.astype(float), np.array([t for a, b, c, d in quads for t in ((a, b, c), (a, c, d))]))


@pytest.mark.parametrize("welded", [True, False])
def test_footprint_of_solids_overlapping_in_plan_is_their_union(welded):
    make = _welded_box if welded else (lambda x0, y0, x1, y1, z0, z1: prism_mesh(box(x0, y0, x1, y1), z0, z1))
    stringer = make(0, 0, 4, 0.2, 0.0, 2.0)
    treads = [make(0.3 * i, 0, 0.3 * i + 0.35, 1.2, 0.2 * i, 0.2 * i + 0.05) for i in range(8)]
    mesh = _merged(stringer, *treads)
    want = shapely.union_all([box(0, 0, 4, 0.2)] + [box(0.3 * i, 0, 0.3 * i + 0.35, 1.2) for i in range(8)])
    fast, slow = mesh_footprint(mesh), footprint_naive(mesh)
    assert fast.is_valid and fast.area == pytest.approx(want.area, abs=1e-6)
    assert fast.symmetric_difference(want).area < 1e-6 and fast.symmetric_difference(slow).area < 1e-6


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_connected_parts_of_a_mesh_match_scipy(seed):
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    from bim.meshes import _solid_of_face

    rng = np.random.default_rng(seed)
    parts = [_welded_box(x, 0, x + 1, 1, 0, 1) for x in rng.uniform(0, 20, 7)]
    mesh = _merged(*parts)
    perm = rng.permutation(len(mesh.verts))  # vertex numbering unrelated to the parts
    inv = np.argsort(perm)
    mesh = Mesh(mesh.verts[perm], inv[mesh.faces])
    got = _solid_of_face(mesh)
    f = mesh.faces
    a, b = np.concatenate([f[:, 0], f[:, 1]]), np.concatenate([f[:, 1], f[:, 2]])
    n = len(mesh.verts)
    k, want = connected_components(coo_matrix((np.ones(len(a)), (a, b)), shape=(n, n)), directed=False)
    want = want[f[:, 0]]
    assert k == len(parts) == len(set(got.tolist()))
    assert len(set(zip(got.tolist(), want.tolist()))) == k  # the same partition
