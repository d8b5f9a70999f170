"""Risk-model targets on held-out simulated elevators and on an independent generator."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from sklearn.metrics import brier_score_loss, roc_auc_score

from sim.elevators.evaluate import evaluate_fleet, precision_at
from sim.elevators.features import FEATURES
from sim.elevators.model import (RiskModel, default_model, failure_grid, split_by_elevator,
                                 training_rows)
from sim.elevators.risk import Risk, RiskLog, attach_risks, score_day, work_order_requests
from sim.elevators.telemetry import to_grid, validate_failures, validate_telemetry
from tests.elevators.other_generator import generate


@pytest.fixture(scope="module")
def evaluation():
    return evaluate_fleet(300, 600, seed=5)


def test_auc_near_oracle_and_above_baselines(evaluation):
    r = evaluation
    assert r["auc"] >= 0.9 * r["oracle_auc"]
    assert r["auc"] >= r["baseline_auc"] + 0.05
    assert r["baseline_auc"] == max(r["baselines"].values())


def test_calibrated(evaluation):
    r = evaluation
    # a constant forecast at the base rate scores p(1-p); a calibrated model must beat it
    base = r["positive_rate"] * (1 - r["positive_rate"])
    assert r["brier"] < base
    assert abs(r["mean_p_fail_7d"] - r["positive_rate"]) < 0.25 * r["positive_rate"]
    assert r["precision_at_10pct"] > 2 * r["positive_rate"]


def test_precision_at_by_hand():
    y = np.array([1, 0, 0, 1, 0, 0, 0, 0, 0, 0])
    s = np.array([0.9, 0.8, 0.1, 0.2, 0.0, 0, 0, 0, 0, 0])
    assert precision_at(y, s, 0.2) == 0.5
    assert precision_at(y, s, 0.1) == 1.0


def test_split_is_by_elevator():
    mask = split_by_elevator(10, 0.5, seed=1)
    assert mask.sum() == 5
    np.testing.assert_array_equal(mask, split_by_elevator(10, 0.5, seed=1))


def _rows(tel, fails):
    tel, fails = validate_telemetry(tel), validate_failures(fails)
    grid = to_grid(tel)
    return training_rows(grid, failure_grid(grid, fails))


def test_default_model_holds_on_an_independent_generator():
    tel, fails = generate(120, 300, seed=21)
    X, y, _ = _rows(tel, fails)
    assert y.sum() > 30
    p = default_model().predict_proba(X)
    auc = roc_auc_score(y, p)
    baselines = [roc_auc_score(y, X[:, FEATURES.index(k)])
                 for k in ("age_years", "days_since_maintenance")]
    assert auc >= 0.75
    assert auc >= max(baselines) + 0.05


def test_model_trained_on_the_other_generator_holds_out_elevators():
    tel, fails = generate(160, 300, seed=22)
    ids = np.array(sorted(tel["elevator_id"].unique()))
    train = split_by_elevator(len(ids), 0.5, seed=0)
    tr = tel["elevator_id"].isin(ids[train])
    model = RiskModel.fit(validate_telemetry(tel[tr]), validate_failures(fails), seed=1)
    X, y, _ = _rows(tel[~tr], fails)
    p = model.predict_proba(X)
    assert roc_auc_score(y, p) >= 0.8
    assert brier_score_loss(y, p) < y.mean() * (1 - y.mean())


def test_save_load_roundtrip_and_predict(tmp_path):
    tel, fails = generate(40, 120, seed=3)
    tel, fails = validate_telemetry(tel), validate_failures(fails)
    model = RiskModel.fit(tel, fails, seed=0)
    model.save(tmp_path / "m.pkl")
    again = RiskModel.load(tmp_path / "m.pkl")
    as_of = dt.date(2024, 6, 1)
    a, b = model.predict(tel, as_of), again.predict(tel, as_of)
    assert a.equals(b)
    assert len(a) == 40 and a["p_fail_7d"].between(0, 1).all()


def test_work_orders_and_risk_log(tmp_path):
    tel, _ = generate(30, 90, seed=5)
    tel = validate_telemetry(tel)
    day = dt.date(2024, 5, 20)
    risks = score_day(default_model(), tel, day)
    assert len(risks) == 30
    assert [r.p_fail_7d for r in risks] == sorted((r.p_fail_7d for r in risks), reverse=True)
    threshold = float(np.median([r.p_fail_7d for r in risks])) + 1e-9
    orders = work_order_requests(risks, threshold)
    assert len(orders) == sum(r.p_fail_7d >= threshold for r in risks)
    assert all(o["category"] == "电梯" and o["kind"] == "preventive" for o in orders)
    log = RiskLog(tmp_path / "risks.json")
    log.write_day(day, risks)
    log.write_day(day - dt.timedelta(days=1), risks[:3])
    assert log.latest()[0] == day.isoformat()
    assert log.day(day) == risks
    assert len(log.day(day - dt.timedelta(days=1))) == 3


def test_attach_risks_to_the_twin():
    from shapely.geometry import box

    from twin.model import Community, Device, Elevator

    c = Community(name="t")
    c.elevators.append(Elevator("LIFT-A", "A", "B1", [], box(0, 0, 2, 2)))
    c.devices.append(Device("EL-DEV-1", "elevator", "lift 1", None, None, None))
    risks = [Risk("LIFT-A", "2025-01-02", 0.4, "wear and usage"),
             Risk("EL-DEV-1", "2025-01-02", 0.1, "fault codes above the elevator's baseline"),
             Risk("UNKNOWN", "2025-01-02", 0.9, "wear and usage")]
    assert attach_risks(c, risks) == 2
    assert c.elevators[0].attributes["risk"]["p_fail_7d"] == 0.4
    assert c.devices[0].attributes["risk"]["date"] == "2025-01-02"
