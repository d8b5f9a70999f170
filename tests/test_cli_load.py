"""``twin load`` and ``twin demo`` through the real CLI (a fresh interpreter per call)."""

from __future__ import annotations

import json

import geopandas as gpd
import pytest
from shapely.geometry import box

from tests.bim.sitebuild import shared_ifc_or_skip, write_site
from tests.conftest import run_cli

TOP_KEYS = {"site", "crs", "counts", "buildings", "stairs", "exits", "warnings"}
COUNT_KEYS = {"buildings", "storeys", "spaces", "doors", "stairs", "elevators", "devices", "billing_units"}
BUILDING_KEYS = {"id", "name", "label", "source", "storeys"}
STOREY_KEYS = {"id", "name", "label", "elevation_m", "spaces", "doors", "stairs", "elevators", "devices",
               "walkable_area_m2"}


def _json(result) -> dict:
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)  # exactly one JSON document on stdout
    assert set(data) - {"doors"} == TOP_KEYS and set(data["counts"]) == COUNT_KEYS
    for b in data["buildings"]:
        assert set(b) == BUILDING_KEYS
        for s in b["storeys"]:
            assert set(s) == STOREY_KEYS
    return data


def test_load_site_folder_json(tmp_path):
    site = write_site(tmp_path / "s", registers={"devices": [
        "id,kind,name,building,storey,space,x,y,z,feeds,ifc_guid", "M1,meter_water,m,,B1-F02,,,,,,",
        "M2,meter_water,m,,B1-F02,,,,,,"]})
    data = _json(run_cli("load", str(site), "--json", "--no-cache"))
    assert data["site"] == "t" and data["crs"] == "EPSG:4547"
    assert data["counts"]["buildings"] == 2 and data["counts"]["storeys"] == 6 + 18
    assert data["counts"]["devices"] == 2
    b1 = data["buildings"][0]
    assert (b1["id"], b1["source"], len(b1["storeys"])) == ("B1", "gis", 6)
    f1, f2 = b1["storeys"][:2]
    assert f2["elevation_m"] == pytest.approx(2.9) and f2["devices"] == 2 and f1["devices"] == 0
    # 40 x 12 m slab: corridor, 1 stair, 1 elevator shaft, 4 flats; exits only on F01
    assert (f1["spaces"], f1["stairs"], f1["elevators"]) == (7, 1, 1)
    assert f1["doors"] == f2["doors"] + 2
    # walkable: the whole 480 m2 less the 2.4 m x 5.25 m elevator shaft
    assert f1["walkable_area_m2"] == pytest.approx(480 - 2.4 * 5.25, abs=0.01)
    assert sum(s["spaces"] for b in data["buildings"] for s in b["storeys"]) == data["counts"]["spaces"]


def test_load_json_lists_named_stairs_exits_and_doors_on_request():
    from tests.conftest import SAMPLE_SITES

    data = _json(run_cli("load", str(SAMPLE_SITES / "tiny"), "--json"))
    assert "doors" not in data
    (b,) = data["buildings"]
    assert b["label"] == "1号楼" and [s["label"] for s in b["storeys"]] == ["1F", "2F", "3F"]
    ids = [s["id"] for s in b["storeys"]]
    # the tiny tower: one stair core (two flights), a stair exit and the lobby exit on F01
    assert data["stairs"] == [
        {"id": data["stairs"][0]["id"], "name": "1单元 A梯 1F-2F", "full_name": "1号楼 1单元 A梯 1F-2F",
         "building": "T1", "staircase": "1单元 A梯", "storeys": ids[:2], "storey_labels": ["1F", "2F"]},
        {"id": data["stairs"][1]["id"], "name": "1单元 A梯 2F-3F", "full_name": "1号楼 1单元 A梯 2F-3F",
         "building": "T1", "staircase": "1单元 A梯", "storeys": ids[1:], "storey_labels": ["2F", "3F"]}]
    assert sorted((e["name"], e["storey"]) for e in data["exits"]) == [
        ("1单元 1F A梯 出口", ids[0]), ("1单元 1F 门厅 出口", ids[0])]
    full = _json(run_cli("load", str(SAMPLE_SITES / "tiny"), "--json", "--doors"))
    assert len(full["doors"]) + len(full["exits"]) == full["counts"]["doors"] == 11
    assert {d["name"] for d in full["doors"]} >= {"1单元 3F 302室 门", "1单元 2F A梯 门"}
    assert len({d["name"] for d in full["doors"]}) == len(full["doors"])


