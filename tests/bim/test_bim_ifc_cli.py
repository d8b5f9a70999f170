"""``twin ifc FILE``: JSON report, cache, one-line errors with exit code 2."""

from __future__ import annotations

import json

from conftest import run_cli


def test_ifc_json_report(shared_ifc, tmp_path):
    cache = tmp_path / "cache"
    first = run_cli("ifc", str(shared_ifc / "authored_building.ifc"), "--json", "--cache-dir", str(cache))
    assert first.returncode == 0, first.stderr
    report = json.loads(first.stdout)
    assert report["crs"] == "EPSG:4547" and report["georeferenced"] is True
    assert report["counts"]["spaces"] == 4 and report["counts"]["devices"] == 8
    assert report["entity_counts"]["IfcSpace"] == 4
    assert [s["name"] for s in report["storeys"]] == ["L1", "L2"]
    assert report["storeys"][1]["elevation_m"] == 3.0 and report["storeys"][0]["spaces"] == 2
    assert report["from_cache"] is False
    second = run_cli("ifc", str(shared_ifc / "authored_building.ifc"), "--json", "--cache-dir", str(cache),
                     "--building-id", "B1")
    again = json.loads(second.stdout)
    assert again["from_cache"] is True and again["building_id"] == "B1"
    assert again["counts"] == report["counts"]
    local = json.loads(run_cli("ifc", str(shared_ifc / "authored_building.ifc"), "--json",
                               "--no-cache", "--local").stdout)
    assert local["crs"] is None and local["georeferenced"] is False


def test_ifc_human_output(shared_ifc):
    out = run_cli("ifc", str(shared_ifc / "IfcOpenHouse_IFC4.ifc"), "--no-cache")
    assert out.returncode == 0, out.stderr
    assert "storeys" in out.stdout and "IFC4" in out.stdout
    assert "warning:" in out.stderr  # the flight that links no storeys


def test_ifc_bad_inputs_exit_2_with_one_line(tmp_path):
    text = tmp_path / "notes.ifc"
    text.write_text("just some notes\n")
    for path in (tmp_path / "missing.ifc", text):
        out = run_cli("ifc", str(path), "--no-cache")
        assert out.returncode == 2
        lines = [ln for ln in out.stderr.splitlines() if ln.strip()]
        assert len(lines) == 1 and lines[0].startswith("error: ")
        assert path.name in lines[0]
