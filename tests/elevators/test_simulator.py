"""The numba fleet simulator against closed forms, statistical tests and published figures."""

from __future__ import annotations

import math
from dataclasses import asdict

import numba
import numpy as np
import pytest
from scipy import stats

from sim.elevators import kernel as K
from sim.elevators.errors import ParameterError
from sim.elevators.simulator import FleetParams, simulate_fleet
from tests.elevators import naive


#: Statistical tests below use fixed seeds and reject at p < ALPHA: with a correct kernel a
#: given check fails for one seed in 10,000; a wrong formula moves the statistic by many
#: standard errors (the tests were checked to fail with a changed constant).
ALPHA = 1e-4

#: A process without wear, shocks or defects: telemetry shows the per-elevator draws plainly.
QUIET = dict(kd=0.0, km=0.0, p_shock=0.0, q_door=0.0, q_drive=0.0, h_base=0.0,
             m_door=0.0, m_drive=0.0, p_catch=0.0)


def _grid(fleet, column):
    return fleet.telemetry[column].to_numpy().reshape(len(fleet.elevator_ids), fleet.days)


def _z(observed, expected, se):
    return abs(observed - expected) / se


@pytest.mark.parametrize("params", [
    FleetParams(),
    FleetParams(q_door=0.05, q_drive=0.05, h_door=0.3, h_drive=0.3, p_catch=0.4, g_develop=0.6),
    FleetParams(h_base=0.5, h_door=0.9, h_drive=0.8, h_incipient=0.6),  # hazards clipped at 1
])
def test_oracle_equals_matrix_product(params):
    P, p = params.to_array(), asdict(params)
    for defect, developed in ((0, False), (1, False), (2, False), (1, True), (2, True)):
        for next_maint in range(0, 10):
            for wd, wm, age in ((0.0, 0.0, 0.5), (0.4, 0.1, 7.0), (3.0, 2.5, 30.0)):
                got = K.oracle_p7(P, wd, wm, age, defect, developed, next_maint)
                want = naive.p7_matrix(p, wd, wm, age, defect, developed, next_maint)
                assert got == pytest.approx(want, rel=1e-12, abs=1e-15), (defect, developed, next_maint, wd, wm)


@pytest.mark.parametrize("defect,developed", [(0, False), (1, False), (2, False), (1, True), (2, True)])
def test_oracle_closed_form_without_maintenance(defect, developed):
    params = FleetParams(q_door=0.02, q_drive=0.01)
    P, p = params.to_array(), asdict(params)
    for wd, wm, age in ((0.0, 0.0, 1.0), (0.5, 0.2, 12.0), (2.0, 4.0, 25.0)):
        want = naive.p7_closed_form(p, wd, wm, age, defect, developed)
        assert K.oracle_p7(P, wd, wm, age, defect, developed, 99) == pytest.approx(want, rel=1e-12)


def test_oracle_hand_values():
    """Hand values with no wear: a developed door defect fails within 7 days with
    1 - (1 - 2e-4 - 0.25)^7; an incipient one with 1 - [c^7 + g b (b^7 - c^7) / (b - c)]
    (c = 0.7 × (1 - 0.0052), b = 1 - 0.2502: develop on day k, then survive as developed)."""
    P = FleetParams().to_array()
    b, c, g = 1 - 2e-4 - 0.25, 0.7 * (1 - 2e-4 - 0.005), 0.3
    assert K.oracle_p7(P, 0.0, 0.0, 0.0, 1, True, 99) == pytest.approx(1 - b ** 7, rel=1e-12)
    want = 1 - (c ** 7 + g * b * sum(c ** (k - 1) * b ** (7 - k) for k in range(1, 8)))
    assert K.oracle_p7(P, 0.0, 0.0, 0.0, 1, False, 99) == pytest.approx(want, rel=1e-12)


def test_trips_are_poisson_with_the_weekend_factor():
    # sigma 0: trips ~ Poisson(220) on weekdays, Poisson(0.85 x 220 = 187) on weekends
    fleet = simulate_fleet(200, 140, seed=21, params=FleetParams(trips_sigma=0.0, **QUIET))
    trips = _grid(fleet, "trips").astype(float)
    weekend = np.array([(fleet.start.weekday() + d) % 7 >= 5 for d in range(fleet.days)])
    for sel, lam in ((~weekend, 220.0), (weekend, 187.0)):
        x = trips[:, sel].ravel()
        assert _z(x.mean(), lam, math.sqrt(lam / x.size)) < 4.0, (lam, x.mean())
        # variance of a Poisson count: lam (rounded-normal draw: lam + 1/12); SE of a sample
        # variance of a near-normal variable is lam * sqrt(2 / n)
        assert _z(x.var(), lam, lam * math.sqrt(2 / x.size)) < 4.0, (lam, x.var())


