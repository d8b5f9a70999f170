"""Live evacuation forecast: time from a smoke alarm to its forecast, per lakeside tower.

Run from the repository root::

    python benchmarks/forecast.py [--site sample_sites/lakeside] [--buildings B1,B2,B3,B4,B5]
                                  [--no-baseline] [--json]

The service's composition (database on SQLite, live ingestion on the embedded broker, the
forecast component; :mod:`services.forecast`) starts in this process; once its worker is
warm, for each tower a smoke detector's ``smoke: true`` reading on the middle storey is
injected through the ingestion pipeline and the clock runs until
``GET /api/alarms/{id}/forecast`` reports ``done``: the control room's wait. Target:
within 10 s for the 33-storey tower (B1).

Baseline, measured in the same run: a plain ``twin evacuate --site <site> --building <id>``
process of the same building (register occupancy at 02:00; its own process start, site
load and numba cache load included): ratio = forecast time / baseline time.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _baseline(site: Path, building: str, cache: Path) -> float:
    env = {**os.environ, "TWIN_CACHE_DIR": str(cache), "PYTHONPATH": str(ROOT)}
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "services", "evacuate", "--site", str(site), "--building", building,
                    "--out", os.devnull], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--site", type=Path, default=ROOT / "sample_sites" / "lakeside")
    ap.add_argument("--buildings", default="B1,B2,B3,B4,B5")
    ap.add_argument("--no-baseline", action="store_true")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)

    from fastapi.testclient import TestClient

    from services.app import create_app
    from services.cli.load import load_community
    from services.dbcomponent import DatabaseComponent
    from services.forecast import ForecastComponent
    from services.live_component import LiveComponent
    from services.settings import Settings

    tmp = Path(tempfile.mkdtemp(prefix="forecast-bench-"))
    cache = Path(os.environ.get("TWIN_CACHE_DIR") or tmp / "cache")
    settings = Settings(db_url=f"sqlite:///{tmp / 'twin.sqlite'}", data_dir=tmp / "data", cache_dir=cache)
    community = load_community(args.site, cache_dir=cache, show_progress=False)
    live = LiveComponent(settings, community)
    forecasts = ForecastComponent(live, community, check_every_s=3600)
    app = create_app(settings, community=community, components=[DatabaseComponent(), live, forecasts])
    rows = []
    with TestClient(app):
        t0 = time.perf_counter()
        while forecasts.warm_s is None and time.perf_counter() - t0 < 300:
            time.sleep(0.05)
        warm = time.perf_counter() - t0
        for bid in args.buildings.split(","):
            b = next(b for b in community.buildings if b.id == bid)
            storeys = sorted(b.storeys, key=lambda s: s.elevation_m)
            mid = storeys[len(storeys) // 2].id
            dev = next(d for d in community.devices if d.kind == "smoke_detector" and d.storey_id == mid)
            t_alarm = time.perf_counter()
            topic = f"twin/{community.name}/{dev.id}/telemetry"
            assert live.pipeline.handle(topic, json.dumps({"ts": time.time(), "smoke": True}).encode()) == "applied"
            alarm = next(a for a in live.book.list("open") if a.device_id == dev.id)
            while True:
                fc = forecasts.get(alarm.id)
                if fc["status"] in ("done", "failed"):
                    break
                time.sleep(0.02)
            took = time.perf_counter() - t_alarm
            rows.append({"building": bid, "storeys": len(storeys), "people": fc["people"],
                         "status": fc["status"], "evacuation_time_s": fc["evacuation_time_s"],
                         "alarm_to_forecast_s": round(took, 2), "engine_wall_s": fc.get("engine_wall_s"),
                         "scenario_s": fc.get("scenario_s"), "worker_s": fc.get("worker_s"),
                         "keep_clear": (fc.get("keep_clear") or {}).get("name"),
                         "queueing_stairs": [s["name"] for s in fc["stairs"] if s["queues"]],
                         "queueing_exits": [e["name"] for e in fc["exits"] if e["queues"]]})
    if not args.no_baseline:
        for r in rows:
            r["baseline_evacuate_s"] = round(_baseline(args.site, r["building"], cache), 2)
            r["ratio"] = round(r["alarm_to_forecast_s"] / r["baseline_evacuate_s"], 3)
    out = {"worker_warm_up_s": round(warm, 2), "target_s": 10.0, "towers": rows,
           "load_average": os.getloadavg()[0]}
    if args.json:
        print(json.dumps(out, ensure_ascii=False, indent=2))
    else:
        print(f"worker warm-up (at service start): {warm:.2f} s; load average {out['load_average']:.1f}")
        print(f"{'tower':6} {'storeys':>7} {'people':>6} {'evac s':>8} {'alarm→forecast s':>17} "
              f"{'baseline s':>10} {'ratio':>6}  keep clear / queueing stairs")
        for r in rows:
            print(f"{r['building']:6} {r['storeys']:>7} {r['people']:>6} {r['evacuation_time_s'] or 0:>8.1f} "
                  f"{r['alarm_to_forecast_s']:>17.2f} {r.get('baseline_evacuate_s', float('nan')):>10.2f} "
                  f"{r.get('ratio', float('nan')):>6.2f}  {r['keep_clear']} / {', '.join(r['queueing_stairs']) or '-'}")
    return 0 if all(r["status"] == "done" for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
