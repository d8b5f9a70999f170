"""The numba fleet simulator against the plain-Python reference and published figures."""

from __future__ import annotations

from dataclasses import asdict

import numba
import numpy as np
import pytest

from sim.elevators import kernel as K
from sim.elevators.errors import ParameterError
from sim.elevators.simulator import FleetParams, simulate_fleet
from tests.elevators import naive


@pytest.mark.parametrize("n,days", [(1, 1), (3, 45), (2, 120)])
def test_kernel_matches_naive_reference(n, days):
    params = FleetParams()
    fleet = simulate_fleet(n, days, seed=11, params=params)
    I, F, fail, p7 = naive.simulate(n, days, 11, asdict(params),
                                    start_weekday=fleet.start.weekday())
    cols = list(K.INT_COLUMNS)
    got_i = np.stack([fleet.telemetry[c].to_numpy().reshape(n, days) for c in cols], axis=-1)
    np.testing.assert_array_equal(got_i, I)
    got_f = np.stack([fleet.telemetry[c].to_numpy().reshape(n, days) for c in K.FLOAT_COLUMNS], axis=-1)
    np.testing.assert_allclose(got_f, F, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(fleet.fail, fail)
    np.testing.assert_allclose(fleet.p7, p7, rtol=1e-10, atol=1e-14)


def test_strong_defects_reference_match():
    # a process where defects are frequent exercises the defect and repair branches
    params = FleetParams(q_door=0.05, q_drive=0.05, h_door=0.3, h_drive=0.3)
    fleet = simulate_fleet(4, 90, seed=3, params=params)
    _, _, fail, p7 = naive.simulate(4, 90, 3, asdict(params), fleet.start.weekday())
    assert fail.sum() > 10
    np.testing.assert_array_equal(fleet.fail, fail)
    np.testing.assert_allclose(fleet.p7, p7, rtol=1e-10, atol=1e-14)


def test_reproducible_and_independent_of_threads():
    a = simulate_fleet(40, 100, seed=5)
    old = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        b = simulate_fleet(40, 100, seed=5)
    finally:
        numba.set_num_threads(old)
    assert a.telemetry.equals(b.telemetry)
    np.testing.assert_array_equal(a.p7, b.p7)
    c = simulate_fleet(40, 100, seed=6)
    assert not a.telemetry.equals(c.telemetry)


def test_failure_rate_matches_field_figure():
    # field figure: about 1-3 failures per elevator-year; door systems cause most of them
    fleet = simulate_fleet(300, 365, seed=2)
    per_year = fleet.fail.sum() / 300
    assert 1.0 <= per_year <= 3.0
    # maintenance every 13-17 days: the counter never exceeds 17 days
    assert fleet.telemetry["days_since_maintenance"].max() <= 17


def test_oracle_is_calibrated_against_outcomes():
    fleet = simulate_fleet(400, 400, seed=8)
    f = fleet.fail.astype(int)
    c = np.concatenate([np.zeros((400, 1), int), np.cumsum(f, axis=1)], axis=1)
    t = np.arange(0, 400 - 7)
    y = (c[:, t + 8] - c[:, t + 1]) > 0
    p = fleet.p7[:, t]
    assert abs(p.mean() - y.mean()) < 0.1 * y.mean()
    # top decile of the true hazard fails far more often than the bottom half
    hi = p >= np.quantile(p, 0.9)
    lo = p <= np.quantile(p, 0.5)
    assert y[hi].mean() > 3 * y[lo].mean()


@pytest.mark.parametrize("kwargs,msg", [
    ({"n": 0, "days": 5, "seed": 1}, "fleet=0"),
    ({"n": 2, "days": 0, "seed": 1}, "days=0"),
    ({"n": 2, "days": 5, "seed": -1}, "seed=-1"),
])
def test_bad_parameters(kwargs, msg):
    with pytest.raises(ParameterError, match=msg):
        simulate_fleet(**kwargs)


def test_bad_process_parameter():
    with pytest.raises(ParameterError, match="p_catch=1.5"):
        simulate_fleet(2, 5, 1, params=FleetParams(p_catch=1.5))


def test_named_elevators():
    fleet = simulate_fleet(2, 3, seed=1, ids=["B1-U1-E1-EC", "B1-U1-E2-EC"])
    assert fleet.telemetry["elevator_id"].unique().tolist() == ["B1-U1-E1-EC", "B1-U1-E2-EC"]
    with pytest.raises(ParameterError, match="unique"):
        simulate_fleet(2, 3, seed=1, ids=["A", "A"])