def test_per_elevator_draws_follow_their_documented_laws():
    fleet = simulate_fleet(400, 364, seed=22, params=FleetParams(**QUIET))
    trips = _grid(fleet, "trips").astype(float)
    cycles = _grid(fleet, "door_cycles").astype(float)
    reopens = _grid(fleet, "door_reopens").astype(float)
    age = _grid(fleet, "age_years")
    checks = {
        # age at day 0 ~ U(0.5, 20) years
        "age": stats.kstest(age[:, 0], stats.uniform(0.5, 19.5).cdf),
        # door cycles ~ Poisson(trips x stops), stops per trip ~ U(1.6, 2.6) per elevator
        "stops": stats.kstest(cycles.sum(1) / trips.sum(1), stats.uniform(1.6, 1.0).cdf),
        # mean trips per day over whole weeks: 220 x lognormal(0.5) x (5 + 2 x 0.85) / 7
        "trips": stats.kstest(np.log(trips.mean(1) / (220.0 * 6.7 / 7)), stats.norm(0, 0.5).cdf),
        # without wear, reopens ~ Poisson(cycles x r0), r0 ~ U(0.004, 0.03) per elevator
        "reopen": stats.kstest(reopens[:, 7:].sum(1) / cycles[:, 7:].sum(1),
                               stats.uniform(0.004, 0.026).cdf),
    }
    for name, res in checks.items():
        assert res.pvalue > ALPHA, (name, res)
    # the lognormal spread: sd of log(mean trips) = 0.5 (SE 0.5 / sqrt(2n))
    log_means = np.log(trips.mean(1))
    assert _z(log_means.std(ddof=1), 0.5, 0.5 / math.sqrt(2 * log_means.size)) < 4.5
    # the ends of the uniform laws, sharper than KS: the smallest and largest of 400 draws
    # lie within 2.5 % of the range of its ends (P(miss) = 0.975**400 = 4e-5 per end),
    # widened by the estimation error (3 standard errors of a per-elevator ratio)
    for x, lo, hi, se in ((age[:, 0], 0.5, 20.0, 0.0),
                          (cycles.sum(1) / trips.sum(1), 1.6, 2.6, 3 * math.sqrt(2.6 / trips.sum(1).min())),
                          (reopens[:, 7:].sum(1) / cycles[:, 7:].sum(1), 0.004, 0.03,
                           3 * math.sqrt(0.03 / cycles[:, 7:].sum(1).min()))):
        tol = 0.025 * (hi - lo) + se
        assert lo - se <= x.min() <= lo + tol and hi - tol <= x.max() <= hi + se, (lo, hi, x.min(), x.max())


def test_sensor_noise_scales():
    fleet = simulate_fleet(300, 200, seed=23, params=FleetParams(**QUIET))
    vib = _grid(fleet, "vibration_rms")[:, 5:]
    lev = _grid(fleet, "leveling_error_mm")[:, 5:]
    # vibration = vib0 (1 + 0.08 N(0, 1)): coefficient of variation 0.08 on every elevator
    cv = vib.std(1, ddof=1) / vib.mean(1)
    assert _z(cv.mean(), 0.08, 0.08 / math.sqrt(2 * vib.size)) < 4.0, cv.mean()
    # leveling = lev0 + 0.4 |N(0, 1)|: sd 0.4 sqrt(1 - 2/pi), mean lev0 + 0.4 sqrt(2/pi)
    sd = 0.4 * math.sqrt(1 - 2 / math.pi)
    assert _z(lev.std(1, ddof=1).mean(), sd, sd / math.sqrt(lev.size)) < 4.0
    lev0 = lev.mean(1) - 0.4 * math.sqrt(2 / math.pi)  # lev0 ~ U(1, 4)
    assert stats.kstest(lev0, stats.uniform(1.0, 3.0).cdf).pvalue > ALPHA


