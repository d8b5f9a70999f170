"""The sample sites load, with counts consistent with their own registers and layers."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import geopandas as gpd
import pytest

import bim
from bim.ifc import load_ifc
from tests.conftest import SAMPLE_SITES, run_cli


def _rows(site: Path, rel: str) -> list[dict]:
    with open(site / rel, newline="", encoding="utf-8-sig") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module", params=["tiny", "lakeside"])
def sample(request, tmp_path_factory):
    site = SAMPLE_SITES / request.param
    if not (site / "site.json").is_file():
        pytest.skip(f"sample site {request.param} is absent")
    cache = tmp_path_factory.mktemp(f"cache-{request.param}")
    return site, bim.load(site, cache_dir=cache), cache


def test_counts_match_registers(sample):
    site, c, cache = sample
    manifest = json.loads((site / "site.json").read_text(encoding="utf-8"))
    regs = manifest.get("registers", {})
    if "billing_units" in regs:
        assert len(c.billing_units) == len(_rows(site, regs["billing_units"]))
    if "households" in regs:
        rows = _rows(site, regs["households"])
        assert len(c.households) == len(rows)
        assert sum(h.size for h in c.households) == sum(int(r["size"]) for r in rows)
    if "staff" in regs:
        assert sorted(s.id for s in c.staff) == sorted(r["id"] for r in _rows(site, regs["staff"]))
    devices = _rows(site, regs["devices"]) if "devices" in regs else []
    bound = {r["ifc_guid"] for r in devices if r.get("ifc_guid")}
    ifc_devices = set()
    for spec in manifest.get("buildings", []):
        if spec.get("ifc"):
            ifc_devices |= {d.id for d in load_ifc(site / spec["ifc"], cache_dir=cache).community.devices}
    assert bound <= ifc_devices
    assert len(c.devices) == len(devices) + len(ifc_devices - bound)
    assert {r["id"] for r in devices} <= {d.id for d in c.devices}


def test_buildings_match_layer_and_manifest(sample):
    site, c, _ = sample
    manifest = json.loads((site / "site.json").read_text(encoding="utf-8"))
    layer = gpd.read_file(site / manifest["layers"]["buildings"])
    ids = list(layer["id"]) + [b["id"] for b in manifest["buildings"] if b["id"] not in set(layer["id"])]
    assert [b.id for b in c.buildings] == ids
    for b in c.buildings:
        spec = next((s for s in manifest["buildings"] if s["id"] == b.id), {})
        row = layer[layer["id"] == b.id]
        assert b.source == ("ifc" if spec.get("ifc") or (len(row) and row.iloc[0].get("ifc")) else "gis")
        if b.source == "gis":
            assert len(b.storeys) == int(row.iloc[0]["floors"])
        # every IFC building sits on its GIS footprint
        assert b.attributes.get("footprint_iou", 1.0) >= 0.9, b.id
    assert c.crs == manifest["crs"]
    assert not [w for w in c.warnings if "IoU" in w]


def test_cli_json_on_sample_and_warm_cache(sample):
    site, c, cache = sample
    result = run_cli("load", str(site), "--json", "--cache-dir", str(cache))
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["counts"] == c.counts() and data["site"] == c.name
    assert sum(s["spaces"] for b in data["buildings"] for s in b["storeys"]) == len(c.spaces)
