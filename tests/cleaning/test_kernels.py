"""Cleaning kernels against plain-Python references; published soiling figures."""

from __future__ import annotations

import numpy as np
import pytest

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


@pytest.mark.parametrize("n_routes", [0, 1, 7])
def test_accumulate_matches_naive(n_routes):
    rng = np.random.default_rng(n_routes)
    lengths = rng.integers(0, 4, n_routes)
    ptr = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    areas = rng.integers(0, 5, int(ptr[-1])).astype(np.int64)
    lam = rng.exponential(20.0, (n_routes, 24))
    lam[:, 3] = 0.0
    if n_routes:
        lam[0, 5] = 80.0  # the normal-approximation branch
    out = np.zeros((5, 24), dtype=np.int64)
    accumulate_kernel(ptr, areas, lam, 9, 100, out)
    assert out.tolist() == naive.accumulate(ptr, areas, lam, 9, 100, 5)


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