def test_maintenance_every_13_to_17_days_uniformly():
    fleet = simulate_fleet(300, 730, seed=24)
    dsm = _grid(fleet, "days_since_maintenance")
    gaps = np.concatenate([np.diff(np.flatnonzero(row == 0)) for row in dsm])
    counts = np.array([(gaps == g).sum() for g in range(13, 18)])
    assert counts.sum() == gaps.size  # never outside 13..17
    assert stats.chisquare(counts).pvalue > ALPHA, counts
    # the first visit falls on day 0..14 uniformly (the phase of each elevator)
    first = np.array([np.flatnonzero(row == 0)[0] for row in dsm])
    assert stats.chisquare(np.bincount(first, minlength=15)).pvalue > ALPHA


@pytest.mark.parametrize("seed,q_door,q_drive,p_catch,interval,min_failures", [
    (31, 0.05, 0.02, 0.0, 3, 2000),   # ~15 failures per elevator
    (32, 0.3, 0.1, 0.0, 3, 4000),     # the defect phase dominates: sensitive to h_door / h_drive
    (34, 0.2, 0.1, 0.7, 8, 3000),     # visits every 6-10 days find many defects first
])
def test_failures_match_the_renewal_chain(seed, q_door, q_drive, p_catch, interval, min_failures):
    """Defects without wear: expected failures from the chain vs the simulated count.

    Wear stays 0 after the first maintenance (kept share 0, no usage wear, no shocks), so
    each elevator is the documented three-state renewal chain with maintenance on the days
    its telemetry shows; its initial wear (U(0, 0.5) door, U(0, 0.05 x age) drive, until
    the first visit) is integrated by quadrature (a failure before that visit, which keeps
    part of the wear, is neglected: a bias far below one standard error).
    """
    params = FleetParams(kd=0.0, km=0.0, p_shock=0.0, m_door=0.0, m_drive=0.0, p_catch=p_catch,
                         q_door=q_door, q_drive=q_drive, h_base=0.002, maint_interval_d=interval)
    p = asdict(params)
    fleet = simulate_fleet(150, 600, seed=seed, params=params)
    age = _grid(fleet, "age_years")
    dsm = _grid(fleet, "days_since_maintenance")
    nodes = (np.arange(8) + 0.5) / 8
    ud, um = (g.ravel() for g in np.meshgrid(nodes, nodes))
    resid = []
    for e in range(len(fleet.elevator_ids)):
        expected = naive.expected_failures(p, age[e], np.flatnonzero(dsm[e] == 0),
                                           0.5 * ud, 0.05 * age[e, 0] * um)
        resid.append(fleet.fail[e].sum() - expected.sum())
    resid = np.array(resid)
    t = resid.mean() / (resid.std(ddof=1) / math.sqrt(resid.size))
    print(f"renewal chain seed {seed}: t = {t:.2f}, failures {fleet.fail.sum()}")
    assert abs(t) < 4.0, (t, resid.mean(), fleet.fail.sum())
    assert fleet.fail.sum() > min_failures  # enough failures for a sharp test


def test_wear_raises_the_base_hazard():
    """No defects, wear frozen at its initial draw: hazard h_base (1 + wd + wm) per day.

    Initial wear: door U(0, 0.5), drive U(0, 0.05 x age); expected daily hazard
    h_base (1 + 0.25 + 0.025 age0). A failure keeps 70 % of the wear, which lowers the
    count by about 0.1 x h x (mean time after a first failure): ~25 of ~1,450 here, under one
    standard error; without the drive term the count would fall by ~250 (6.5 SE).
    """
    h = 2e-3
    params = FleetParams(kd=0.0, km=0.0, p_shock=0.0, q_door=0.0, q_drive=0.0, m_door=1.0,
                         m_drive=1.0, h_base=h)
    fleet = simulate_fleet(4000, 120, seed=33, params=params)
    age0 = _grid(fleet, "age_years")[:, 0]
    expected = (h * (1.25 + 0.025 * age0) * 120).sum()
    observed = fleet.fail.sum()
    assert _z(observed, expected, math.sqrt(expected)) < 4.0, (observed, expected)
    # the drive wear grows with age: old elevators fail more (expected ratio of the halves)
    old = age0 > np.median(age0)
    ratio_want = (1.25 + 0.025 * age0[old]).sum() / (1.25 + 0.025 * age0[~old]).sum()
    assert fleet.fail[old].sum() / fleet.fail[~old].sum() == pytest.approx(ratio_want, rel=0.25)


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
    ({"n": 2, "days": 5, "seed": 2 ** 63}, "seed=9223372036854775808 must be < 2"),
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
