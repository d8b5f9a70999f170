"""The numba cache follows the shared kernel helpers (a change there is a fresh cache)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numba

import sim.numba_config as cfg

SIM = Path(cfg.__file__).resolve().parent


def test_cache_dir_is_keyed_on_the_shared_helpers(monkeypatch):
    want = hashlib.sha256(b"".join(name.encode() + b"\0" + (SIM / name).read_bytes()
                                   for name in ("rng.py", "numba_config.py"))).hexdigest()[:16]
    assert cfg._cache_dir() == SIM / "__pycache__" / f"numba-{want}"
    assert "rng.py" in cfg.SHARED_SOURCES  # called by the elevator and traffic kernels
    # another content of a shared file gives another folder
    real = Path.read_bytes
    monkeypatch.setattr(Path, "read_bytes",
                        lambda self: real(self) + (b"#" if self.name == "rng.py" else b""))
    assert cfg._cache_dir() != SIM / "__pycache__" / f"numba-{want}"


def test_kernels_are_cached_there():
    from sim.rng import seed_state, uniform

    uniform(seed_state(1, 2))
    if cfg.CACHE and numba.config.CACHE_DIR == str(cfg._cache_dir()):
        assert any(Path(numba.config.CACHE_DIR).rglob("rng.uniform-*.nbi"))
