"""Closed-loop elevator benchmark: simulated device streams → daily rows → risk → orders.

Run from the repository root::

    python benchmarks/closed_loop.py [--site sample_sites/lakeside] [--weeks 26] [--warmup-days 42]
                                     [--seeds 1,2,3] [--thresholds 0.1,0.15,0.2,0.3] [--json]

For each seed, the site's elevator controllers (lakeside: 18) live through the fleet
degradation process (:func:`sim.elevators.simulate_fleet` with the controllers' ids); the
device simulator (:class:`live.simulator.DeviceSimulator`, accelerated: no heartbeats, as
fast as the CPU goes) streams their messages; the daily aggregation
(:class:`live.elevator_daily.ElevatorDays`) turns them into the day's rows; after each
day the service's job scores every elevator on the rows so far with the shipped model
(:func:`services.elevator_live.score_rows`) and opens a preventive work order for each
elevator at or above the threshold that has none open (an order stays open 7 days).

``age_years`` comes from the register (the fleet's commissioning date) and
``days_since_maintenance`` from the fleet's maintenance visits, as completed 电梯 work
orders would record them (the database path itself is covered by the tests).

Printed per threshold, over the evaluation period (after the warm-up, failures whose
7-day window before them lies inside it):

- ``preceded``: share of simulated failures (breakdowns) preceded by a preventive order
  dated 1–7 days earlier (the order's date is the scored day: the job files it right
  after that day ends) — target >= 70 %;
- ``false_per_10_elevator_months``: orders not followed by a failure within 7 days, per
  10 elevator-months of the evaluation period — target <= 1;

and the same policy run on the simulator's true 7-day failure probability (the oracle: no
model that sees telemetry can do better on average), the baseline of this run.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import sys
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from live.elevator_daily import ElevatorDays, finish_row  # noqa: E402
from live.kinds import KINDS  # noqa: E402
from live.registry import DeviceRegistry  # noqa: E402
from live.simulator import DeviceSimulator  # noqa: E402
from services.elevator_live import fleet_plan, score_rows  # noqa: E402
from sim.elevators import simulate_fleet  # noqa: E402
from twin.model import Community, Device  # noqa: E402

START = dt.date(2026, 1, 5)
ORDER_OPEN_DAYS = 7


def elevator_registry(site: Path) -> tuple[DeviceRegistry, list[str], str]:
    """The site's elevator controllers (from its device register) as a live registry."""
    manifest = json.loads((site / "site.json").read_text(encoding="utf-8"))
    tz = manifest.get("timezone") or "Asia/Shanghai"
    c = Community(name=manifest.get("name", site.name), crs=manifest.get("crs", "EPSG:4547"))
    with open(site / "registers" / "devices.csv", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            kind = KINDS.get(row["kind"])
            if kind is not None and kind.device_class == "elevator":
                c.devices.append(Device(row["id"], row["kind"], row["name"], None, None, None))
    ids = sorted(d.id for d in c.devices)
    if not ids:
        raise SystemExit(f"error: {site} has no elevator controllers")
    return DeviceRegistry.from_community(c), ids, tz


def stream_rows(reg, fleet, ids, tz: str, days: int, seed: int) -> list[dict]:
    """Stream ``days`` days of the controllers' messages; return every finished daily row."""
    zone = ZoneInfo(tz)
    sim = DeviceSimulator(reg, seed=seed, elevator_plan=fleet_plan(fleet), heartbeats=False,
                          kinds=[k.name for k in KINDS.values() if k.device_class == "elevator"], tz=zone)
    acc = ElevatorDays(zone, ids)
    age0 = {eid: float(fleet.telemetry.loc[fleet.telemetry["elevator_id"] == eid, "age_years"].iloc[0]) for eid in ids}
    dsm = fleet.telemetry.set_index(["elevator_id", fleet.telemetry["date"].dt.date])["days_since_maintenance"]
    t0 = dt.datetime.combine(START, dt.time(), zone).timestamp()
    rows, current, n = [], START, 0

    def close(day: dt.date) -> None:
        for r in acc.rows(day):
            eid = r["elevator_id"]
            rows.append(finish_row(r, age_years=round(age0[eid] + (day - START).days / 365.25, 2),
                                   days_since_maintenance=int(dsm[(eid, day)])))
        acc.forget_before(day)

    for t, topic, body in sim.messages(t0, days * 86400.0):
        _, _, dev, channel = topic.split("/")
        day = dt.datetime.fromtimestamp(t, zone).date()
        while day > current:
            close(current)
            current += dt.timedelta(days=1)
        acc.apply(dev, body["ts"], channel, {k: v for k, v in body.items() if k not in ("ts", "seq", "event")},
                  body.get("event"), body["seq"])
        n += 1
    close(current)
    stream_rows.messages = n
    return rows


def daily_risks(rows: list[dict], ids: list[str], days: int) -> np.ndarray:
    """P(failure within 7 days) of every elevator (row of ``ids``) as of every day."""
    from services.elevator_live import telemetry_frame
    from sim.elevators.features import compute_features
    from sim.elevators.model import default_model
    from sim.elevators.telemetry import to_grid

    model = default_model()
    grid = to_grid(telemetry_frame(rows))
    X = compute_features(grid)
    out = np.full((len(ids), days), np.nan)
    where = [grid.ids.index(eid) for eid in ids]
    for d in range(days):
        col = grid.day_index(START + dt.timedelta(days=d))
        if 0 <= col < X.shape[1]:
            reported = np.isfinite(grid.values["trips"][where, : col + 1]).any(axis=1)
            p = model.predict_proba(X[where, col, :])
            out[:, d] = np.where(reported, p, np.nan)
    return out


def run_policy(p: np.ndarray, threshold: float) -> np.ndarray:
    """Orders (elevator × day booleans): p >= threshold and no order of the elevator open."""
    orders = np.zeros(p.shape, dtype=bool)
    for e in range(p.shape[0]):
        last = -10 ** 9
        for d in range(p.shape[1]):
            if np.isfinite(p[e, d]) and p[e, d] >= threshold and d - last >= ORDER_OPEN_DAYS:
                orders[e, d] = True
                last = d
    return orders


def score(orders: np.ndarray, fail: np.ndarray, first: int, last: int) -> dict:
    """Preceded share and false orders per 10 elevator-months over days [first, last]."""
    n_e = fail.shape[0]
    failures = preceded = 0
    for e in range(n_e):
        for d in range(first + ORDER_OPEN_DAYS, last + 1):
            if fail[e, d]:
                failures += 1
                preceded += bool(orders[e, d - ORDER_OPEN_DAYS:d].any())
    n_orders = false = 0
    for e in range(n_e):
        for d in range(first, last - ORDER_OPEN_DAYS + 1):
            if orders[e, d]:
                n_orders += 1
                false += not fail[e, d + 1:d + 1 + ORDER_OPEN_DAYS].any()
    months = n_e * (last - ORDER_OPEN_DAYS - first + 1) / 30.44
    return {"failures": failures, "preceded": preceded,
            "preceded_share": preceded / failures if failures else float("nan"),
            "orders": n_orders, "false_orders": false,
            "false_per_10_elevator_months": 10 * false / months if months else float("nan"),
            "elevator_months": round(months, 2)}


def run_seed(site: Path, seed: int, weeks: int, warmup: int) -> dict:
    reg, ids, tz = elevator_registry(site)
    days = warmup + 7 * weeks
    t = time.perf_counter()
    fleet = simulate_fleet(len(ids), days + ORDER_OPEN_DAYS + 1, seed, start=START, ids=ids)
    rows = stream_rows(reg, fleet, ids, tz, days, seed)
    t_stream = time.perf_counter() - t
    t = time.perf_counter()
    p_model = daily_risks(rows, ids, days)
    # the features are causal (days <= the scored day): scoring every day from one feature
    # pass equals the daily job's scoring on the rows so far; checked on a few days
    check = 0.0
    for d in (warmup, (warmup + days) // 2, days - 1):
        day = START + dt.timedelta(days=d)
        for risk in score_rows([r for r in rows if r["date"] <= day.isoformat()], day):
            check = max(check, abs(risk.p_fail_7d - p_model[ids.index(risk.elevator_id), d]))
    if check > 1e-6:
        raise SystemExit(f"error: one-pass scoring differs from the daily job's by {check}")
    t_score = time.perf_counter() - t
    return {"seed": seed, "elevators": len(ids), "days": days, "messages": stream_rows.messages,
            "rows": len(rows), "stream_s": round(t_stream, 1), "score_s": round(t_score, 1),
            "p_model": p_model, "p_oracle": fleet.p7[:, :days], "fail": fleet.fail, "warmup": warmup}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--site", type=Path, default=ROOT / "sample_sites" / "lakeside")
    ap.add_argument("--weeks", type=int, default=26)
    ap.add_argument("--warmup-days", type=int, default=42)
    ap.add_argument("--seeds", default="1,2,3")
    ap.add_argument("--thresholds", default="0.1,0.15,0.2,0.3")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",")]
    thresholds = [float(x) for x in args.thresholds.split(",")]
    runs = []
    for seed in seeds:
        r = run_seed(args.site, seed, args.weeks, args.warmup_days)
        print(f"seed {seed}: {r['elevators']} elevators × {r['days']} days, {r['messages']} messages, "
              f"{r['rows']} daily rows; stream {r['stream_s']} s, scoring {r['score_s']} s", file=sys.stderr)
        runs.append(r)
    table = []
    for source in ("model", "oracle"):
        for th in thresholds:
            parts = [score(run_policy(r[f"p_{source}"], th), r["fail"], r["warmup"], r["days"] - 1) for r in runs]
            tot = {k: sum(p[k] for p in parts) for k in ("failures", "preceded", "orders", "false_orders", "elevator_months")}
            table.append({"scores": source, "threshold": th, **tot,
                          "preceded_share": round(tot["preceded"] / tot["failures"], 3) if tot["failures"] else None,
                          "false_per_10_elevator_months": round(10 * tot["false_orders"] / tot["elevator_months"], 2)})
    if args.json:
        print(json.dumps({"seeds": seeds, "weeks": args.weeks, "warmup_days": args.warmup_days, "results": table}))
        return
    print(f"{'scores':7s} {'thr':>5s} {'failures':>8s} {'preceded':>9s} {'share':>6s} {'orders':>6s} "
          f"{'false':>6s} {'false/10em':>10s}   (targets: share >= 0.70, false/10em <= 1)")
    for t in table:
        print(f"{t['scores']:7s} {t['threshold']:5.2f} {t['failures']:8d} {t['preceded']:9d} "
              f"{(t['preceded_share'] or 0):6.2f} {t['orders']:6d} {t['false_orders']:6d} "
              f"{t['false_per_10_elevator_months']:10.2f}")


if __name__ == "__main__":
    main()
