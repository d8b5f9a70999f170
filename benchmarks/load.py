"""Benchmark of the IFC reader: bare geometry iteration vs our cold and warm loads.

For each IFC file (default: the shared sample files) print:

- ``bare_s``: ``ifcopenshell.open`` + the geometry iterator over the same products the
  reader triangulates, same settings and kernel, doing nothing with the shapes;
- ``bare_all_s``: the same over every product of the file (the iterator's default);
- ``cold_s``: :func:`bim.load_ifc` with an empty cache; ``warm_s``: the same call again;
- ratios ``cold/bare`` (target <= 1.5) and ``cold/warm`` (target >= 10).

Each time is the best of ``--repeat`` runs (the machine is shared and noisy).

Usage::

    python benchmarks/load.py [FILE.ifc ...] [--repeat 3] [--json]
    python benchmarks/load.py --site DIR     # every ifc/*.ifc of a site folder
"""

from __future__ import annotations

import argparse
import os
import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bim import load_ifc  # noqa: E402
from bim.meshes import FAST_KERNEL, geom_settings  # noqa: E402

DEFAULT_DIR = Path(os.environ.get("TWIN_SHARED_DIR") or REPO.parent / "shared") / "ifc"


def _iterate(f, include) -> int:
    import ifcopenshell.geom

    it = ifcopenshell.geom.iterator(geom_settings(), f, 1, include=include,
                                    geometry_library=FAST_KERNEL)
    n = 0
    if include is not None and not include:
        return 0
    if it.initialize():
        while True:
            it.get()
            n += 1
            if not it.next():
                break
    return n


def bare(path: Path, subset: bool) -> tuple[float, int]:
    """Open + iterate (the reader's products when ``subset``, else all); seconds, shapes."""
    import ifcopenshell

    from bim.extract import geometry_plan

    ids = [e.id() for e in geometry_plan(ifcopenshell.open(str(path)))] if subset else None
    t0 = time.perf_counter()
    f = ifcopenshell.open(str(path))
    n = _iterate(f, [f.by_id(i) for i in ids] if ids is not None else None)
    return time.perf_counter() - t0, n


def measure(path: Path, repeat: int) -> dict:
    """Return the figures of one file (best of ``repeat``)."""
    bare_s, n = min(bare(path, True) for _ in range(repeat))
    bare_all_s, n_all = min(bare(path, False) for _ in range(repeat))
    cold, warm = [], []
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as cache:
            t0 = time.perf_counter()
            m1 = load_ifc(path, cache_dir=cache)
            cold.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            m2 = load_ifc(path, cache_dir=cache)
            warm.append(time.perf_counter() - t0)
            assert m2.from_cache and m2.community.counts() == m1.community.counts()
    cold_s, warm_s = min(cold), min(warm)
    return {"file": path.name, "shapes": n, "shapes_all": n_all, "bare_s": bare_s,
            "bare_all_s": bare_all_s, "cold_s": cold_s, "warm_s": warm_s,
            "cold_over_bare": cold_s / bare_s if bare_s > 0 else None,
            "cold_over_warm": cold_s / warm_s if warm_s > 0 else None,
            "counts": m1.community.counts()}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("files", nargs="*", type=Path)
    ap.add_argument("--site", type=Path, help="a site folder: benchmark its ifc/*.ifc")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json", action="store_true", help="one JSON document on stdout")
    args = ap.parse_args(argv)
    files = list(args.files)
    if args.site:
        files += sorted((args.site / "ifc").glob("*.ifc"))
    if not files:
        files = sorted(DEFAULT_DIR.glob("*.ifc"))
    rows = []
    for path in files:
        print(f"measuring {path.name} ...", file=sys.stderr)
        rows.append(measure(path, args.repeat))
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    print(f"{'file':32} {'shapes':>6} {'bare s':>8} {'bare all s':>10} {'cold s':>8} "
          f"{'warm s':>8} {'cold/bare':>9} {'cold/warm':>9}")
    for r in rows:
        print(f"{r['file']:32} {r['shapes']:6d} {r['bare_s']:8.3f} {r['bare_all_s']:10.3f} "
              f"{r['cold_s']:8.3f} {r['warm_s']:8.4f} {r['cold_over_bare'] or 0:9.2f} "
              f"{r['cold_over_warm'] or 0:9.1f}")


if __name__ == "__main__":
    main()
