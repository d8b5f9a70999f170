"""The GLB scene: element ids and triangle counts, ground layers, placement, LOD, cache."""

from __future__ import annotations

import math
import shutil

import numpy as np
import pytest
from shapely.geometry import MultiPoint

from bim.mesh import SceneError, build_scene, scene_index
from tests.viewer.common import E0, N0, node_triangles, parse_glb, small_community, tri_area
from twin.model import Building, Community, Space, Storey

FAST = "hybrid-cgal-simple-opencascade"


def _nodes(doc, prefix):
    return [n for n in doc["nodes"] if n["name"].startswith(prefix)]


def _ifc_community(path, **attrs) -> Community:
    return Community(name="one", buildings=[Building(id="B", name="B", source="ifc", ifc_file=str(path),
                                                     attributes=attrs)])


def _ifcopenshell_triangles(path) -> dict[str, int]:
    """Triangles per element as ifcopenshell.geom.create_shape makes them, one by one."""
    import ifcopenshell
    import ifcopenshell.geom

    f = ifcopenshell.open(str(path))
    s = ifcopenshell.geom.settings()
    s.set("use-world-coords", True)
    out = {}
    for el in f.by_type("IfcProduct"):
        if el.Representation is None or el.is_a("IfcOpeningElement") or el.is_a("IfcSite"):
            continue
        try:
            shape = ifcopenshell.geom.create_shape(s, el, geometry_library=FAST)
        except Exception:
            continue
        n = len(shape.geometry.faces) // 3
        if n:
            out[el.GlobalId] = n
    return out


@pytest.mark.parametrize("name", ["AC20-FZK-Haus.ifc", "Duplex_A_20110907.ifc", "IfcOpenHouse_IFC4.ifc"])
def test_glb_keeps_element_ids_and_triangle_counts(shared_ifc, name):
    path = shared_ifc / name
    scene = build_scene(_ifc_community(path))
    doc, blob = parse_glb(scene.glb)
    expected = _ifcopenshell_triangles(path)
    got: dict[str, int] = {}
    for node in _nodes(doc, "storey:") + _nodes(doc, "misc:"):
        if "mesh" not in node:
            continue
        el = node["extras"]["elements"]
        idx_count = doc["accessors"][doc["meshes"][node["mesh"]]["primitives"][0]["indices"]]["count"]
        assert idx_count == 3 * sum(el["count"])  # ranges cover the mesh exactly
        assert el["first"] == list(np.cumsum([0] + el["count"][:-1]))
        for eid, n in zip(el["ids"], el["count"]):
            got[eid] = got.get(eid, 0) + n
    assert got.keys() == expected.keys()
    assert got == expected


def test_storey_nodes_are_the_files_storeys(shared_ifc):
    import ifcopenshell

    path = shared_ifc / "Duplex_A_20110907.ifc"
    doc, _ = parse_glb(build_scene(_ifc_community(path)).glb)
    storeys = {n["extras"]["id"] for n in doc["nodes"] if n.get("extras", {}).get("kind") == "storey"}
    in_file = {s.GlobalId for s in ifcopenshell.open(str(path)).by_type("IfcBuildingStorey")}
    assert storeys and storeys <= in_file
    for n in _nodes(doc, "storey:"):
        if n.get("extras", {}).get("kind") == "storey":
            assert n["extras"]["lod"] == "detail"


def test_ground_layers_and_gis_buildings_by_hand():
    scene = build_scene(small_community())
    doc, blob = parse_glb(scene.glb)
    by_name = {n["name"]: n for n in doc["nodes"]}
    # green 20 m × 10 m; road 100 m × 6 m; a parking bay 2.5 m × 5 m
    assert tri_area(node_triangles(doc, blob, by_name["layer:green"])) == pytest.approx(200.0, rel=1e-4)
    assert tri_area(node_triangles(doc, blob, by_name["layer:roads"])) == pytest.approx(600.0, rel=1e-4)
    assert tri_area(node_triangles(doc, blob, by_name["layer:parking"])) == pytest.approx(12.5, rel=1e-4)
    assert by_name["layer:green"]["extras"]["elements"]["ids"] == ["green-1"]
    # B1: 20 m × 10 m, 6 storeys of 3 m → roof 200 m² + walls 60 m × 18 m
    shell = node_triangles(doc, blob, by_name["shell:B1"])
    assert tri_area(shell) == pytest.approx(200.0 + 60.0 * 18.0, rel=1e-4)
    assert shell[..., 1].max() == pytest.approx(18.0, abs=1e-3)  # y is up
    # scene x = east - origin, z = -(north - origin): the footprint's corners by hand
    ox, oy, _ = scene.origin
    assert shell[..., 0].min() == pytest.approx(E0 + 10 - ox, abs=1e-3)
    assert shell[..., 2].max() == pytest.approx(-(N0 + 10 - oy), abs=1e-3)
    # every storey of a GIS building has rooms as clickable volumes named by space id
    spaces = by_name["storey:B1-F03:spaces"]["extras"]["elements"]["ids"]
    assert spaces == ["B1-F03-01", "B1-F03-ST", "B1-F03-02"]
    assert by_name["storey:B1-F03"]["extras"]["elevation_m"] == pytest.approx(6.0)
    # outward normals: every wall/roof normal points away from the footprint centre
    prim = doc["meshes"][by_name["shell:B1"]["mesh"]]["primitives"][0]
    from tests.viewer.common import accessor
    pos = accessor(doc, blob, prim["attributes"]["POSITION"])
    nrm = accessor(doc, blob, prim["attributes"]["NORMAL"])
    centre = np.array([E0 + 20 - ox, 9.0, -(N0 + 15 - oy)])
    assert ((pos - centre) * nrm).sum(axis=1).min() > 0


