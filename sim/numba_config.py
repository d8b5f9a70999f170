"""Numba flags in one place (STYLE 9): every kernel of ``sim/`` takes its options here.

Environment variables: ``TWIN_NUMBA_FASTMATH=1`` turns fastmath on (off by default: results
must be bit-for-bit reproducible); ``NUMBA_DISABLE_JIT=1`` (numba's own) runs kernels as
plain Python for coverage and debugging.
"""

from __future__ import annotations

import os

import numba

__all__ = ["CACHE", "FASTMATH", "jit", "pjit"]

#: Cache compiled kernels on disk so a new process does not compile again.
CACHE: bool = True
#: Fastmath changes results between machines; off unless asked for.
FASTMATH: bool = os.environ.get("TWIN_NUMBA_FASTMATH", "0") == "1"


def jit(*args, **kwargs):
    """``numba.njit`` with the project's flags (serial kernel)."""
    kwargs.setdefault("cache", CACHE)
    kwargs.setdefault("fastmath", FASTMATH)
    kwargs.setdefault("nogil", True)
    return numba.njit(*args, **kwargs)


def pjit(*args, **kwargs):
    """``numba.njit(parallel=True)`` with the project's flags (parallel driver)."""
    kwargs.setdefault("parallel", True)
    return jit(*args, **kwargs)
