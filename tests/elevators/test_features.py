"""Rolling features and labels against direct loops (tests/elevators/naive.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sim.elevators.errors import TelemetryError
from sim.elevators.features import FEATURES, compute_features, labels_7d
from sim.elevators.simulator import simulate_fleet
from sim.elevators.telemetry import to_grid, validate_telemetry
from tests.elevators import naive


def _grid_with_gaps():
    tel = simulate_fleet(3, 80, seed=4).telemetry
    rng = np.random.default_rng(0)
    keep = rng.random(len(tel)) > 0.15  # drop ~15% of the days
    keep[tel.index[tel["elevator_id"] == "EL00002"][:50]] = False  # a late starter
    return to_grid(validate_telemetry(tel[keep].reset_index(drop=True)))


def test_features_match_direct_loops():
    grid = _grid_with_gaps()
    feats = compute_features(grid)
    n, days = grid.shape
    checked = 0
    for e in range(n):
        for t in range(0, days, 3):
            ref = naive.features_row(grid.values, e, t)
            for name, value in ref.items():
                got = feats[e, t, FEATURES.index(name)]
                if np.isnan(value):
                    assert np.isnan(got), (name, e, t)
                else:
                    assert got == pytest.approx(value, rel=1e-9, abs=1e-9), (name, e, t)
                    checked += 1
    assert checked > 500


def test_features_never_look_ahead():
    grid = _grid_with_gaps()
    full = compute_features(grid)
    for key in grid.values:
        grid.values[key][:, 41:] = grid.values[key][:, 41:] * 7 + 3  # change the future
    cut = compute_features(grid)
    np.testing.assert_array_equal(np.isnan(full[:, :41]), np.isnan(cut[:, :41]))
    np.testing.assert_allclose(full[:, :41][~np.isnan(full[:, :41])], cut[:, :41][~np.isnan(cut[:, :41])])


def test_labels_by_hand():
    fail = np.zeros((1, 12), dtype=np.int8)
    fail[0, 9] = 1
    y = labels_7d(fail)[0]
    # day t is positive when the failure (day 9) is within t+1..t+7: t = 2..8
    assert y.tolist() == [0, 0, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0]
    assert labels_7d(np.zeros((0, 5))).shape == (0, 5)


def test_single_day_single_elevator():
    tel = simulate_fleet(1, 1, seed=1).telemetry
    feats = compute_features(to_grid(validate_telemetry(tel)))
    assert feats.shape == (1, 1, len(FEATURES))
    assert np.isnan(feats[0, 0, FEATURES.index("reopen_z_1")])  # no baseline yet


@pytest.mark.parametrize("mutate,msg", [
    (lambda d: d.drop(columns=["door_reopens"]), "lacks column"),
    (lambda d: d.assign(date=["2024-13-40"] + list(d["date"][1:])), "date='2024-13-40'"),
    (lambda d: d.assign(trips=[-5] + list(d["trips"][1:])), "trips=-5"),
    (lambda d: d.assign(vibration_rms=["abc"] + list(d["vibration_rms"][1:])), "vibration_rms='abc'"),
    (lambda d: d.assign(door_reopens=[10_000] + list(d["door_reopens"][1:])), "exceeds"),
    (lambda d: pd.concat([d, d.iloc[:1]]), "duplicate day"),
    (lambda d: d.iloc[:0], "no rows"),
])
def test_validation_names_bad_value(mutate, msg):
    tel = simulate_fleet(2, 5, seed=1).telemetry
    tel["date"] = tel["date"].dt.strftime("%Y-%m-%d")
    with pytest.raises(TelemetryError, match=msg):
        validate_telemetry(mutate(tel.copy()))


def test_public_api():
    import sim.elevators as pkg

    for name in pkg.__all__:
        assert hasattr(pkg, name), name
    assert {"simulate_fleet", "RiskModel", "evaluate_fleet", "work_order_requests"} <= set(pkg.__all__)
