"""Benchmark of the site loader: cold vs warm loads of whole site folders.

For each site folder (default: ``sample_sites/*`` when present, plus a synthetic GIS-only
site of 24 slab and tower blocks written to a temporary folder) print:

- ``cold_s``: :func:`bim.load` with an empty cache (IFC reader cache empty too);
- ``ifc_warm_s``: the site cache entry removed but the per-file IFC cache warm (the cost of
  composing: GIS, placement, extrusion, registers);
- ``warm_s``: the same call again (site cache hit: hash the inputs, unpickle);
- ``cold/warm`` (target >= 10), also as CPU time of this process (steadier on a busy
  machine).

Each time is the best of ``--repeat`` runs (the machine is shared and noisy); imports are
done before timing.

Usage::

    python benchmarks/load_site.py [--site DIR ...] [--repeat 3] [--json]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import bim  # noqa: E402
import bim.gis  # noqa: E402,F401  (import cost outside the timings)


def synthetic_site(root: Path, blocks: int = 24) -> Path:
    """Write a GIS-only site: ``blocks`` footprints (6, 18, 26 and 33 storeys) in EPSG:4547."""
    import geopandas as gpd
    from shapely.geometry import box

    rows = []
    for i in range(blocks):
        floors = (6, 18, 26, 33)[i % 4]
        x0, y0 = 500000 + (i % 6) * 70.0, 3380000 + (i // 6) * 40.0
        rows.append({"id": f"S{i + 1}", "name": f"Block {i + 1}", "floors": floors,
                     "height_m": floors * 2.9, "geometry": box(x0, y0, x0 + 48, y0 + 14)})
    (root / "gis").mkdir(parents=True, exist_ok=True)
    gpd.GeoDataFrame(rows, crs="EPSG:4547").to_file(root / "gis" / "buildings.geojson")
    (root / "site.json").write_text(json.dumps(
        {"name": "synthetic", "crs": "EPSG:4547", "layers": {"buildings": "gis/buildings.geojson"}}))
    return root


def _timed(fn):
    """Return ``((wall s, CPU s of this process), fn())``."""
    t0, c0 = time.perf_counter(), time.process_time()
    value = fn()
    return (time.perf_counter() - t0, time.process_time() - c0), value


def measure(site: Path, repeat: int) -> dict:
    """Return the figures of one site folder (best of ``repeat``)."""
    cold, mid, warm = [], [], []
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as cache:
            t, c1 = _timed(lambda: bim.load(site, cache_dir=cache))
            cold.append(t)
            shutil.rmtree(Path(cache) / "site")
            t, _ = _timed(lambda: bim.load(site, cache_dir=cache))
            mid.append(t)
            t, c2 = _timed(lambda: bim.load(site, cache_dir=cache))
            warm.append(t)
            assert c2.counts() == c1.counts()
    cold_s, mid_s, warm_s = (min(t[0] for t in ts) for ts in (cold, mid, warm))
    cold_cpu, warm_cpu = min(t[1] for t in cold), min(t[1] for t in warm)
    return {"site": site.name, "counts": c1.counts(), "cold_s": cold_s, "ifc_warm_s": mid_s,
            "warm_s": warm_s, "cold_over_warm": cold_s / warm_s if warm_s > 0 else None,
            "cold_cpu_s": cold_cpu, "warm_cpu_s": warm_cpu,
            "cold_over_warm_cpu": cold_cpu / warm_cpu if warm_cpu > 0 else None}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--site", type=Path, action="append", default=[], help="a site folder")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json", action="store_true", help="one JSON document on stdout")
    args = ap.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        sites = list(args.site)
        if not sites:
            sites = sorted(p for p in (REPO / "sample_sites").glob("*") if (p / "site.json").is_file())
            sites.append(synthetic_site(Path(tmp) / "synthetic"))
        for site in sites:
            print(f"measuring {site.name} ...", file=sys.stderr)
            rows.append(measure(site, args.repeat))
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    print(f"{'site':12} {'buildings':>9} {'storeys':>7} {'spaces':>7} {'cold s':>8} "
          f"{'ifc-warm s':>10} {'warm s':>8} {'cold/warm':>9} {'cpu cold/warm':>13}")
    for r in rows:
        c = r["counts"]
        print(f"{r['site']:12} {c['buildings']:9d} {c['storeys']:7d} {c['spaces']:7d} "
              f"{r['cold_s']:8.3f} {r['ifc_warm_s']:10.3f} {r['warm_s']:8.4f} {r['cold_over_warm'] or 0:9.1f} "
              f"{r['cold_over_warm_cpu'] or 0:13.1f}")


if __name__ == "__main__":
    main()
