"""Cache of composed sites, keyed by the content hash of every input file and of the code.

A warm load reads and hashes the inputs and unpickles the community: no GIS, IFC or
geometry work. Geometries are stored apart, as one array of WKB decoded in a single
vectorised :func:`shapely.from_wkb` call (unpickling them one by one was most of a warm
load). A corrupt or unreadable cache entry is ignored and rebuilt.
"""

from __future__ import annotations

import gc
import hashlib
import logging
import os
import pickle
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Any, BinaryIO, Callable, TypeVar

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

__all__ = ["CACHE_VERSION", "cached", "code_fingerprint", "dump", "file_inputs", "inputs_key",
           "load", "site_inputs"]

log = logging.getLogger(__name__)
T = TypeVar("T")

#: Bump when the pickled layout changes in a way the code fingerprint does not catch.
CACHE_VERSION = "site-3"
_MAGIC = b"TWINSITE3"
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


def _geom(index: int) -> BaseGeometry:
    """Placeholder the pickle names for a set-aside geometry (:class:`_Unpickler` maps it)."""
    raise pickle.UnpicklingError("a geometry reference outside a cache entry")


class _Pickler(pickle.Pickler):
    """Pickler that sets shapely geometries aside (references into ``self.geoms``).

    ``reducer_override`` is not called for plain containers, strings and numbers (unlike
    ``persistent_id``, called for every object): the pickler stays in C for most objects.
    """

    def __init__(self, fh: BinaryIO):
        super().__init__(fh, protocol=pickle.HIGHEST_PROTOCOL)
        self.geoms: list[BaseGeometry] = []
        self._ids: dict[int, int] = {}

    def reducer_override(self, obj: Any):
        if isinstance(obj, BaseGeometry):
            key = id(obj)
            index = self._ids.get(key)
            if index is None:
                index = self._ids[key] = len(self.geoms)
                self.geoms.append(obj)
            return _geom, (index,)
        return NotImplemented


class _Unpickler(pickle.Unpickler):
    def __init__(self, fh: BinaryIO, geoms: np.ndarray):
        super().__init__(fh)
        self.geoms = geoms

    def find_class(self, module: str, name: str):
        if module == __name__ and name == "_geom":
            return self.geoms.__getitem__
        return super().find_class(module, name)


def dump(obj: Any, fh: BinaryIO) -> None:
    """Write ``obj`` with its geometries as one WKB array (read back with :func:`load`)."""
    import io

    body = io.BytesIO()
    pickler = _Pickler(body)
    pickler.dump(obj)
    wkb = shapely.to_wkb(np.array(pickler.geoms, dtype=object)) if pickler.geoms else []
    fh.write(_MAGIC)
    pickle.dump(list(wkb), fh, protocol=pickle.HIGHEST_PROTOCOL)
    fh.write(body.getbuffer())


def load(fh: BinaryIO) -> Any:
    """Read an object written by :func:`dump`."""
    if fh.read(len(_MAGIC)) != _MAGIC:
        raise ValueError("not a site cache entry")
    enabled = gc.isenabled()
    gc.disable()  # unpickling creates many objects: no collector passes over a large heap
    try:
        wkb = pickle.load(fh)
        geoms = shapely.from_wkb(np.array(wkb, dtype=object)) if wkb else np.array([], dtype=object)
        return _Unpickler(fh, geoms).load()
    finally:
        if enabled:
            gc.enable()


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
                value = load(fh)
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
            dump(value, fh)
        os.replace(tmp, entry)
    except (OSError, pickle.PicklingError) as exc:
        log.warning("cannot write cache entry %s: %s", entry, exc)
    return value