def test_placement_follows_the_twins_spaces(shared_ifc):
    """Spaces placed by hand (rotation 30°, shift) → the meshes land on them."""
    import ifcopenshell
    import ifcopenshell.geom

    path = shared_ifc / "AC20-FZK-Haus.ifc"
    f = ifcopenshell.open(str(path))
    s = ifcopenshell.geom.settings()
    s.set("use-world-coords", True)
    angle, dx, dy = math.radians(30.0), E0 + 123.0, N0 + 456.0
    rot = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    storeys, spaces, local = {}, [], {}
    for sp in f.by_type("IfcSpace"):
        v = np.asarray(ifcopenshell.geom.create_shape(s, sp).geometry.verts).reshape(-1, 3)
        xy = v[:, :2] @ rot.T + (dx, dy)
        local[sp.GlobalId] = v
        st = next(r.RelatingObject for r in sp.Decomposes)
        storeys[st.GlobalId] = Storey(id=st.GlobalId, name=st.Name, building_id="B",
                                      elevation_m=float(st.Elevation) + 100.0)
        spaces.append(Space(id=sp.GlobalId, name=sp.Name, storey_id=st.GlobalId, building_id="B",
                            footprint=MultiPoint(xy).convex_hull))
    b = Building(id="B", name="B", source="ifc", ifc_file=str(path), storeys=list(storeys.values()))
    c = Community(name="placed", buildings=[b], spaces=spaces)
    scene = build_scene(c)
    doc, blob = parse_glb(scene.glb)
    ox, oy, oz = scene.origin
    checked = 0
    for node in _nodes(doc, "storey:"):
        if not node["name"].endswith(":spaces"):
            continue
        tris = node_triangles(doc, blob, node)
        el = node["extras"]["elements"]
        for eid, first, count in zip(el["ids"], el["first"], el["count"]):
            pts = tris[first:first + count].reshape(-1, 3)
            east, north, up = pts[:, 0] + ox, -pts[:, 2] + oy, pts[:, 1] + oz
            v = local[eid]
            want_xy = v[:, :2] @ rot.T + (dx, dy)
            assert east.min() == pytest.approx(want_xy[:, 0].min(), abs=0.01)
            assert north.max() == pytest.approx(want_xy[:, 1].max(), abs=0.01)
            assert up.min() == pytest.approx(v[:, 2].min() + 100.0, abs=0.01)
            checked += 1
    assert checked >= 2


def test_map_conversion_places_a_lone_file(shared_ifc):
    """authored_building.ifc: IfcMapConversion E=500123.45, N=3379456.78, x axis (cos 30°, sin 30°)."""
    import ifcopenshell
    import ifcopenshell.geom

    path = shared_ifc / "authored_building.ifc"
    f = ifcopenshell.open(str(path))
    s = ifcopenshell.geom.settings()
    s.set("use-world-coords", True)
    wall = next(w for w in f.by_type("IfcWall") if w.Representation)
    v = np.asarray(ifcopenshell.geom.create_shape(s, wall).geometry.verts).reshape(-1, 3)
    a = math.radians(30.0)
    want_e = 500123.45 + v[:, 0] * math.cos(a) - v[:, 1] * math.sin(a)
    want_n = 3379456.78 + v[:, 0] * math.sin(a) + v[:, 1] * math.cos(a)
    scene = build_scene(_ifc_community(path))
    doc, blob = parse_glb(scene.glb)
    ox, oy, _ = scene.origin
    for node in _nodes(doc, "storey:"):
        el = node.get("extras", {}).get("elements")
        if el and wall.GlobalId in el["ids"]:
            i = el["ids"].index(wall.GlobalId)
            pts = node_triangles(doc, blob, node)[el["first"][i]:el["first"][i] + el["count"][i]].reshape(-1, 3)
            assert pts[:, 0].min() + ox == pytest.approx(want_e.min(), abs=0.02)
            assert -pts[:, 2].min() + oy == pytest.approx(want_n.max(), abs=0.02)
            assert pts[:, 1].min() == pytest.approx(v[:, 2].min() + 12.5, abs=0.02)  # OrthogonalHeight
            return
    pytest.fail("the wall is not in the scene")


