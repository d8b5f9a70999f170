"""Benchmark of the IFC reader: bare geometry iteration vs our cold and warm loads.

For each IFC file (default: the shared sample files) print:

- ``bare``: ``ifcopenshell.open`` + the geometry iterator over the same products the
  reader triangulates, same settings and kernel, doing nothing with the shapes;
- ``all``: the same over every product of the file (the iterator's default);
- ``cold``: :func:`bim.load_ifc` with an empty cache; ``warm``: the same call again;
- ratios ``cold/bare`` (target <= 1.5), ``cold/all`` and ``cold/warm`` (target >= 10).

Each figure is the best of ``--repeat`` interleaved rounds; ratios use CPU (process)
seconds, which other processes on a shared, noisy machine disturb less than wall time.
``cold/bare med`` is the median over the rounds of each round's own cold/bare ratio (bare
and cold measured back to back, so both see the same machine load), and ``wall`` the
cold/bare ratio of best wall seconds. The reader runs the iterator on one thread, as bare.

Usage::

    python benchmarks/load.py [FILE.ifc ...] [--repeat 3] [--json]
    python benchmarks/load.py --site DIR     # every ifc/*.ifc of a site folder
    python benchmarks/load.py --tower 30     # plus a generated 30-storey, 600-room file
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


def _clock() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def _since(t: tuple[float, float]) -> tuple[float, float]:
    return time.perf_counter() - t[0], time.process_time() - t[1]


def bare(path: Path, ids: list[int] | None) -> tuple[tuple[float, float], int]:
    """Open + iterate (the products ``ids``, or all); (wall s, cpu s) and shape count."""
    import ifcopenshell

    t = _clock()
    f = ifcopenshell.open(str(path))
    n = _iterate(f, [f.by_id(i) for i in ids] if ids is not None else None)
    return _since(t), n


def measure(path: Path, repeat: int) -> dict:
    """Return the figures of one file: the best of ``repeat`` interleaved rounds.

    Wall and CPU (process) seconds are both kept; ratios use CPU seconds, which other
    processes on a shared machine disturb less than wall time.
    """
    import ifcopenshell

    from bim.extract import geometry_plan

    ids = [e.id() for e in geometry_plan(ifcopenshell.open(str(path)))]
    rounds = []
    for _ in range(repeat):
        (b, n), (ball, n_all) = bare(path, ids), bare(path, None)
        with tempfile.TemporaryDirectory() as cache:
            t = _clock()
            m1 = load_ifc(path, cache_dir=cache)
            cold = _since(t)
            t = _clock()
            m2 = load_ifc(path, cache_dir=cache)
            warm = _since(t)
            assert m2.from_cache and m2.community.counts() == m1.community.counts()
        rounds.append((b, ball, cold, warm))
    per_round = sorted(r[2][1] / r[0][1] for r in rounds if r[0][1] > 0)
    best = [tuple(min(r[k][j] for r in rounds) for j in (0, 1)) for k in range(4)]
    (bare_w, bare_c), (ball_w, ball_c), (cold_w, cold_c), (warm_w, warm_c) = best
    return {"file": path.name, "shapes": n, "shapes_all": n_all,
            "bare_s": bare_w, "bare_all_s": ball_w, "cold_s": cold_w, "warm_s": warm_w,
            "bare_cpu_s": bare_c, "bare_all_cpu_s": ball_c, "cold_cpu_s": cold_c, "warm_cpu_s": warm_c,
            "cold_over_bare": cold_c / bare_c if bare_c > 0 else None,
            "cold_over_bare_median": per_round[len(per_round) // 2] if per_round else None,
            "cold_over_bare_wall": cold_w / bare_w if bare_w > 0 else None,
            "cold_over_bare_all": cold_c / ball_c if ball_c > 0 else None,
            "cold_over_warm": cold_c / warm_c if warm_c > 0 else None,
            "counts": m1.community.counts()}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("files", nargs="*", type=Path)
    ap.add_argument("--site", type=Path, help="a site folder: benchmark its ifc/*.ifc")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--tower", type=int, default=0, metavar="STOREYS",
                    help="also benchmark a generated tower of STOREYS x 20 rooms (doors, sensors)")
    ap.add_argument("--json", action="store_true", help="one JSON document on stdout")
    args = ap.parse_args(argv)
    files = list(args.files)
    if args.site:
        files += sorted((args.site / "ifc").glob("*.ifc"))
    if not files:
        files = sorted(DEFAULT_DIR.glob("*.ifc"))
    tmp = tempfile.TemporaryDirectory()
    if args.tower > 0:
        sys.path.insert(0, str(REPO / "tests" / "bim"))
        from ifc_synth import Spec, build

        tower = Path(tmp.name) / f"tower_{args.tower}x20.ifc"
        print(f"generating {tower.name} ...", file=sys.stderr)
        build(Spec(storeys=args.tower, rooms=20), tower)
        files.append(tower)
    rows = []
    for path in files:
        print(f"measuring {path.name} ...", file=sys.stderr)
        rows.append(measure(path, args.repeat))
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    print(f"{'file':28} {'shapes':>6} {'bare s':>7} {'all s':>7} {'cold s':>7} {'warm s':>7} "
          f"{'cold/bare':>9} {'med':>5} {'wall':>5} {'cold/all':>8} {'cold/warm':>9}"
          "   (ratios of CPU seconds but wall)")
    for r in rows:
        print(f"{r['file']:28} {r['shapes']:6d} {r['bare_s']:7.3f} {r['bare_all_s']:7.3f} "
              f"{r['cold_s']:7.3f} {r['warm_s']:7.4f} {r['cold_over_bare'] or 0:9.2f} "
              f"{r['cold_over_bare_median'] or 0:5.2f} {r['cold_over_bare_wall'] or 0:5.2f} "
              f"{r['cold_over_bare_all'] or 0:8.2f} {r['cold_over_warm'] or 0:9.1f}")


if __name__ == "__main__":
    main()
