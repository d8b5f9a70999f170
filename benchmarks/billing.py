"""Benchmark: the monthly bill run for 100,000 units with a year of monthly readings.

Builds a fresh database (SQLite file, and PostgreSQL when one answers on 127.0.0.1:5432
or at TWIN_BENCH_PG_URL), fills 100,000 billing units (90 % apartments, 5 % shops, 5 %
parking) and 13 months of cumulative electricity and water readings (2.6 million rows),
then times ``run_bills`` for December. Prints the time, the rate (bills/s) and the ratio
to a baseline measured in the same run (reading every unit and reading row the run needs
with one plain SELECT each). Target: ≤ 15 s per run.

    python benchmarks/billing.py [--units 100000] [--only sqlite|postgresql]
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
import uuid
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sqlalchemy as sa  # noqa: E402

from services.billing.models import Bill, MeterReading, Unit  # noqa: E402
from services.billing.rules import load_rules  # noqa: E402
from services.billing.run import _bulk_insert, run_bills  # noqa: E402
from services.db import Database  # noqa: E402

MONTHS = ["2025-12"] + [f"2026-{m:02d}" for m in range(1, 13)]


def fill(db: Database, n_units: int) -> None:
    rng = random.Random(42)
    units, readings = [], []
    for i in range(n_units):
        kind = "parking" if i % 20 == 0 else "shop" if i % 20 == 1 else "apartment"
        b = f"B{i // 720 + 1:03d}"
        units.append({"id": f"U{i:06d}", "kind": kind, "building_id": b, "storey_id": None, "space_id": None,
                      "area_m2": Decimal(rng.randint(6000, 14000)) / 100 if kind != "parking" else Decimal("12.50"),
                      "floor": 1 + (i % 720) // 40, "building_type": "high_rise",
                      "level": "garage" if kind == "parking" else None, "owner": None, "phone": None, "email": None})
        if kind == "parking":
            continue
        e = w = Decimal(0)
        for m in MONTHS:
            e += Decimal(rng.randint(80, 600))
            w += Decimal(rng.randint(5, 30))
            readings.append({"unit_id": f"U{i:06d}", "kind": "electricity", "month": m, "reading": e, "source": "csv"})
            readings.append({"unit_id": f"U{i:06d}", "kind": "water", "month": m, "reading": w, "source": "csv"})
    with db.transaction() as s:
        _bulk_insert(s, Unit.__table__, units)
        _bulk_insert(s, MeterReading.__table__, readings)
    print(f"  filled {len(units)} units, {len(readings)} readings", file=sys.stderr)


def baseline(db: Database) -> float:
    t = time.perf_counter()
    with db.engine.connect() as c:
        c.execute(sa.select(Unit.__table__)).all()
        c.execute(sa.select(MeterReading.__table__).where(MeterReading.month.in_(["2026-11", "2026-12", "2025-12"]))).all()
    return time.perf_counter() - t


def bench(name: str, url: str, n_units: int) -> dict:
    db = Database(url)
    db.migrate()
    t = time.perf_counter()
    fill(db, n_units)
    fill_s = time.perf_counter() - t
    rules = load_rules()
    base = baseline(db)
    t = time.perf_counter()
    with db.transaction() as s:
        preview = run_bills(s, rules, "2026-12", preview=True)
    preview_s = time.perf_counter() - t
    t = time.perf_counter()
    with db.transaction() as s:
        result = run_bills(s, rules, "2026-12")
    run_s = time.perf_counter() - t
    t = time.perf_counter()
    with db.transaction() as s:
        again = run_bills(s, rules, "2026-12")
    again_s = time.perf_counter() - t
    with db.engine.connect() as c:
        assert c.scalar(sa.select(sa.func.count()).select_from(Bill)) == n_units
    assert again.created == 0 and again.total == result.total == preview.total
    db.dispose()
    return {"db": name, "units": n_units, "fill_s": round(fill_s, 1), "baseline_s": round(base, 2),
            "preview_s": round(preview_s, 2), "run_s": round(run_s, 2), "rerun_s": round(again_s, 2),
            "bills_per_s": round(n_units / run_s), "run_vs_baseline": round(run_s / base, 1),
            "total": str(result.total)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--units", type=int, default=100_000)
    ap.add_argument("--only", choices=["sqlite", "postgresql"])
    args = ap.parse_args()
    results = []
    if args.only in (None, "sqlite"):
        with tempfile.TemporaryDirectory() as tmp:
            results.append(bench("sqlite", f"sqlite:///{tmp}/bench.sqlite", args.units))
    if args.only in (None, "postgresql"):
        admin_url = os.environ.get("TWIN_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
        name = f"twin_bench_{uuid.uuid4().hex[:8]}"
        try:
            admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
            with admin.connect() as c:
                c.execute(sa.text(f'CREATE DATABASE "{name}"'))
        except sa.exc.OperationalError as exc:
            print(f"PostgreSQL not available: {str(exc).splitlines()[0]}", file=sys.stderr)
        else:
            try:
                results.append(bench("postgresql", admin_url.rsplit("/", 1)[0] + f"/{name}", args.units))
            finally:
                with admin.connect() as c:
                    c.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    for r in results:
        print(" ".join(f"{k}={v}" for k, v in r.items()))


if __name__ == "__main__":
    main()
