"""End to end: ``twin evacuate --site`` on the ``tiny`` sample site."""

from __future__ import annotations

import json

import pytest

from tests.conftest import SAMPLE_SITES, run_cli

TINY = SAMPLE_SITES / "tiny"
pytestmark = pytest.mark.skipif(not (TINY / "site.json").exists(), reason="sample_sites/tiny is absent")


def test_tiny_at_night_builds_exports_and_evacuates_everyone(tmp_path):
    exp, out = tmp_path / "scenario.json", tmp_path / "result.json"
    r = run_cli("evacuate", "--site", str(TINY), "--time-of-day", "02:00", "--export-scenario", str(exp),
                "--out", str(out))
    assert r.returncode == 0, r.stderr
    sc = json.loads(exp.read_text())
    res = json.loads(out.read_text())
    assert sc["floors"] and all("/" in f["id"] for f in sc["floors"])
    assert len({f["id"].split("/")[0] for f in sc["floors"]}) == 1  # one building
    assert sc["exits"] and sc["stairs"]
    people = sum(g["count"] for g in sc["groups"])
    assert people > 0
    assert res["evacuated"] == people and res["not_evacuated"] == 0
    # upper-storey residents came down the stairs
    upper = sum(g["count"] for g in sc["groups"] if g["floor"] != sc["exits"][0]["floor"])
    lowest = min(sc["floors"], key=lambda f: f["elevation_m"])["id"]
    into_lowest = sum(res["stairs"][s["id"]]["count"] for s in sc["stairs"] if s["to_floor"] == lowest)
    assert into_lowest == upper
    # the exported scenario runs on its own with the same result
    r2 = run_cli("evacuate", str(exp))
    assert r2.returncode == 0, r2.stderr
    res2 = json.loads(r2.stdout)
    assert res2["agents"] == res["agents"]


def test_tiny_blocked_stairs_trap_upper_floors(tmp_path):
    exp = tmp_path / "s.json"
    r = run_cli("evacuate", "--site", str(TINY), "--export-scenario", str(exp), "--no-run")
    assert r.returncode == 0 and r.stdout.strip() == ""
    sc = json.loads(exp.read_text())
    lowest = min(sc["floors"], key=lambda f: f["elevation_m"])["id"]
    into_lowest = [s["id"] for s in sc["stairs"] if s["to_floor"] == lowest]
    args = ["evacuate", "--site", str(TINY)]
    for s in into_lowest:
        args += ["--block", s]
    res = json.loads(run_cli(*args).stdout)
    upper = sum(g["count"] for g in sc["groups"] if g["floor"] != lowest)
    assert res["not_evacuated"] == upper
    r = run_cli("evacuate", "--site", str(TINY), "--building", "NOPE")
    assert r.returncode == 2 and "unknown building 'NOPE'" in r.stderr
