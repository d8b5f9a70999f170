"""Scene routes on the real app: build at start, disk cache across restarts, errors."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient

from services.api.scene import SceneComponent
from services.app import create_app
from services.settings import Settings
from tests.conftest import SAMPLE_SITES
from tests.viewer.common import parse_glb


def _tiny():
    import bim

    folder = SAMPLE_SITES / "tiny"
    if not folder.is_dir():
        pytest.skip("sample site tiny is absent")
    return bim.load(folder), folder


def test_scene_built_at_start_and_cached_across_restarts(tmp_path):
    community, folder = _tiny()
    settings = Settings(data_dir=tmp_path / "data", site=folder)
    infos, glbs = [], []
    for _ in range(2):  # two service lifetimes sharing the data folder
        app = create_app(settings, community=community, components=[SceneComponent()])
        with TestClient(app) as client:
            deadline = time.monotonic() + 60
            while client.get("/api/health").json()["components"]["scene"]["building"]:
                assert time.monotonic() < deadline
                time.sleep(0.05)
            infos.append(client.get("/api/scene/info").json())
            glbs.append(client.get("/api/scene.glb").content)
    assert infos[0]["cached"] is False and infos[1]["cached"] is True
    assert glbs[0] == glbs[1] and infos[0]["key"] == infos[1]["key"]
    doc, _ = parse_glb(glbs[0])
    assert doc["scenes"][0]["extras"]["twin"]["key"] == infos[0]["key"]
    assert list((tmp_path / "data" / "cache" / "scene").glob("*.glb"))


def test_index_lists_every_device_with_a_position(tmp_path):
    community, folder = _tiny()
    app = create_app(Settings(data_dir=tmp_path / "data", site=folder), community=community)
    with TestClient(app) as client:
        idx = client.get("/api/scene/index").json()
    assert {d["id"] for d in idx["devices"]} == {d.id for d in community.devices}
    assert all(d["position"] is not None and len(d["position"]) == 3 for d in idx["devices"])
    assert not any(k in str(idx) for u in community.billing_units for k in (u.owner, u.phone) if k)


def test_without_a_community_scene_routes_say_so(tmp_path):
    app = create_app(Settings(data_dir=tmp_path / "data"), community=None)
    with TestClient(app) as client:
        r = client.get("/api/scene.glb")
    assert r.status_code == 404 and "no community" in r.json()["detail"]


def test_missing_ifc_is_a_clear_422(tmp_path):
    community, _ = _tiny()
    app = create_app(Settings(data_dir=tmp_path / "data", site=tmp_path / "elsewhere"), community=community)
    with TestClient(app) as client:
        r = client.get("/api/scene/info")
    assert r.status_code == 422 and "not found" in r.json()["detail"]


def test_index_carries_the_names_people_use(tmp_path):
    """Buildings and storeys have labels; stairs and exits their names and a position near them."""
    community, folder = _tiny()
    app = create_app(Settings(data_dir=tmp_path / "data", site=folder), community=community)
    with TestClient(app) as client:
        idx = client.get("/api/scene/index").json()
    assert [b["label"] for b in idx["buildings"]] == ["1号楼"]
    assert [s["label"] for s in idx["storeys"]] == ["1F", "2F", "3F"]
    assert [s["name"] for s in idx["stairs"]] == ["1号楼 1单元 A梯 1F-2F", "1号楼 1单元 A梯 2F-3F"]
    assert {s["staircase"] for s in idx["stairs"]} == {"1单元 A梯"}
    assert sorted(e["name"] for e in idx["exits"]) == ["1号楼 1单元 1F A梯 出口", "1号楼 1单元 1F 门厅 出口"]
    origin = idx["origin"]
    for e in idx["exits"]:
        d = next(x for x in community.doors if x.id == e["id"])
        # scene coordinates: (east, up, -north) from the origin, marker 2.2 m above the floor
        assert e["position"][0] == pytest.approx(d.position[0] - origin[0], abs=1e-3)
        assert e["position"][2] == pytest.approx(-(d.position[1] - origin[1]), abs=1e-3)
        assert e["position"][1] == pytest.approx(0.0 - origin[2] + 2.2, abs=1e-3)
    lows = [s["position"][1] for s in idx["stairs"]]
    assert lows[1] - lows[0] == pytest.approx(2.9, abs=1e-3)   # one storey height apart
