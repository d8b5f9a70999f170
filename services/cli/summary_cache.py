"""The ``twin load --json`` output cached beside the model cache, read before anything heavy.

A warm ``twin load PATH --json`` used to import the CLI framework, the settings, NumPy,
shapely and the readers, then unpickle the whole community, only to print a summary that
changes when an input file or the code changes. This module keeps that summary (the exact
stdout text) in ``<cache dir>/summary/<digest>.json``. The entry records the state
(size, modification time in ns) of every input file (the site folder's files, those its
manifest names outside it, a Shapefile's sidecars) and of the code that builds the summary
(``bim/``, ``twin/``, ``services/cli/load.py`` and this module). :func:`try_fast` answers
from an entry only when every recorded file still has that state and the site folder has
no new file; anything else (a changed, added or removed file, an unreadable entry, other
options) falls through to the full command, which writes a fresh entry.

This module imports only the standard library (``os``, ``sys``, ``hashlib``; ``json`` when
writing): it runs before the CLI framework loads.
"""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

__all__ = ["cache_dir_from_env", "entry_path", "input_files", "lookup", "store", "try_fast"]

_ROOT = Path(__file__).resolve().parents[2]
_SKIP_DIRS = {".git", "__pycache__", ".twin", ".cache", "cache"}  # as bim.sitecache
_VERSION = "summary-1"


def cache_dir_from_env(cli_value: str | None = None) -> Path:
    """The derived-model cache folder as the settings resolve it: ``--cache-dir``, else
    ``TWIN_CACHE_DIR``, else ``TWIN_DATA_DIR``/cache (default ``.twin/cache``); the
    variable names are case-insensitive, like the settings'."""
    if cli_value:
        return Path(cli_value)
    env = {k.upper(): v for k, v in os.environ.items() if k.upper().startswith("TWIN_")}
    if env.get("TWIN_CACHE_DIR"):
        return Path(env["TWIN_CACHE_DIR"])
    return Path(env.get("TWIN_DATA_DIR") or ".twin") / "cache"


def _walk(site_dir: Path) -> set[str]:
    files = set()
    for root, dirs, names in os.walk(site_dir):
        dirs[:] = [d for d in dirs if d not in _SKIP_DIRS and not d.startswith(".")]
        files.update(os.path.join(root, n) for n in names if not n.startswith("."))
    return files


def _file_inputs(path: Path) -> set[str]:
    if path.suffix.lower() == ".shp":
        return {str(p) for p in path.parent.glob(path.stem + ".*") if p.is_file()}
    return {str(path)}


def input_files(path: Path) -> tuple[Path, set[str]]:
    """``(the input itself, the files a load of it reads that can be found without parsing)``:
    a site folder's files (``site.json`` stands for its folder), or a file with its sidecars."""
    path = Path(path).absolute()
    if path.name == "site.json" and path.is_file():
        path = path.parent
    return path, (_walk(path) if path.is_dir() else _file_inputs(path))


def _code_files() -> list[str]:
    files = [str(_ROOT / "services" / "cli" / "load.py"), str(Path(__file__).resolve())]
    for pkg in ("bim", "twin"):
        for root, dirs, names in os.walk(_ROOT / pkg):
            dirs[:] = [d for d in dirs if d != "__pycache__"]
            files.extend(os.path.join(root, n) for n in names if n.endswith(".py"))
    return sorted(files)


def _state(files) -> list[list]:
    out = []
    for f in sorted(files):
        st = os.stat(f)
        out.append([f, st.st_size, st.st_mtime_ns])
    return out


def entry_path(cache_dir: Path, path: Path, doors: bool) -> Path:
    """Where the entry of ``path`` (absolute, see :func:`input_files`) lives."""
    key = "\0".join([_VERSION, sys.version, str(path), "doors" if doors else ""])
    return Path(cache_dir) / "summary" / (hashlib.sha256(key.encode()).hexdigest()[:32] + ".json")


def lookup(cache_dir: Path, path: Path, doors: bool) -> str | None:
    """The cached stdout of ``twin load PATH --json`` when every input and code file is as
    recorded, else ``None``."""
    import json

    target, found = input_files(path)
    try:
        entry = json.loads(entry_path(cache_dir, target, doors).read_text(encoding="utf-8"))
        recorded = entry["files"]
        if not found <= {f for f, _, _ in recorded}:
            return None  # a new file in the site folder
        if _state(f for f, _, _ in recorded) != recorded:
            return None
        if _state(_code_files()) != entry["code"]:
            return None
        return entry["stdout"]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def store(cache_dir: Path, path: Path, doors: bool, stdout: str, extra_files=()) -> None:
    """Record ``stdout`` for ``path``; ``extra_files``: inputs outside what :func:`input_files`
    finds (files a site's manifest names outside its folder). Never raises for a cache it
    cannot write."""
    import json
    import tempfile

    target, found = input_files(path)
    try:
        entry = {"files": _state(found | {str(Path(f).absolute()) for f in extra_files}),
                 "code": _state(_code_files()), "stdout": stdout}
        dest = entry_path(cache_dir, target, doors)
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=dest.parent, suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(entry, fh, ensure_ascii=False)
        os.replace(tmp, dest)
    except OSError:
        pass


def _parse(argv: list[str]) -> tuple[str, bool, str | None] | None:
    """``(path, doors, cache dir)`` of ``load PATH --json [--doors] [--cache-dir DIR]``
    (any order), or ``None`` for anything else."""
    if not argv or argv[0] != "load":
        return None
    path = cache_dir = None
    as_json = doors = False
    rest = argv[1:]
    i = 0
    while i < len(rest):
        a = rest[i]
        if a == "--json":
            as_json = True
        elif a == "--doors":
            doors = True
        elif a == "--cache-dir" and i + 1 < len(rest) and not rest[i + 1].startswith("-"):
            cache_dir = rest[i + 1]
            i += 1
        elif a.startswith("--cache-dir=") and len(a) > len("--cache-dir="):
            cache_dir = a.split("=", 1)[1]
        elif a.startswith("-") or path is not None:
            return None  # --help, --no-cache, exports, a second path: the full command
        else:
            path = a
        i += 1
    if path is None or not as_json:
        return None
    return path, doors, cache_dir


def try_fast(argv: list[str]) -> bool:
    """Print the cached ``twin load --json`` answer for ``argv`` if there is a valid one."""
    parsed = _parse(argv)
    if parsed is None:
        return False
    path, doors, cache_dir = parsed
    if not os.path.exists(path):
        return False  # the full command names the error
    text = lookup(cache_dir_from_env(cache_dir), Path(path), doors)
    if text is None:
        return False
    sys.stdout.write(text)
    sys.stdout.flush()
    return True
