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


# -- --block by the names people use (twin.naming) -------------------------------------------
def _result(*extra: str) -> dict:
    r = run_cli("evacuate", "--site", str(TINY), "--time-of-day", "02:00", "--seed", "11", *extra)
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    res.pop("wall_time_s")
    return res


def _tiny_named() -> dict:
    r = run_cli("load", str(TINY), "--json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


@pytest.fixture(scope="module")
def unblocked():
    return _result()


def test_block_exit_by_name_equals_block_by_id(unblocked):
    named = _tiny_named()
    (lobby,) = [e for e in named["exits"] if e["name"] == "1单元 1F 门厅 出口"]
    by_name = _result("--block", "1号楼 1单元 1F 门厅 出口")
    assert by_name == _result("--block", lobby["id"])
    assert by_name["exits"][lobby["id"]]["count"] == 0 < unblocked["exits"][lobby["id"]]["count"]
    assert by_name["evacuated"] == unblocked["evacuated"]
    assert by_name["agents"] != unblocked["agents"]   # the lobby's people walked to the stair exit


def test_block_stair_by_name_equals_block_by_ids(unblocked):
    named = _tiny_named()
    flights = [s["id"] for s in named["stairs"] if s["staircase"] == "1单元 A梯"]
    assert len(flights) == 2
    ids = [a for f in flights for a in ("--block", f)]
    by_name = _result("--block", "1单元 A梯")
    assert by_name == _result(*ids)
    # the only staircase is closed: everybody above the ground floor stays
    assert by_name["not_evacuated"] > 0 == unblocked["not_evacuated"]
    assert by_name["completed"] is False and unblocked["completed"] is True
    assert all(c["count"] == 0 for s, c in by_name["stairs"].items() if s in flights)


@pytest.mark.parametrize(("name", "message"), [
    ("2单元 A梯", "error: no stair, exit or door named '2单元 A梯'; closest: '1单元 A梯'"),
    ("", "error: no stair, exit or door named ''"),
])
def test_block_unknown_name_is_one_line_exit_2(name, message):
    r = run_cli("evacuate", "--site", str(TINY), "--block", name, "--no-run")
    assert r.returncode == 2 and r.stdout == ""
    lines = [x for x in r.stderr.splitlines() if x.startswith("error:")]
    assert len(lines) == 1 and lines[0].startswith(message)


LAKESIDE = TINY.parent / "lakeside"


def test_lakeside_block_stair_by_name_changes_the_tower_time_exactly_as_by_ids(tmp_path):
    """On a site with several towers a staircase name needs its building (or ``--building``);
    then blocking it gives the result of blocking its flight ids, seed for seed, and 5号楼
    (one unit, two staircases) takes longer with one of them closed."""
    r = run_cli("load", str(LAKESIDE), "--json")
    flights = [s["id"] for s in json.loads(r.stdout)["stairs"] if s["full_name"].startswith("5号楼 1单元 A梯 ")]
    assert len(flights) == 17   # 18 storeys of 5号楼
    out = {}
    for key, args in {"name": ["--block", "5号楼 1单元 A梯"],
                      "scoped": ["--block", "1单元 a梯"],
                      "ids": [a for f in flights for a in ("--block", f)],
                      "none": []}.items():
        path = tmp_path / f"{key}.json"
        r = run_cli("evacuate", "--site", str(LAKESIDE), "--building", "B5", "--seed", "3", *args,
                    "--out", str(path))
        assert r.returncode == 0, r.stderr
        out[key] = json.loads(path.read_text())
        out[key].pop("wall_time_s")
    assert out["name"] == out["scoped"] == out["ids"]
    assert out["name"]["evacuated"] == out["none"]["evacuated"] > 0
    assert out["name"]["evacuation_time_s"] > out["none"]["evacuation_time_s"]
    assert all(out["name"]["stairs"][f]["count"] == 0 < out["none"]["stairs"][f]["count"] for f in flights[-3:])
    r = run_cli("evacuate", "--site", str(LAKESIDE), "--block", "1单元 A梯", "--no-run")
    assert r.returncode == 2 and "ambiguous" in r.stderr and "'5号楼 1单元 A梯'" in r.stderr


def test_readme_evacuate_example_runs():
    """The README's ``twin evacuate ... --block "<name>"`` line is a command that works."""
    import shlex

    readme = (TINY.parents[1] / "README.md").read_text(encoding="utf-8")
    (line,) = [x for x in readme.splitlines() if x.startswith("twin evacuate --site")]
    args = shlex.split(line.split("#")[0])[1:]
    assert "--block" in args and "<" not in line
    r = run_cli(*args, "--no-run", cwd=TINY.parents[1])
    assert r.returncode == 0, r.stderr
