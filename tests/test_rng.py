"""The counter-based generator (:mod:`sim.rng`): published vectors and distribution tests.

splitmix64 is checked against the reference outputs of Vigna's ``splitmix64.c``
(https://prng.di.unimi.it/splitmix64.c) and the Rosetta Code task "Pseudo-random
numbers/Splitmix64"; the uniform, normal and Poisson draws against their distributions.
Statistical checks use fixed seeds and reject at p < ``ALPHA`` (or at 4.5 standard errors,
p ≈ 7e-6): a correct generator fails a given check for one seed in 10,000 or fewer.
"""

from __future__ import annotations

import math

import numba
import numpy as np
import pytest
from scipy import stats

from sim.rng import next_u64, normal, poisson, seed_state, uniform

ALPHA = 1e-4
Z = 4.5


@numba.njit(cache=False)
def _draws(kind, seed, index, n, lam=0.0):
    """``n`` draws of one stream: kind 0 uniform, 1 normal, 2 Poisson(lam)."""
    st = seed_state(seed, index)
    out = np.empty(n)
    for i in range(n):
        out[i] = uniform(st) if kind == 0 else normal(st) if kind == 1 else poisson(st, lam)
    return out


def _uniforms(seed, index, n):
    return _draws(0, seed, index, n)


def _normals(seed, index, n):
    return _draws(1, seed, index, n)


def _poissons(seed, index, lam, n):
    return _draws(2, seed, index, n, lam).astype(np.int64)


@numba.njit(cache=False)
def _first_uniforms(seed, n_streams, draws):
    out = np.empty((n_streams, draws))
    for i in range(n_streams):
        st = seed_state(seed, i)
        for j in range(draws):
            out[i, j] = uniform(st)
    return out


# -- published vectors ------------------------------------------------------------------
@pytest.mark.parametrize("seed,outputs", [
    # splitmix64.c with x = 0 (the seeding values of the xoshiro generators)
    (0, [0xE220A8397B1DCDAF, 0x6E789E6AA1B965F4, 0x06C45D188009454F, 0xF88BB8A8724C81EC,
         0x1B39896A51A8749B]),
    # Rosetta Code, seed 1234567
    (1234567, [6457827717110365317, 3203168211198807973, 9817491932198370423,
               4593380528125082431, 16408922859458223821]),
])
def test_splitmix64_published_outputs(seed, outputs):
    st = np.array([seed], dtype=np.uint64)
    assert [int(next_u64(st)) for _ in outputs] == outputs


def test_uniform_is_the_top_53_bits():
    # the first seed-0 output, top 53 bits over 2**53 (exact in a double)
    st = np.array([0], dtype=np.uint64)
    assert uniform(st) == (0xE220A8397B1DCDAF >> 11) / 2.0 ** 53
    st = np.array([2 ** 64 - 1], dtype=np.uint64)  # the state wraps around 2**64
    assert 0.0 <= uniform(st) < 1.0 and int(st[0]) == (2 ** 64 - 1 + 0x9E3779B97F4A7C15) % 2 ** 64


def test_uniform_rosetta_counts():
    # Rosetta Code: seed 987654321, 100,000 draws of floor(5 x float) -> these counts
    st = np.array([987654321], dtype=np.uint64)
    counts = [0] * 5
    for _ in range(100_000):
        counts[int(uniform(st) * 5)] += 1
    assert counts == [20027, 19892, 20073, 19978, 20030]


# -- distributions ------------------------------------------------------------------------
@pytest.mark.parametrize("seed", [0, 7, 2 ** 40])
def test_uniform_is_uniform(seed):
    u = _uniforms(seed, 3, 200_000)
    assert u.min() >= 0.0 and u.max() < 1.0
    assert stats.chisquare(np.bincount((u * 100).astype(int), minlength=100)).pvalue > ALPHA
    assert stats.kstest(u, "uniform").pvalue > ALPHA


@pytest.mark.parametrize("seed", [1, 99])
def test_normal_is_standard_normal(seed):
    n = 200_000
    z = _normals(seed, 0, n)
    assert np.isfinite(z).all()
    assert stats.kstest(z, "norm").pvalue > ALPHA
    assert abs(z.mean()) < Z / math.sqrt(n)
    assert abs(z.var() - 1) < Z * math.sqrt(2 / n)
    assert abs(stats.skew(z)) < Z * math.sqrt(6 / n)
    assert abs(stats.kurtosis(z)) < Z * math.sqrt(24 / n)
    # tails: P(|z| > 3) = 0.0027 (binomial count)
    p3 = 2 * stats.norm.sf(3)
    assert abs((np.abs(z) > 3).sum() - n * p3) < Z * math.sqrt(n * p3 * (1 - p3))


def _pooled_chisquare(observed_values, pmf_support, pmf):
    """Chi-square p-value with tail bins pooled until each expects >= 5."""
    n = observed_values.size
    exp = pmf * n
    lo = pmf_support[0]
    counts = np.bincount(observed_values - lo, minlength=len(pmf_support))[:len(pmf_support)]
    counts[-1] += (observed_values - lo >= len(pmf_support)).sum()
    bins_o, bins_e, acc_o, acc_e = [], [], 0, 0.0
    for o, e in zip(counts, exp):
        acc_o, acc_e = acc_o + o, acc_e + e
        if acc_e >= 5:
            bins_o.append(acc_o)
            bins_e.append(acc_e)
            acc_o, acc_e = 0, 0.0
    bins_o[-1] += acc_o
    bins_e[-1] += acc_e
    bins_e = np.array(bins_e) * sum(bins_o) / sum(bins_e)
    return stats.chisquare(bins_o, bins_e).pvalue


