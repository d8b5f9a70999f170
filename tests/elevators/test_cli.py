"""`twin elevators` command contracts (run in a fresh interpreter)."""

from __future__ import annotations

import json

import pandas as pd

from tests.conftest import run_cli


def test_simulate_train_predict(tmp_path):
    r = run_cli("elevators", "simulate", "--fleet", "30", "--days", "150", "--seed", "2",
                "--out", str(tmp_path), "--json")
    assert r.returncode == 0, r.stderr
    tel = pd.read_csv(tmp_path / "telemetry.csv")
    assert list(tel.columns) == ["elevator_id", "date", "trips", "door_cycles", "door_reopens",
                                 "fault_count", "vibration_rms", "leveling_error_mm",
                                 "motor_temp_c", "age_years", "days_since_maintenance"]
    assert len(tel) == 30 * 150
    assert list(pd.read_csv(tmp_path / "failures.csv").columns) == ["elevator_id", "date"]
    r = run_cli("elevators", "train", "--telemetry", str(tmp_path / "telemetry.csv"),
                "--failures", str(tmp_path / "failures.csv"), "--model", str(tmp_path / "m.pkl"))
    assert r.returncode == 0, r.stderr
    for extra in (["--model", str(tmp_path / "m.pkl")], []):
        r = run_cli("elevators", "predict", "--telemetry", str(tmp_path / "telemetry.csv"),
                    "--as-of", "2023-05-01", "--json", *extra)
        assert r.returncode == 0, r.stderr
        rows = json.loads(r.stdout)
        assert len(rows) == 30
        assert all(set(x) == {"elevator_id", "p_fail_7d"} and 0 <= x["p_fail_7d"] <= 1 for x in rows)
    r = run_cli("elevators", "score", "--telemetry", str(tmp_path / "telemetry.csv"),
                "--as-of", "2023-05-01", "--threshold", "0.05", "--log", str(tmp_path / "log.json"),
                "--json")
    assert r.returncode == 0, r.stderr
    body = json.loads(r.stdout)
    assert len(body["work_orders"]) == sum(x["p_fail_7d"] >= 0.05 for x in body["risks"])
    assert (tmp_path / "log.json").exists()


def test_evaluate_json_keys():
    r = run_cli("elevators", "evaluate", "--fleet", "60", "--days", "200", "--seed", "1", "--json")
    assert r.returncode == 0, r.stderr
    body = json.loads(r.stdout)
    for key in ("auc", "oracle_auc", "brier", "baseline_auc", "precision_at_10pct"):
        assert 0 <= body[key] <= 1


def test_errors_are_one_line(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("elevator_id,date,trips\nA,2024-01-01,3\n")
    cases = [
        (["elevators", "predict", "--telemetry", str(bad), "--as-of", "2024-01-01", "--json"],
         "lacks column"),
        (["elevators", "predict", "--telemetry", str(tmp_path / "none.csv"), "--as-of",
          "2024-01-01"], "does not exist"),
        (["elevators", "evaluate", "--fleet", "0", "--days", "100", "--json"], "fleet=0"),
        (["elevators", "predict", "--telemetry", str(bad), "--as-of", "yesterday"], "as_of='yesterday'"),
    ]
    for args, msg in cases:
        r = run_cli(*args)
        assert r.returncode == 2, (args, r.stderr)
        errors = [line for line in r.stderr.splitlines() if line.startswith("error:")]
        assert len(errors) == 1 and msg in errors[0], r.stderr
        assert "Traceback" not in r.stderr
