"""Plain-Python references of the cleaning kernels (written from the model text, not the kernels)."""

from __future__ import annotations

import numpy as np


def minutes_over(deposit, cleanings, initial, residual, threshold):
    """Minute by minute: add the minute's soil, count it if over, clean at minute ends."""
    out = []
    for a, row in enumerate(deposit):
        soil, count = initial, 0
        cleans = sorted(cleanings[a])
        for m, g in enumerate(row):
            while cleans and cleans[0] <= m:
                soil *= residual
                cleans.pop(0)
            soil += g
            if soil > threshold + 1e-12:
                count += 1
        out.append(count)
    return out


def accumulate_events(ptr, areas, lam, n_areas, rng: np.random.Generator):
    """Passages per area and hour, one walker at a time (event by event).

    Each route's walkers arrive in hour ``h`` as a Poisson process of rate ``lam[r, h]``
    per hour: exponential gaps are drawn until the hour is over, and every walker adds one
    passage to each area on the route (an area listed twice is passed twice).
    """
    out = np.zeros((n_areas, lam.shape[1]), dtype=np.int64)
    for r in range(len(ptr) - 1):
        for h in range(lam.shape[1]):
            if lam[r, h] <= 0:
                continue
            t = rng.exponential(1.0 / lam[r, h])
            while t < 1.0:
                for j in range(ptr[r], ptr[r + 1]):
                    out[areas[j], h] += 1
                t += rng.exponential(1.0 / lam[r, h])
    return out


def accumulate_moments(ptr, areas, lam, n_areas):
    """Mean ``[area, hour]`` and covariance ``[area, area, hour]`` of the passages, closed form.

    With ``m[r, a]`` the times route ``r`` passes area ``a`` and independent Poisson
    counts ``N[r, h]``: ``E = sum_r m[r, a] lam[r, h]`` and
    ``Cov(a, b) = sum_r m[r, a] m[r, b] lam[r, h]``.
    """
    m = np.zeros((len(ptr) - 1, n_areas))
    for r in range(len(ptr) - 1):
        for j in range(ptr[r], ptr[r + 1]):
            m[r, areas[j]] += 1
    lam = np.clip(lam, 0.0, None)
    return m.T @ lam, np.einsum("ra,rb,rh->abh", m, m, lam)