def test_load_ifc_file_json():
    src = shared_ifc_or_skip("authored_building.ifc")
    data = _json(run_cli("load", str(src), "--json", "--no-cache"))
    assert data["crs"] == "EPSG:4547"
    (b,) = data["buildings"]
    assert b["source"] == "ifc" and len(b["storeys"]) == 2
    # the file's README: 2 storeys, 4 apartments, 2 doors, 1 stair, an elevator
    assert (data["counts"]["spaces"], data["counts"]["doors"], data["counts"]["stairs"]) == (4, 2, 1)
    assert [s["elevators"] for s in b["storeys"]] == [1, 1]


def test_load_gis_file_json_and_exports(tmp_path):
    path = tmp_path / "blocks.gpkg"
    gpd.GeoDataFrame({"id": ["A", "B"], "floors": [3, 5]},
                     geometry=[box(114.0, 30.0, 114.0004, 30.0001), box(114.001, 30.0, 114.0014, 30.0001)],
                     crs="EPSG:4326").to_file(path)
    out = tmp_path / "geo"
    model = tmp_path / "model.json"
    data = _json(run_cli("load", str(path), "--json", "--no-cache", "--export-geojson", str(out),
                         "--export-json", str(model)))
    # lon 114.0: UTM zone floor(294 / 6) + 1 = 50, north
    assert data["site"] == "blocks" and data["crs"] == "EPSG:32650"
    assert [len(b["storeys"]) for b in data["buildings"]] == [3, 5]
    site = gpd.read_file(out / "site.geojson")
    assert len(site) >= 2
    storey = gpd.read_file(out / "A-F01.geojson")
    assert len(storey) >= 3 and storey.geometry.is_valid.all()
    assert json.loads(model.read_text())["name"] == "blocks"


def test_human_summary_and_cache_dir(tmp_path):
    site = write_site(tmp_path / "s")
    cache = tmp_path / "cache"
    first = run_cli("load", str(site), "--cache-dir", str(cache))
    assert first.returncode == 0, first.stderr
    assert "B2" in first.stdout and "storeys" in first.stdout
    assert list((cache / "site").glob("*.pickle"))
    again = run_cli("load", str(site), "--json", "--cache-dir", str(cache))
    assert _json(again)["counts"]["storeys"] == 24


@pytest.mark.parametrize("case", ["missing", "truncated_ifc", "text_as_ifc", "gis_without_crs",
                                  "empty_gis", "unknown_suffix"])
def test_bad_inputs_exit_2_with_one_line(tmp_path, case):
    if case == "missing":
        target = tmp_path / "nowhere"
    elif case == "truncated_ifc":
        src = shared_ifc_or_skip("AC20-FZK-Haus.ifc")
        target = tmp_path / "cut.ifc"
        target.write_bytes(src.read_bytes()[:20000])
    elif case == "text_as_ifc":
        target = tmp_path / "notes.ifc"
        target.write_text("this is not a building model\n")
    elif case == "gis_without_crs":
        target = tmp_path / "b.shp"
        gpd.GeoDataFrame({"id": ["A"], "floors": [3]}, geometry=[box(0, 0, 10, 10)], crs="EPSG:4547").to_file(target)
        (tmp_path / "b.prj").unlink()
    elif case == "empty_gis":
        target = tmp_path / "none.geojson"
        target.write_text('{"type": "FeatureCollection", "features": []}')
    else:
        target = tmp_path / "model.dwg"
        target.write_text("x")
    result = run_cli("load", str(target), "--json", "--no-cache")
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr


def test_demo_loads_a_site(tmp_path):
    site = write_site(tmp_path / "s")
    result = run_cli("demo", "--json", env={"TWIN_SITE": str(site), "TWIN_DATA_DIR": str(tmp_path / "d")})
    assert _json(result)["site"] == "t"
