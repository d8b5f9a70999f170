"""Drill report benchmark: the time to make a drill's PDF report against the drill's run time.

A whole-site drill of ``sample_sites/lakeside`` at night (one run, trajectories kept) goes
through :class:`services.drills.DrillJobs` as ``POST /api/drills`` runs it (process pool,
spawn); then ``DrillJobs.report`` makes its PDF (render, tables, flow curves). Printed: the
drill's wall time (submit → done), the report's wall and CPU time, the ratio report / drill,
the page count and the PDF size. ``--png DIR`` also writes the render and every page as PNGs
(the docs' screenshots come from there).

Usage: ``python benchmarks/drill_report.py [--site sample_sites/lakeside] [--png DIR] [--repeat 2]``.
Machines are shared and noisy: read the ratio, not absolute times.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--site", default=str(REPO / "sample_sites" / "lakeside"))
    ap.add_argument("--time-of-day", default="02:00")
    ap.add_argument("--png", default=None, help="folder for the render and page PNGs")
    ap.add_argument("--repeat", type=int, default=2, help="report repeats (the first includes imports)")
    a = ap.parse_args()

    import bim
    from services.drills import DrillJobs, check_request

    community = bim.load(Path(a.site))
    with tempfile.TemporaryDirectory() as tmp:
        jobs = DrillJobs(Path(tmp) / "drills", community)
        try:
            plan = check_request(community, {"time_of_day": a.time_of_day})
            t0 = time.perf_counter()
            drill_id = jobs.submit(plan)["id"]
            while jobs.get(drill_id)["status"] in ("queued", "running"):
                time.sleep(0.2)
            drill_s = time.perf_counter() - t0
            job = jobs.get(drill_id)
            if job["status"] != "done":
                raise SystemExit(f"drill failed: {job.get('error')}")
            rows = []
            for k in range(a.repeat):
                out = Path(tmp) / f"report-{k}.pdf"
                w0, c0 = time.perf_counter(), time.process_time()
                info = jobs.write_report(drill_id, out)
                rows.append((time.perf_counter() - w0, time.process_time() - c0, out.stat().st_size, len(info["pages"])))
            if a.png:
                from services.drill_report import write_report

                png = Path(a.png)
                scen = jobs.store.get(f"api-{drill_id}")["scenario"]
                traj = json.loads((jobs.store.root / f"api-{drill_id}" / "trajectories.json").read_text())
                write_report(Path(tmp) / "png.pdf", result=job["result"], scenario=scen, trajectories=traj,
                             community=community, meta={"drill": drill_id, "created": job["created"],
                                                        "time_of_day": a.time_of_day},
                             render_png=png / "render.png", pages_png=png)
        finally:
            jobs.close()
    res = job["result"]
    print(f"site {Path(a.site).name}: {res['evacuated']} people, {len(json.loads(json.dumps(res['buildings'])))} buildings, "
          f"evacuation time {res['evacuation_time_s']} s")
    print(f"drill (submit → done, one run with trajectories): {drill_s:.1f} s wall")
    for k, (w, c, size, pages) in enumerate(rows):
        print(f"report {k + 1}: {w:.2f} s wall, {c:.2f} s CPU, {pages} pages, {size / 1024:.0f} KiB; "
              f"report / drill = {w / drill_s:.3f}")


if __name__ == "__main__":
    main()