def test_overview_stays_under_budget_by_decimating_shells(shared_ifc):
    path = shared_ifc / "AC20-FZK-Haus.ifc"
    full = build_scene(_ifc_community(path))
    assert full.overview_triangles > 6000  # the shell alone is bigger than the budget below
    small = build_scene(_ifc_community(path), overview_budget=6000)
    assert small.overview_triangles <= 6000
    doc, blob = parse_glb(small.glb)
    shell = next(n for n in doc["nodes"] if n["name"] == "shell:B")
    assert shell["extras"]["lod"] == "overview" and shell["extras"]["elements"]["ids"] == ["B"]
    # the detail is untouched by decimation: the same storey meshes as the full scene
    full_doc, _ = parse_glb(full.glb)
    tris = lambda d: sorted(n["extras"]["triangles"] for n in d["nodes"] if n["name"].endswith(":solid"))
    assert tris(doc) == tris(full_doc)


def test_bad_budget_and_missing_ifc_are_clear_errors(tmp_path):
    with pytest.raises(SceneError, match="overview_budget=0"):
        build_scene(small_community(), overview_budget=0)
    with pytest.raises(SceneError, match="nope.ifc"):
        build_scene(_ifc_community(tmp_path / "nope.ifc"))


def test_cache_by_content_hash(shared_ifc, tmp_path):
    src = tmp_path / "house.ifc"
    shutil.copy(shared_ifc / "IfcOpenHouse_IFC4.ifc", src)
    cache = tmp_path / "cache"
    cold = build_scene(_ifc_community(src), cache_dir=cache)
    assert not cold.cached and cold.path.is_file()
    warm = build_scene(_ifc_community(src), cache_dir=cache)
    assert warm.cached and warm.glb == cold.glb and warm.key == cold.key
    # same content under another name: same key; changed content: a new scene
    other = tmp_path / "copy.ifc"
    shutil.copy(src, other)
    assert build_scene(_ifc_community(other), cache_dir=cache).cached
    with open(src, "a") as fh:
        fh.write("\n")
    changed = build_scene(_ifc_community(src), cache_dir=cache)
    assert not changed.cached and changed.key != cold.key
    # a corrupt entry is ignored and rebuilt, never served
    (cache / f"{cold.key}.glb").write_bytes(b"garbage")
    again = build_scene(_ifc_community(other), cache_dir=cache)
    assert not again.cached and again.glb == cold.glb


def test_index_positions_and_no_personal_data():
    c = small_community()
    scene = build_scene(c)
    idx = scene_index(c, scene.origin)
    ox, oy, _ = scene.origin
    dev = {d["id"]: d for d in idx["devices"]}
    # B1-F03-ST is the stair hall x 18..22, y 10..20 of B1 at 6 m; marker 2.2 m above the floor
    x, y, z = dev["B1-F03-SD1"]["position"]
    assert E0 + 18 <= x + ox <= E0 + 22 and N0 + 10 <= -z + oy <= N0 + 20
    assert y == pytest.approx(8.2)
    text = repr(idx)
    assert "138-0000" not in text and "测试甲" not in text
    assert {u["id"] for u in idx["units"]} == {"U-B1-201", "U-B2-101"}


def test_garage_parking_lies_underground_and_out_of_the_overview():
    from shapely.geometry import box

    from twin.model import SiteFeature, Storey

    c = small_community()
    c.buildings[1].storeys.insert(0, Storey(id="B2-B01", name="B1", building_id="B2", elevation_m=-3.6,
                                            height_m=3.6))
    c.features.append(SiteFeature(id="GP1", kind="parking", name="G1", attributes={"level": "garage"},
                                  geometry=box(E0 + 60, N0 + 60, E0 + 62.5, N0 + 65)))
    scene = build_scene(c)
    doc, blob = parse_glb(scene.glb)
    node = next(n for n in doc["nodes"] if n["name"] == "layer:parking_underground")
    assert node["extras"]["lod"] == "detail" and node["extras"]["elements"]["ids"] == ["GP1"]
    tris = node_triangles(doc, blob, node)
    assert tris[..., 1].max() == pytest.approx(-3.6 + 0.10, abs=1e-4)  # parking height above its floor
    assert tri_area(tris) == pytest.approx(12.5, rel=1e-4)
    ground = next(n for n in doc["nodes"] if n["name"] == "layer:parking")
    assert ground["extras"]["elements"]["ids"] == ["park-1"]


def test_public_api_is_declared():
    import bim.mesh

    assert sorted(bim.mesh.__all__) == ["OVERVIEW_BUDGET", "SCENE_VERSION", "Scene", "SceneError",
                                        "build_scene", "read_glb", "scene_index", "scene_key"]
    assert all(hasattr(bim.mesh, name) for name in bim.mesh.__all__)
