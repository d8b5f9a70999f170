"""Cleaning kernels against plain-Python references; published soiling figures."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from sim.cleaning.soiling import SoilParams, mat_removal, minutes_over_threshold
from sim.cleaning.traffic import accumulate_kernel
from tests.cleaning import naive


@pytest.mark.parametrize("case", ["random", "no_cleaning", "zero_deposit", "edge_cleanings", "empty"])
def test_minutes_over_matches_naive(case):
    rng = np.random.default_rng(3)
    n, m = (0, 50) if case == "empty" else (4, 300)
    dep = rng.exponential(0.01, (n, m))
    cleans = [sorted(rng.choice(m, 5, replace=False).tolist()) for _ in range(n)]
    if case == "no_cleaning":
        cleans = [[] for _ in range(n)]
    if case == "zero_deposit":
        dep[:] = 0.0
    if case == "edge_cleanings":
        cleans = [[0, m - 1, m] for _ in range(n)]
    p = SoilParams(threshold_g_m2=1.0, residual=0.1, initial_share=0.5)
    got = minutes_over_threshold(dep, cleans, p)
    want = naive.minutes_over(dep.tolist(), cleans, 0.5, 0.1, 1.0)
    assert got.tolist() == want


def test_minutes_over_by_hand():
    # 0.125 g/m² a minute from 0.25 (binary-exact): soil after minute m is 0.25 + 0.125 (m + 1),
    # over 1.0 from m = 6 on -> 14 of 20 minutes
    dep = np.full((1, 20), 0.125)
    p = SoilParams(threshold_g_m2=1.0, residual=0.0, initial_share=0.25)
    assert minutes_over_threshold(dep, [[]], p).tolist() == [14]
    # cleaned at minute 10: minutes 6..9 over; then 0.125 (m + 1 - 10) > 1 from m = 18: 18, 19
    assert minutes_over_threshold(dep, [[10]], p).tolist() == [6]


#: Statistical checks use fixed seeds and reject at p < ALPHA or at Z standard errors
#: (p ~ 7e-6): a correct kernel fails a given check for one seed in 10,000 or fewer.
ALPHA, Z = 1e-4, 4.5

# route 0 passes areas 0, 1, 1 (area 1 twice); route 1 passes 1, 2; route 2 passes nothing;
# route 3 passes area 3 but never walks; area 4 is on no route
PTR = np.array([0, 3, 5, 5, 6], dtype=np.int64)
AREAS = np.array([0, 1, 1, 1, 2, 3], dtype=np.int64)
LAM = np.array([[0.7, 4.0, 18.0, 75.0],      # 75: the normal-approximation branch
                [2.5, 0.0, 9.0, 0.05],
                [5.0, 5.0, 5.0, 5.0],
                [0.0, 0.0, 0.0, 0.0]])


def _kernel_runs(seeds, stream0=100):
    out = np.zeros((len(seeds), 5, LAM.shape[1]), dtype=np.int64)
    for i, seed in enumerate(seeds):
        accumulate_kernel(PTR, AREAS, LAM, seed, stream0, out[i])
    return out


def test_accumulate_adds_each_walk_to_every_area_of_its_route():
    runs = _kernel_runs(range(200))
    # exact for every draw: area 1 = 2 x route 0 + route 1 = 2 x area 0 + area 2
    assert np.array_equal(runs[:, 1], 2 * runs[:, 0] + runs[:, 2])
    assert not runs[:, 3:].any()          # a route without walkers, an area without routes
    assert not runs[:, 2, 1].any()        # route 1 has no walkers in hour 1
    assert runs[:, 0].sum() > 0
    empty = np.zeros((5, 4), dtype=np.int64)
    accumulate_kernel(np.zeros(1, dtype=np.int64), np.zeros(0, dtype=np.int64),
                      np.zeros((0, 4)), 1, 0, empty)
    assert not empty.any()


def test_accumulate_moments_match_the_closed_form():
    n = 4000
    runs = _kernel_runs(range(n)).astype(float)
    mean, cov = naive.accumulate_moments(PTR, AREAS, LAM, 5)
    for a in range(3):
        for h in range(LAM.shape[1]):
            x = runs[:, a, h]
            var = cov[a, a, h]
            if var == 0:
                assert not x.any()
                continue
            assert abs(x.mean() - mean[a, h]) < Z * math.sqrt(var / n), (a, h)
            # SE of a sample variance: sqrt((2 var^2 + kappa4) / n); Poisson cumulants are
            # all lam, so kappa4 = sum_r m[r, a]^4 lam[r, h]
            kappa4 = {0: LAM[0, h], 1: 16 * LAM[0, h] + LAM[1, h], 2: LAM[1, h]}[a]
            assert abs(x.var() - var) < Z * math.sqrt((2 * var ** 2 + kappa4) / n), (a, h)
    # covariance of areas 0 and 1 (both on route 0): 2 lam[0, h]; of areas 0 and 2: 0
    for h in range(LAM.shape[1]):
        c01 = np.cov(runs[:, 0, h], runs[:, 1, h])[0, 1]
        sd = math.sqrt(cov[0, 0, h] * cov[1, 1, h] / n) * 2
        assert abs(c01 - cov[0, 1, h]) < Z * sd + 1e-12, h


def test_accumulate_streams_are_independent_across_hours_and_routes():
    # every (day, route, hour) has its own stream: counts of neighbouring hours and routes
    # are uncorrelated (|r| ~ 1/sqrt(n))
    n = 4000
    runs = _kernel_runs(range(n), stream0=0).astype(float)
    pairs = [(runs[:, 0, 0], runs[:, 0, 1]), (runs[:, 0, 2], runs[:, 0, 3]),
             (runs[:, 0, 2], runs[:, 2, 2])]
    for a, b in pairs:
        assert abs(np.corrcoef(a, b)[0, 1]) < Z / math.sqrt(n)


@pytest.mark.parametrize("area,hour", [(0, 0), (0, 1), (1, 2), (2, 0), (1, 3)])
def test_accumulate_distribution_equals_the_event_by_event_walk(area, hour):
    n = 2000
    runs = _kernel_runs(range(n))[:, area, hour]
    rng = np.random.default_rng(area * 10 + hour)
    ref = np.array([naive.accumulate_events(PTR, AREAS, LAM[:, hour:hour + 1], 5, rng)[area, 0]
                    for _ in range(n)])
    lo, hi = np.percentile(np.concatenate([runs, ref]), [2, 98]).astype(int)
    edges = np.unique(np.r_[-np.inf, np.arange(lo, hi + 1) + 0.5, np.inf])
    table = np.array([np.histogram(runs, edges)[0], np.histogram(ref, edges)[0]])
    table = table[:, table.sum(0) > 0]
    if table.shape[1] > 1:
        assert stats.chi2_contingency(table).pvalue > ALPHA, table
    assert abs(runs.mean() - ref.mean()) < Z * math.sqrt((runs.var() + ref.var()) / n + 1e-12)


def test_mat_removal_published_points():
    # entrance mats remove ~37% of shoe soil at 1.5 m and ~86% at 6 m
    assert mat_removal(1.5) == pytest.approx(0.37)
    assert mat_removal(6.0) == pytest.approx(0.86)
    assert mat_removal(0.0) == 0.0
    assert mat_removal(10.0) == pytest.approx(0.86)


def test_public_api():
    import sim.cleaning as pkg

    for name in pkg.__all__:
        assert hasattr(pkg, name), name
    assert {"compare_policies", "plan_work_orders", "build_layout"} <= set(pkg.__all__)
