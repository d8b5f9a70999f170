"""Plain-Python references of the cleaning kernels."""

from __future__ import annotations

from tests.elevators.naive import SplitMix


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


def accumulate(ptr, areas, lam, seed, stream0, n_areas):
    """Passages per area and hour, drawing each route-hour from its own stream."""
    out = [[0] * lam.shape[1] for _ in range(n_areas)]
    for h in range(lam.shape[1]):
        for r in range(len(ptr) - 1):
            if lam[r, h] <= 0:
                continue
            k = SplitMix(seed, stream0 + r * 24 + h).poisson(float(lam[r, h]))
            for j in range(ptr[r], ptr[r + 1]):
                out[areas[j]][h] += k
    return out
