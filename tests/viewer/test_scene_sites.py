"""Scenes of the sample sites, loaded by the real site loader (bim.load)."""

from __future__ import annotations

import numpy as np
import pytest

from bim.mesh import OVERVIEW_BUDGET, build_scene
from tests.conftest import SAMPLE_SITES
from tests.viewer.common import node_triangles, parse_glb


def _load(name: str):
    import bim

    folder = SAMPLE_SITES / name
    if not folder.is_dir():
        pytest.skip(f"sample site {name} is absent")
    return bim.load(folder), folder


def test_tiny_rooms_land_on_the_twins_space_footprints(tmp_path):
    """Every IFC space mesh, back in site coordinates, covers its twin footprint (±5 cm)."""
    community, folder = _load("tiny")
    scene = build_scene(community, base_dir=folder, cache_dir=tmp_path)
    doc, blob = parse_glb(scene.glb)
    ox, oy, oz = scene.origin
    spaces = {s.id: s for s in community.spaces}
    storeys = {s.id: s for s in community.storeys}
    checked = 0
    for node in doc["nodes"]:
        if not node["name"].endswith(":spaces"):
            continue
        tris = node_triangles(doc, blob, node)
        el = node["extras"]["elements"]
        for sid, first, count in zip(el["ids"], el["first"], el["count"]):
            pts = tris[first:first + count].reshape(-1, 3)
            east, north, up = pts[:, 0] + ox, -pts[:, 2] + oy, pts[:, 1] + oz
            x0, y0, x1, y1 = spaces[sid].footprint.bounds
            assert east.min() == pytest.approx(x0, abs=0.05) and east.max() == pytest.approx(x1, abs=0.05)
            assert north.min() == pytest.approx(y0, abs=0.05) and north.max() == pytest.approx(y1, abs=0.05)
            assert up.min() == pytest.approx(storeys[spaces[sid].storey_id].elevation_m, abs=0.05)
            checked += 1
    assert checked == len([s for s in community.spaces if s.building_id in
                           {b.id for b in community.buildings if b.source == "ifc"}])


def test_lakeside_overview_fits_the_budget_and_detail_is_complete(tmp_path):
    community, folder = _load("lakeside")
    scene = build_scene(community, base_dir=folder, cache_dir=tmp_path)
    assert scene.overview_triangles <= OVERVIEW_BUDGET
    doc, _ = parse_glb(scene.glb)
    storeys = {n["extras"]["id"] for n in doc["nodes"] if n.get("extras", {}).get("kind") == "storey"}
    assert storeys == {s.id for s in community.storeys}  # every storey can be opened
    shells = {n["extras"]["building"] for n in doc["nodes"] if n.get("extras", {}).get("kind") == "shell"}
    assert shells == {b.id for b in community.buildings}
    assert np.isfinite(scene.total_triangles) and scene.total_triangles > scene.overview_triangles
