"""Cache by content hash, progress reports, bad inputs and the package's public API."""

from __future__ import annotations

import shutil
from pathlib import Path

import ifcopenshell.api
import ifcopenshell.api.aggregate
import ifcopenshell.api.project
import ifcopenshell.api.root
import ifcopenshell.api.unit
import pytest

import bim
from bim import IfcError, load_ifc
from bim.cache import cache_path
from twin.errors import TwinError

DUPLEX = "Duplex_A_20110907.ifc"


def _same(a, b) -> None:
    ca, cb = a.community, b.community
    assert ca.counts() == cb.counts() and ca.crs == cb.crs and ca.warnings == cb.warnings
    assert a.entity_counts == b.entity_counts
    for x, y in zip(ca.spaces, cb.spaces):
        assert (x.id, x.name, x.storey_id, x.area_m2) == (y.id, y.name, y.storey_id, y.area_m2)
        assert x.footprint.equals_exact(y.footprint, 0.0)
    assert [(d.id, d.spaces, d.position) for d in ca.doors] == [(d.id, d.spaces, d.position) for d in cb.doors]
    assert [(s.id, s.storey_ids) for s in ca.stairs] == [(s.id, s.storey_ids) for s in cb.stairs]
    assert [(s.id, s.elevation_m) for s in ca.storeys] == [(s.id, s.elevation_m) for s in cb.storeys]


def test_warm_load_is_equal(shared_ifc, tmp_path):
    # the speed-up (target >= 10x) is measured by benchmarks/load.py (cold/warm ratio)
    src = tmp_path / DUPLEX
    shutil.copy(shared_ifc / DUPLEX, src)
    cache = tmp_path / "cache"
    cold = load_ifc(src, cache_dir=cache, building_id="B7")
    for _ in range(2):
        warm = load_ifc(src, cache_dir=cache)
    assert not cold.from_cache and warm.from_cache
    assert cold.building_id == "B7" and warm.building_id is None  # stored per call
    _same(cold, warm)


def test_cache_key_is_the_content(shared_ifc, tmp_path):
    cache = tmp_path / "cache"
    a = load_ifc(shared_ifc / "IfcOpenHouse_IFC4.ifc", cache_dir=cache)
    copy = tmp_path / "renamed.ifc"
    shutil.copy(shared_ifc / "IfcOpenHouse_IFC4.ifc", copy)
    b = load_ifc(copy, cache_dir=cache)
    assert b.from_cache and b.sha256 == a.sha256 and b.source == str(copy)
    # one changed byte (a name) is another model
    copy.write_bytes(copy.read_bytes().replace(b"'IfcOpenHouse'", b"'IfcOpenHousf'", 1))
    c = load_ifc(copy, cache_dir=cache)
    assert not c.from_cache and c.sha256 != a.sha256


@pytest.mark.parametrize("garbage", [b"", b"not a pickle", b"TWINIFC1\x80\x05truncated"])
def test_corrupt_cache_entry_is_rebuilt(shared_ifc, tmp_path, garbage):
    cache = tmp_path / "cache"
    first = load_ifc(shared_ifc / "authored_building.ifc", cache_dir=cache)
    entry = cache_path(cache, first.sha256)
    assert entry.exists()
    entry.write_bytes(garbage)
    again = load_ifc(shared_ifc / "authored_building.ifc", cache_dir=cache)
    assert not again.from_cache
    _same(first, again)
    third = load_ifc(shared_ifc / "authored_building.ifc", cache_dir=cache)
    assert third.from_cache  # the entry was written again


def test_progress_reports(shared_ifc):
    calls = []
    load_ifc(shared_ifc / DUPLEX, progress=lambda done, total, msg: calls.append((done, total, msg)))
    assert calls and calls[-1] == (1, 1, "done")
    geometry = [(d, t) for d, t, m in calls if m == "geometry"]
    assert geometry and all(0 <= d <= t for d, t in geometry)
    assert max(d for d, _ in geometry) == geometry[-1][1]  # reaches its total


def _assert_one_line(exc: Exception) -> None:
    assert isinstance(exc, TwinError) and "\n" not in str(exc) and str(exc)


def test_missing_file(tmp_path):
    with pytest.raises(IfcError, match="not found") as e:
        load_ifc(tmp_path / "nope.ifc")
    _assert_one_line(e.value)
    with pytest.raises(IfcError, match="directory"):
        load_ifc(tmp_path)


def test_truncated_copy(shared_ifc, tmp_path):
    data = (shared_ifc / "AC20-FZK-Haus.ifc").read_bytes()
    bad = tmp_path / "half.ifc"
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(IfcError, match="truncated") as e:
        load_ifc(bad, cache_dir=tmp_path / "cache")
    _assert_one_line(e.value)
    assert not list((tmp_path / "cache").glob("*.pickle")) if (tmp_path / "cache").exists() else True


@pytest.mark.parametrize("text", ["hello, this is a text file\n", "", "ISO-10303-21;\nHEADER;\nbroken\nEND-ISO-10303-21;\n"])
def test_not_an_ifc_file(tmp_path, text):
    bad = tmp_path / "notes.ifc"
    bad.write_text(text)
    with pytest.raises(IfcError) as e:
        load_ifc(bad)
    _assert_one_line(e.value)


def test_ifc_without_building(tmp_path):
    f = ifcopenshell.api.project.create_file(version="IFC4")
    project = ifcopenshell.api.root.create_entity(f, ifc_class="IfcProject", name="Empty")
    ifcopenshell.api.unit.assign_unit(f)
    site = ifcopenshell.api.root.create_entity(f, ifc_class="IfcSite", name="Site")
    ifcopenshell.api.aggregate.assign_object(f, products=[site], relating_object=project)
    path = tmp_path / "empty.ifc"
    f.write(str(path))
    with pytest.raises(IfcError, match="no IfcBuilding") as e:
        load_ifc(path)
    _assert_one_line(e.value)


def test_public_api_is_documented():
    ifc_names = ["BimError", "GeoreferenceError", "IfcError", "IfcModel", "READER_VERSION",
                 "apply_anchor", "footprint_iou", "load_ifc"]
    site_names = ["GisError", "RegisterError", "SiteError", "load", "load_site"]  # bim/site.py
    assert sorted(bim.__all__) == sorted(ifc_names + site_names)
    doc = (Path(__file__).resolve().parents[2] / "docs" / "ifc.md").read_text(encoding="utf-8")
    api_table = doc.split("## API", 1)[1].split("\n## ", 1)[0]
    for name in bim.__all__:
        assert hasattr(bim, name)
    for name in ifc_names:
        assert f"`{name}" in api_table, name  # each IFC reader name has a row in docs/ifc.md
    assert issubclass(IfcError, TwinError)


def test_unwritable_cache_does_not_stop_the_load(shared_ifc, tmp_path):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the cache folder should be")
    m = load_ifc(shared_ifc / "IfcOpenHouse_IFC4.ifc", cache_dir=blocker)
    assert m.community.counts()["doors"] == 1 and not m.from_cache
    assert blocker.read_text().startswith("a file")  # left as it was
