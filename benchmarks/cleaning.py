"""Cleaning benchmarks: simulated days per second (crowd flow, and the whole comparison).

Uses ``sample_sites/lakeside`` when the site loader and the sample are present, else a
community built in code (2 towers × 18 floors). Ratios are against the plain-Python
traffic reference measured in the same run.
Run: ``python benchmarks/cleaning.py [DAYS] [SITE_DIR]``.
"""

from __future__ import annotations

import datetime as dt
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sim.cleaning.areas import build_layout  # noqa: E402
from sim.cleaning.compare import compare_policies  # noqa: E402
from sim.cleaning.traffic import build_routes, simulate_traffic  # noqa: E402
from tests.cleaning import naive  # noqa: E402


def community(site: Path):
    try:
        from bim import load

        if site.is_dir():
            return load(site, cache_dir=ROOT / ".twin-cache"), site.name
    except ImportError:
        pass
    from tests.cleaning.community import make_community

    return make_community(2, 18, 4, cleaners=4), "built-in 2 towers x 18 floors"


def main() -> None:
    days = int(sys.argv[1]) if len(sys.argv) > 1 else 7
    site = Path(sys.argv[2]) if len(sys.argv) > 2 else ROOT / "sample_sites" / "lakeside"
    c, name = community(site)
    layout = build_layout(c)
    routes = build_routes(c, layout)
    n = len(layout.areas)
    start = dt.date(2025, 6, 2)
    simulate_traffic(routes, n, 1, 0, start)  # compile
    t0 = time.perf_counter()
    simulate_traffic(routes, n, days, 1, start)
    t_flow = time.perf_counter() - t0
    t0 = time.perf_counter()
    naive.accumulate(routes.ptr, routes.areas, routes.weekday, 1, 0, n)
    t_naive = time.perf_counter() - t0
    print(f"site: {name}; {n} areas, {routes.count} trip routes")
    print(f"crowd flow (numba): {days / t_flow:,.1f} simulated days/s; plain Python "
          f"{1 / t_naive:,.2f} days/s (x{t_naive * days / t_flow:,.0f})")
    t0 = time.perf_counter()
    r = compare_policies(c, days=days, seed=1)
    t_all = time.perf_counter() - t0
    runs = 3 + r["fixed"]["timetable"]["calibration_runs"]  # today, demand, plan + calibration
    print(f"whole comparison (traffic, soil, {runs} SimPy policy runs): {days} days in {t_all:.1f} s "
          f"= {runs * days / t_all:,.2f} policy-days/s")
    for p in ("fixed", "demand", "plan", "fixed_today"):
        x = r[p]
        print(f"  {p:7s} rounds {x['rounds']:5d}  labour {x['labor_hours']:7.1f} h  "
              f"over threshold {x['minutes_over_threshold']:7d} area-min")
    print(f"  demand vs fixed (equal labour): over threshold -{r['savings']['minutes_over_threshold_pct']}%; "
          f"vs today's timetable: rounds -{r['savings_vs_today']['rounds_pct']}%, "
          f"labour -{r['savings_vs_today']['labor_hours_pct']}%")


if __name__ == "__main__":
    main()
