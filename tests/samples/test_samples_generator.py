"""The generator: byte-identical output, its command line, its errors, its id scheme."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import uuid
from pathlib import Path

import ifcopenshell
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


def _versions() -> dict[str, str]:
    import shapely

    return {"ifcopenshell": ifcopenshell.version, "shapely": shapely.__version__,
            "geos": shapely.geos_version_string}


def _ifc_content(path: Path) -> list:
    """Every entity of an IFC file in id order: class and attributes, floats to 1e-6 m."""

    def norm(v):
        if isinstance(v, ifcopenshell.entity_instance):
            return ("#", v.id()) if v.id() else (v.is_a(), norm(v.wrappedValue))
        if isinstance(v, float):
            return round(v, 6) + 0.0
        if isinstance(v, (list, tuple)):
            return tuple(norm(x) for x in v)
        return v

    f = ifcopenshell.open(str(path))
    return [(e.id(), e.is_a(), tuple(norm(v) for v in e)) for e in sorted(f, key=lambda e: e.id())]


def _same_content(new: Path, old: Path) -> None:
    """Compare two site folders file by file, tolerating only number formatting (IFC) and
    the recorded library versions (site.json)."""
    assert sorted(_hashes(new)) == sorted(_hashes(old))
    for rel in _hashes(new):
        a, b = new / rel, old / rel
        if rel.endswith(".ifc"):
            assert _ifc_content(a) == _ifc_content(b), rel
        elif rel == "site.json":
            ja, jb = (json.loads(p.read_text(encoding="utf-8")) for p in (a, b))
            ja["generator"].pop("versions")
            jb["generator"].pop("versions")
            assert ja == jb
        else:
            assert a.read_bytes() == b.read_bytes(), rel


def test_regenerating_gives_the_committed_files(tmp_path):
    """Byte for byte with the library versions the committed files record; with other
    versions, the same content (IFC number formatting may differ)."""
    res = _gen("--out", str(tmp_path), "--site", "all", "--json")
    assert res.returncode == 0, res.stderr
    report = json.loads(res.stdout)
    assert {r["site"] for r in report} == {"lakeside", "tiny"}
    assert "writing IFC" in res.stderr                  # progress goes to stderr
    for site in ("tiny", "lakeside"):
        recorded = json.loads((SAMPLE_SITES / site / "site.json").read_text(encoding="utf-8"))
        if recorded["generator"]["versions"] == _versions():
            assert _hashes(tmp_path / site) == _hashes(SAMPLE_SITES / site), site
        else:
            _same_content(tmp_path / site, SAMPLE_SITES / site)
    _same_content(tmp_path / "tiny", SAMPLE_SITES / "tiny")   # the fallback itself works


def test_two_runs_are_byte_identical(tmp_path):
    for run in ("a", "b"):
        assert _gen("--out", str(tmp_path / run), "--site", "all").returncode == 0
    for site in ("tiny", "lakeside"):
        assert _hashes(tmp_path / "a" / site) == _hashes(tmp_path / "b" / site)


def test_docstring_examples():
    import doctest

    import bim.samplegen.ids
    import bim.samplegen.names
    import bim.samplegen.plans

    for mod in (bim.samplegen.ids, bim.samplegen.names, bim.samplegen.plans):
        result = doctest.testmod(mod)
        assert result.attempted > 0 and result.failed == 0, mod.__name__


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


def test_openings_option_cuts_every_door_into_its_wall(tmp_path):
    import ifcopenshell
    import ifcopenshell.geom
    import ifcopenshell.util.element as ue
    import ifcopenshell.validate

    res = _gen("--out", str(tmp_path), "--site", "tiny", "--openings")
    assert res.returncode == 0, res.stderr
    f = ifcopenshell.open(str(tmp_path / "tiny" / "ifc" / "T1.ifc"))
    doors = f.by_type("IfcDoor")
    assert len(f.by_type("IfcOpeningElement")) == len(doors) == 11
    for d in doors:
        (fill,) = d.FillsVoids
        wall = fill.RelatingOpeningElement.VoidsElements[0].RelatingBuildingElement
        assert wall.is_a("IfcWall") and ue.get_container(wall) == ue.get_container(d)
        exit_ = {r.InternalOrExternalBoundary for r in d.ProvidesBoundaries} == {"EXTERNAL"}
        assert ("exterior" in wall.Name) == exit_
    logger = ifcopenshell.validate.json_logger()
    ifcopenshell.validate.validate(f, logger)
    assert logger.statements == []
    it = ifcopenshell.geom.iterator(ifcopenshell.geom.settings(), f)
    assert it.initialize()
    built = 1
    while it.next():
        built += 1
    walls_etc = [e for e in f.by_type("IfcProduct") if e.Representation is not None]
    assert built >= len(walls_etc) - len(f.by_type("IfcOpeningElement"))