@pytest.mark.parametrize("lam", [0.05, 0.5, 1.0, 2.5, 7.0, 15.0, 29.99])
def test_poisson_small_lambda_is_poisson(lam):
    # Knuth's product method below 30: exact Poisson; chi-square against the pmf
    n = 100_000
    k = _poissons(11, int(lam * 100), lam, n)
    support = np.arange(0, int(lam + 12 * math.sqrt(lam) + 12))
    pmf = stats.poisson.pmf(support, lam)
    pmf[-1] += stats.poisson.sf(support[-1], lam)
    assert _pooled_chisquare(k, support, pmf) > ALPHA
    assert abs(k.mean() - lam) < Z * math.sqrt(lam / n)
    assert abs(k.var() - lam) < Z * math.sqrt((lam + 2 * lam ** 2) / n)


@pytest.mark.parametrize("lam", [1e-300, 1e-9, 1e-4])
def test_poisson_tiny_lambda(lam):
    n = 200_000
    k = _poissons(5, 1, lam, n)
    # P(k >= 1) = 1 - exp(-lam) ~ lam; P(k >= 2) ~ lam**2 / 2
    assert k.min() == 0 and (k >= 2).sum() == 0
    assert (k >= 1).sum() <= n * lam + Z * math.sqrt(n * lam) + 1


def test_poisson_zero_and_negative_lambda_draw_nothing():
    st = seed_state(1, 0)
    before = int(st[0])
    assert poisson(st, 0.0) == 0 and poisson(st, -3.0) == 0
    assert int(st[0]) == before  # no random number used


def _rounded_normal_pmf(support, lam):
    s = math.sqrt(lam)
    pmf = stats.norm.cdf((support + 0.5 - lam) / s) - stats.norm.cdf((support - 0.5 - lam) / s)
    pmf[0] = stats.norm.cdf((support[0] + 0.5 - lam) / s)  # everything below is clipped up
    pmf[-1] = stats.norm.sf((support[-1] - 0.5 - lam) / s)
    return pmf


@pytest.mark.parametrize("lam", [30.0, 64.0, 250.0, 1e4, 1e6, 1e9, 1e12])
def test_poisson_large_lambda(lam):
    """Above 30 the draw is the documented rounded normal: mean lam, variance lam + 1/12."""
    n = 100_000
    k = _poissons(13, 2, lam, n).astype(float)
    assert abs(k.mean() - lam) < Z * math.sqrt(lam / n)
    assert abs(k.var() - (lam + 1 / 12)) < Z * lam * math.sqrt(2 / n)
    if lam <= 1e4:  # counts small enough to bin one by one
        lo, hi = int(lam - 6 * math.sqrt(lam)), int(lam + 6 * math.sqrt(lam)) + 1
        support = np.arange(max(lo, 0), hi)
        assert _pooled_chisquare(np.clip(k.astype(np.int64), support[0], None),
                                 support, _rounded_normal_pmf(support, lam)) > ALPHA
    else:  # standardised: within one part in 1e-3 of a normal
        assert stats.kstest((k - lam) / math.sqrt(lam), "norm").pvalue > ALPHA


@pytest.mark.parametrize("lam,bound", [(30.0, 0.024), (100.0, 0.013), (1000.0, 0.0041)])
def test_large_lambda_approximation_error_to_poisson(lam, bound):
    """Total-variation distance of the rounded normal to Poisson(lam): about 0.126 / sqrt(lam).

    Computed exactly from the two pmfs (not sampled); the switch at lam = 30 keeps it
    below 2.4 % (a switch at 10 would give 4 %).
    """
    support = np.arange(0, int(lam + 20 * math.sqrt(lam)) + 20)
    tv = 0.5 * np.abs(_rounded_normal_pmf(support, lam) - stats.poisson.pmf(support, lam)).sum()
    assert tv < bound
    assert tv * math.sqrt(lam) == pytest.approx(0.126, abs=0.01)


# -- streams ------------------------------------------------------------------------------
def test_streams_are_uncorrelated_and_do_not_overlap():
    n = 20_000
    u = _first_uniforms(3, n, 4)
    # neighbouring streams at the same draw and shifted by one draw: |r| ~ 1/sqrt(n)
    for a, b in ((u[:-1, 0], u[1:, 0]), (u[:-1, 1], u[1:, 0]), (u[:-1, 2], u[1:, 1]),
                 (u[:-1, 0], u[:-1, 1])):
        assert abs(np.corrcoef(a, b)[0, 1]) < Z / math.sqrt(n)
    # no stream starts inside the first 4 draws of another: all values distinct
    assert np.unique(u).size == u.size
    assert stats.kstest(u.ravel(), "uniform").pvalue > ALPHA


def test_neighbouring_seeds_are_uncorrelated():
    n = 20_000
    a = _first_uniforms(41, n, 1)[:, 0]
    b = _first_uniforms(42, n, 1)[:, 0]
    assert abs(np.corrcoef(a, b)[0, 1]) < Z / math.sqrt(n)
    assert not np.array_equal(seed_state(41, 0), seed_state(42, 0))
