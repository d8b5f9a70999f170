"""Counter-based random numbers for numba kernels (splitmix64), one stream per entity.

Every simulated entity (an elevator, a building's trip generator...) gets its own stream
``seed_state(seed, index)``, so parallel kernels give the same numbers on any thread count
and bit-for-bit reproducible results (DESIGN: a simulation is a pure function of inputs and
seed). Tests: published splitmix64 vectors and distribution tests in ``tests/test_rng.py``.
"""

from __future__ import annotations

import math

import numpy as np

from sim.numba_config import jit

__all__ = ["next_u64", "uniform", "normal", "poisson", "seed_state"]

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


# -- random numbers -----------------------------------------------------------------------
@jit
def next_u64(state):
    """Advance a splitmix64 state (``uint64[1]``) and return the next 64-bit output."""
    state[0] = state[0] + _GOLDEN
    z = state[0]
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


@jit
def uniform(state):
    """Return a uniform double in [0, 1) (53 random bits)."""
    return float(next_u64(state) >> np.uint64(11)) * (1.0 / 9007199254740992.0)


@jit
def normal(state):
    """Return a standard normal draw (Box-Muller, cosine branch; two uniforms)."""
    u1 = 1.0 - uniform(state)
    u2 = uniform(state)
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)


@jit
def poisson(state, lam):
    """Return a Poisson(lam) draw: Knuth's product method below 30, else rounded normal."""
    if lam <= 0.0:
        return 0
    if lam < 30.0:
        limit = math.exp(-lam)
        k = 0
        p = uniform(state)
        while p > limit:
            k += 1
            p *= uniform(state)
        return k
    k = math.floor(lam + math.sqrt(lam) * normal(state) + 0.5)
    return int(k) if k > 0 else 0


@jit
def seed_state(seed, index):
    """Return the splitmix64 state of stream ``index`` of run ``seed``.

    The start of each stream is a hash (the splitmix64 output function) of the hashed seed
    plus ``index``: streams start at unrelated points of the generator's cycle of
    2**64 states. (Starting stream ``i`` at ``seed * c + i * golden`` would make stream
    ``i + 1`` stream ``i`` shifted by one draw, since each draw adds ``golden``.)
    """
    st = np.empty(1, dtype=np.uint64)
    st[0] = np.uint64(seed)
    st[0] = next_u64(st) + np.uint64(index) * _GOLDEN
    st[0] = next_u64(st)
    return st
