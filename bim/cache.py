"""Content-addressed cache of derived IFC models (pickle files named by sha256).

Geometries are stored apart from the pickle, as one WKB array encoded and decoded in single
vectorised shapely calls (:func:`bim.sitecache.dump` / :func:`bim.sitecache.load`).

The key is the sha256 of the file bytes and :data:`READER_VERSION`; a new reader version
never reads an old entry. Entries are written atomically (temporary file + rename); an entry
that cannot be read (truncated, corrupt, another class layout) is ignored and rebuilt.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import pickle
import tempfile
from pathlib import Path
from typing import Any

from bim import sitecache

__all__ = ["READER_VERSION", "cache_key", "cache_path", "read_cache", "write_cache"]

log = logging.getLogger(__name__)

#: Bump when the reader's output changes: old cache entries are then not used.
READER_VERSION = "bim-ifc-6"
_MAGIC = b"TWINIFC2"


def cache_key(data: bytes) -> str:
    """Return the hex sha256 of the file bytes and the reader version."""
    h = hashlib.sha256(data)
    h.update(b"\0" + READER_VERSION.encode())
    return h.hexdigest()


def cache_path(cache_dir: str | os.PathLike, key: str) -> Path:
    """Return the entry path of ``key`` in ``cache_dir``."""
    return Path(cache_dir) / f"ifc-{key}.pickle"


def read_cache(cache_dir: str | os.PathLike, key: str) -> Any | None:
    """Return the cached object for ``key``, or ``None`` when absent or unreadable."""
    path = cache_path(cache_dir, key)
    try:
        blob = path.read_bytes()
    except OSError:
        return None
    if not blob.startswith(_MAGIC):
        log.warning("ignoring corrupt IFC cache entry %s", path.name)
        return None
    try:
        return sitecache.load(io.BytesIO(memoryview(blob)[len(_MAGIC):]))
    except Exception as exc:  # truncated, corrupt or stale layout: rebuild
        log.warning("ignoring unreadable IFC cache entry %s: %s", path.name, exc)
        return None


def write_cache(cache_dir: str | os.PathLike, key: str, obj: Any) -> Path | None:
    """Store ``obj`` under ``key`` atomically; return the path (None when not writable)."""
    folder = Path(cache_dir)
    tmp = None
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".ifc-", suffix=".tmp")
        with os.fdopen(fd, "wb") as fh:
            fh.write(_MAGIC)
            sitecache.dump(obj, fh)
        path = cache_path(folder, key)
        os.replace(tmp, path)
        tmp = None
        return path
    except (OSError, pickle.PicklingError) as exc:
        log.warning("cannot write IFC cache in %s: %s", folder, exc)
        return None
    finally:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
