"""The generator: byte-identical output, its command line, its errors, its id scheme."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import uuid
from pathlib import Path

import ifcopenshell.guid
import pytest

from samples_ifcread import SAMPLE_SITES, building_ifcs

REPO = Path(__file__).resolve().parents[2]


def _hashes(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _gen(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bim.samplegen", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=300)


def test_regenerating_gives_the_committed_files_byte_for_byte(tmp_path):
    res = _gen("--out", str(tmp_path), "--site", "all", "--json")
    assert res.returncode == 0, res.stderr
    report = json.loads(res.stdout)
    assert {r["site"] for r in report} == {"lakeside", "tiny"}
    assert "writing IFC" in res.stderr                  # progress goes to stderr
    for site in ("tiny", "lakeside"):
        assert _hashes(tmp_path / site) == _hashes(SAMPLE_SITES / site), site


def test_a_second_run_replaces_the_folder_and_keeps_it_identical(tmp_path):
    assert _gen("--out", str(tmp_path), "--site", "tiny").returncode == 0
    (tmp_path / "tiny" / "stale.txt").write_text("x")
    first = _hashes(tmp_path / "tiny")
    assert _gen("--out", str(tmp_path), "--site", "tiny").returncode == 0
    second = _hashes(tmp_path / "tiny")
    first.pop("stale.txt")
    assert first == second


def test_bad_arguments_give_one_line_and_exit_2(tmp_path):
    res = _gen("--site", "nowhere", "--out", str(tmp_path))
    assert res.returncode == 2 and "nowhere" in res.stderr
    blocker = tmp_path / "file.txt"
    blocker.write_text("keep me")
    res = _gen("--site", "tiny", "--out", str(blocker))
    assert res.returncode == 2
    assert res.stderr.strip().count("\n") == 0 and "file.txt" in res.stderr
    assert blocker.read_text() == "keep me"


def test_unknown_site_from_python_raises_the_twin_error(tmp_path):
    from bim.samplegen import SampleGenError, generate_site
    from twin.errors import TwinError

    with pytest.raises(SampleGenError, match="site='atlantis'"):
        generate_site("atlantis", tmp_path, log=lambda m: None)
    assert issubclass(SampleGenError, TwinError)
    assert not any(tmp_path.iterdir())


def test_globalids_are_uuid5_of_documented_names():
    # docs/sample-sites.md: GlobalId = compress(uuid5(NAMESPACE, "site/building/kind/key"))
    ns = uuid.UUID("6f1d2c3a-9b7e-5c4d-8e2f-1a0b3c4d5e6f")
    f = building_ifcs("tiny")["T1"]
    expect = {
        ("IfcBuilding", "T1"): "tiny/T1/building/T1",
        ("IfcBuildingStorey", "F02"): "tiny/T1/storey/F02",
    }
    for (cls, name), stable in expect.items():
        el = next(e for e in f.by_type(cls) if e.Name == name)
        assert el.GlobalId == ifcopenshell.guid.compress(uuid.uuid5(ns, stable).hex)
    space = next(e for e in f.by_type("IfcSpace") if e.Name == "T1-U1-0201")
    assert space.GlobalId == ifcopenshell.guid.compress(
        uuid.uuid5(ns, "tiny/T1/space/F02/U1-A01").hex)


def test_public_api_matches_the_documentation():
    import bim.samplegen as sg

    doc = (REPO / "docs" / "sample-sites.md").read_text(encoding="utf-8")
    for name in sg.__all__:
        assert f"`{name}`" in doc, name
        assert hasattr(sg, name)
