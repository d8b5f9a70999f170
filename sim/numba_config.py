"""Numba flags in one place (STYLE 9): every kernel of ``sim/`` takes its options here.

Environment variables: ``TWIN_NUMBA_FASTMATH=1`` turns fastmath on (off by default: results
must be bit-for-bit reproducible); ``NUMBA_DISABLE_JIT=1`` (numba's own) runs kernels as
plain Python for coverage and debugging.

On-disk cache: numba keys a cached kernel on its own source file only, so after a change
in a helper that kernels of other files call (:mod:`sim.rng`) they would keep running
the old machine code. Compiled kernels are therefore cached in
``sim/__pycache__/numba-<digest>``, the digest of the shared helper files
(:data:`SHARED_SOURCES`): a change there starts a fresh cache. ``NUMBA_CACHE_DIR`` set by
the user wins.
"""

from __future__ import annotations

import hashlib
import os
import types
from pathlib import Path

import numba

__all__ = ["CACHE", "FASTMATH", "SHARED_SOURCES", "jit", "named", "pjit"]

#: Files of ``sim/`` whose kernels are called from kernels in other files.
SHARED_SOURCES: tuple[str, ...] = ("rng.py", "numba_config.py")

#: Cache compiled kernels on disk so a new process does not compile again.
CACHE: bool = True
#: Fastmath changes results between machines; off unless asked for.
FASTMATH: bool = os.environ.get("TWIN_NUMBA_FASTMATH", "0") == "1"


def _cache_dir() -> Path:
    here = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for name in SHARED_SOURCES:
        digest.update(name.encode() + b"\0" + (here / name).read_bytes())
    return here / "__pycache__" / f"numba-{digest.hexdigest()[:16]}"


if CACHE and not os.environ.get("NUMBA_CACHE_DIR"):
    numba.config.CACHE_DIR = str(_cache_dir())


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


def named(fn, name: str):
    """A copy of the plain function ``fn`` called ``name``.

    Numba names a function's on-disk cache after its qualified name and first line, and
    does not key it on the compile flags: a serial ``jit`` and a parallel ``pjit`` build of
    the same function would share one cache entry, and a new process would load whichever
    was saved last (the parallel build where the serial one was asked for, or the reverse).
    Build each variant from its own named copy instead."""
    g = types.FunctionType(fn.__code__, fn.__globals__, name, fn.__defaults__, fn.__closure__)
    g.__qualname__ = name
    g.__doc__ = fn.__doc__
    g.__module__ = fn.__module__
    return g
