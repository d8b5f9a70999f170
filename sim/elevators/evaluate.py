"""Evaluation on held-out simulated elevators against baselines and the oracle.

The fleet is split **by elevator** (half train, half test). On the test elevators every
usable day is a row; the model, the baselines (age only; days since maintenance) and the
oracle (the simulator's true 7-day failure probability) are scored on the same rows.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import brier_score_loss, roc_auc_score

from sim.elevators.errors import ParameterError
from sim.elevators.features import FEATURES
from sim.elevators.model import MIN_HISTORY_D, RiskModel, failure_grid, split_by_elevator, training_rows
from sim.elevators.simulator import FleetParams, simulate_fleet
from sim.elevators.telemetry import to_grid

__all__ = ["evaluate_fleet", "precision_at", "score_rows"]


def precision_at(y: np.ndarray, score: np.ndarray, frac: float = 0.1) -> float:
    """Share of failures among the ``frac`` highest-scored rows (ties broken by order)."""
    k = max(1, int(round(frac * len(y))))
    top = np.argsort(-score, kind="stable")[:k]
    return float(np.mean(y[top]))


def score_rows(y: np.ndarray, p: np.ndarray, X: np.ndarray, oracle: np.ndarray) -> dict:
    """Metrics of one set of rows: model, oracle and baselines."""
    age = X[:, FEATURES.index("age_years")]
    dsm = X[:, FEATURES.index("days_since_maintenance")]
    base = {"age": float(roc_auc_score(y, np.nan_to_num(age))),
            "days_since_maintenance": float(roc_auc_score(y, np.nan_to_num(dsm)))}
    return {
        "auc": float(roc_auc_score(y, p)),
        "oracle_auc": float(roc_auc_score(y, oracle)),
        "brier": float(brier_score_loss(y, p)),
        "baseline_auc": max(base.values()),
        "precision_at_10pct": precision_at(y, p, 0.1),
        "oracle_brier": float(brier_score_loss(y, oracle)),
        "baselines": base,
        "rows": int(len(y)),
        "positive_rate": float(np.mean(y)),
        "mean_p_fail_7d": float(np.mean(p)),
    }


def evaluate_fleet(fleet: int, days: int, seed: int, *,
                   params: FleetParams | None = None) -> dict:
    """Simulate a fleet, train on half of its elevators, score the other half.

    Returns the ``twin elevators evaluate --json`` object: ``auc``, ``oracle_auc``,
    ``brier``, ``baseline_auc`` (best of the baselines), ``precision_at_10pct``, plus
    details (``baselines``, ``oracle_brier``, ``rows``, ``positive_rate``, ...).

    Raises
    ------
    ParameterError
        Fleet smaller than 8 or fewer than 60 days.
    """
    if fleet < 8:
        raise ParameterError(f"fleet={fleet} must be >= 8 (half trains, half tests)")
    if days < 60:
        raise ParameterError(f"days={days} must be >= 60 (baselines need history)")
    sim = simulate_fleet(fleet, days, seed, params=params)
    train = split_by_elevator(fleet, 0.5, seed)
    ids = np.array(sim.elevator_ids)
    tel, fails = sim.telemetry, sim.failures
    model = RiskModel.fit(tel[tel["elevator_id"].isin(ids[train])],
                          fails[fails["elevator_id"].isin(ids[train])], seed=seed)
    test_tel = tel[tel["elevator_id"].isin(ids[~train])]
    grid = to_grid(test_tel)
    X, y, rows = training_rows(grid, failure_grid(grid, fails))
    sim_row = np.searchsorted(ids, np.array(grid.ids))
    t = np.arange(grid.shape[1])[None, :]
    ok = np.isfinite(grid.values["trips"]) & (t >= MIN_HISTORY_D) & (t < grid.shape[1] - 7)
    e_idx, d_idx = np.nonzero(ok)  # the rows of training_rows, in the same order
    oracle = sim.p7[sim_row[e_idx], d_idx]
    if y.sum() == 0 or y.sum() == len(y):
        raise ParameterError(f"fleet={fleet} days={days} gives no failures to evaluate on")
    out = score_rows(y, model.predict_proba(X), X, oracle)
    out.update({"fleet": fleet, "days": days, "seed": seed,
                "train_elevators": int(train.sum()), "test_elevators": int((~train).sum())})
    return out
