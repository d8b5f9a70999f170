"""Cache of composed sites, keyed by the content hash of every input file and of the code.

A warm load reads and hashes the inputs and unpickles the community: no GIS, IFC or
geometry work. A corrupt or unreadable cache entry is ignored and rebuilt.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Callable, TypeVar

__all__ = ["CACHE_VERSION", "cached", "code_fingerprint", "file_inputs", "inputs_key", "site_inputs"]

log = logging.getLogger(__name__)
T = TypeVar("T")

#: Bump when the pickled layout changes in a way the code fingerprint does not catch.
CACHE_VERSION = "site-1"
_ROOT = Path(__file__).resolve().parent.parent
_SKIP_DIRS = {".git", "__pycache__", ".twin", ".cache", "cache"}


@lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """Digest of the source of the code that builds a site (``bim/`` and ``twin/``)."""
    h = hashlib.sha256(CACHE_VERSION.encode())
    for pkg in ("bim", "twin"):
        for f in sorted((_ROOT / pkg).rglob("*.py")):
            h.update(f.relative_to(_ROOT).as_posix().encode())
            h.update(f.read_bytes())
    return h.hexdigest()


def file_inputs(path: Path) -> list[Path]:
    """The files one GIS/IFC file consists of (a Shapefile's sidecars included)."""
    path = Path(path)
    if path.suffix.lower() == ".shp":
        return sorted(p for p in path.parent.glob(path.stem + ".*") if p.is_file())
    return [path]


def site_inputs(site_dir: Path, referenced: list[str]) -> list[Path]:
    """Every file of a site folder (hidden and cache folders skipped) plus the files the
    manifest names outside it."""
    site_dir = Path(site_dir)
    files = set()
    for root, dirs, names in os.walk(site_dir):
        dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS and not d.startswith("."))
        files.update(Path(root) / n for n in names if not n.startswith("."))
    for rel in referenced:
        p = site_dir / rel
        if p.is_file():
            files.update(file_inputs(p))
    return sorted(files)


def inputs_key(files: list[Path], base: Path | None = None) -> str:
    """Digest of the names (relative to ``base``) and contents of ``files`` and the code."""
    h = hashlib.sha256(code_fingerprint().encode())
    for f in files:
        name = os.path.relpath(f, base) if base else Path(f).name
        h.update(name.encode() + b"\0")
        with open(f, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
        h.update(b"\0")
    return h.hexdigest()


def cached(cache_dir: str | Path | None, kind: str, files: list[Path], build: Callable[[], T],
           progress=None, base: Path | None = None) -> T:
    """Return ``build()``, from ``cache_dir/<kind>/<key>.pickle`` when present.

    ``cache_dir=None`` disables the cache. Entries are written atomically.
    """
    if cache_dir is None:
        return build()
    base = base if base is not None else (Path(files[0]).parent if files else None)
    key = inputs_key(files, base)
    folder = Path(cache_dir) / kind
    entry = folder / f"{key}.pickle"
    if entry.is_file():
        try:
            with open(entry, "rb") as fh:
                value = pickle.load(fh)
            if progress is not None:
                progress(1, 1, "loaded from cache")
            return value
        except Exception as exc:  # corrupt entry: rebuild
            log.warning("ignoring unreadable cache entry %s: %s", entry, exc)
    value = build()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
        with os.fdopen(fd, "wb") as fh:
            pickle.dump(value, fh, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, entry)
    except OSError as exc:
        log.warning("cannot write cache entry %s: %s", entry, exc)
    return value
