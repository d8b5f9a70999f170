"""`twin cleaning` command contracts."""

from __future__ import annotations

import json

import pytest

from tests.cleaning.community import make_community
from tests.conftest import SAMPLE_SITES, run_cli
from twin.io import community_to_dict


@pytest.fixture(scope="module")
def site_json(tmp_path_factory):
    path = tmp_path_factory.mktemp("site") / "community.json"
    path.write_text(json.dumps(community_to_dict(make_community(2, 8, 4, cleaners=2))))
    return path


def test_compare_json_contract(site_json, tmp_path):
    r = run_cli("cleaning", "compare", "--site", str(site_json), "--days", "3", "--json")
    assert r.returncode == 0, r.stderr
    body = json.loads(r.stdout)
    for policy in ("fixed", "demand", "fixed_today"):
        assert {"rounds", "labor_hours", "minutes_over_threshold"} <= set(body[policy])
    assert {"backlog_rounds", "rounds_planned", "timetable"} <= set(body["fixed"])
    assert set(body["labor_hours"]) == {"fixed", "demand", "fixed_today"}
    assert {"rounds_pct", "labor_hours_pct", "minutes_over_threshold_pct"} <= set(body["savings"])
    assert body["demand"]["rounds"] < body["fixed_today"]["rounds"]
    csv = tmp_path / "counts.csv"
    csv.write_text("area_id,timestamp,count\nB1-F01-CORR,2025-06-02 08:15,40\n")
    r = run_cli("cleaning", "compare", "--site", str(site_json), "--days", "2",
                "--traffic", str(csv), "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["traffic"]["counted_areas"] == 1


def test_plan_work_orders(site_json):
    r = run_cli("cleaning", "plan", "--site", str(site_json), "--date", "2025-07-01", "--json")
    assert r.returncode == 0, r.stderr
    orders = json.loads(r.stdout)
    assert orders and all(o["title"].startswith("保洁巡检") for o in orders)
    assert all(o["scheduled_at"].startswith("2025-07-01T") for o in orders)
    assert {o["assignee"] for o in orders} <= {"S1", "S2"}


@pytest.mark.parametrize("args,msg", [
    (["--days", "0"], "days=0"),
    (["--traffic", "missing.csv"], "does not exist"),
])
def test_errors_are_one_line(site_json, args, msg):
    r = run_cli("cleaning", "compare", "--site", str(site_json), *args, "--json")
    assert r.returncode == 2
    errors = [line for line in r.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and msg in errors[0], r.stderr


def test_missing_site():
    r = run_cli("cleaning", "compare", "--site", "no/such/site", "--json")
    assert r.returncode == 2 and "Traceback" not in r.stderr


@pytest.mark.skipif(not (SAMPLE_SITES / "lakeside").is_dir(), reason="sample site lakeside absent")
def test_lakeside_target():
    r = run_cli("cleaning", "compare", "--site", str(SAMPLE_SITES / "lakeside"), "--days", "7",
                "--json", timeout=600)
    assert r.returncode == 0, r.stderr
    body = json.loads(r.stdout)
    today, fixed, demand = body["fixed_today"], body["fixed"], body["demand"]
    fewer = (demand["rounds"] <= 0.75 * today["rounds"]
             or demand["labor_hours"] <= 0.75 * today["labor_hours"])
    assert fewer and demand["minutes_over_threshold"] <= today["minutes_over_threshold"]
    # against the fixed timetable the crew can complete, at equal labour hours (±5 %)
    assert body["labor_hours"] == {"fixed": fixed["labor_hours"], "demand": demand["labor_hours"],
                                   "fixed_today": today["labor_hours"]}
    assert abs(fixed["labor_hours"] / demand["labor_hours"] - 1) <= 0.05
    assert fixed["backlog_rounds"] == 0 and today["backlog_rounds"] > 0
    assert demand["minutes_over_threshold"] <= 0.75 * fixed["minutes_over_threshold"]
    saved = body["savings"]["minutes_over_threshold_pct"]
    assert saved == round(100 * (1 - demand["minutes_over_threshold"] / fixed["minutes_over_threshold"]), 1)
