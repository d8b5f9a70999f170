"""``twin elevators``: simulate fleets, train, predict and evaluate 7-day failure risk."""

from __future__ import annotations

import datetime as dt
import re
import time
from pathlib import Path
from typing import Optional

import typer

from services.cli.common import (community_database, community_live_store, community_option, community_site,
                                 err_console, print_json, resolve_community)

__all__ = ["register"]

elevators = typer.Typer(help="Elevator-failure prediction (7-day risk) on telemetry CSVs.",
                        no_args_is_help=True)


def _date(value: str, name: str) -> dt.date:
    from sim.elevators.errors import ParameterError

    try:
        return dt.date.fromisoformat(value.strip()[:10])
    except ValueError:
        raise ParameterError(f"{name}={value!r} is not a date (YYYY-MM-DD)") from None


@elevators.command()
def simulate(
    fleet: int = typer.Option(..., "--fleet", help="Number of elevators."),
    days: int = typer.Option(..., "--days", help="Number of days."),
    seed: int = typer.Option(0, "--seed", help="Random seed (>= 0)."),
    out: Path = typer.Option(..., "--out", help="Folder for telemetry.csv and failures.csv."),
    start: str = typer.Option("2023-01-01", "--start", help="Date of the first day."),
    json_out: bool = typer.Option(False, "--json", help="Print a JSON summary."),
) -> None:
    """Simulate a fleet; write telemetry.csv, failures.csv (and truth.csv: oracle p7)."""
    import numpy as np
    import pandas as pd

    from sim.elevators.simulator import simulate_fleet
    from sim.elevators.telemetry import write_csv

    t0 = time.perf_counter()
    sim = simulate_fleet(fleet, days, seed, start=_date(start, "start"))
    out.mkdir(parents=True, exist_ok=True)
    err_console.print(f"simulated {fleet} elevators × {days} days in "
                      f"{time.perf_counter() - t0:.2f} s; writing {out}")
    write_csv(sim.telemetry, out / "telemetry.csv")
    write_csv(sim.failures, out / "failures.csv")
    truth = pd.DataFrame({"elevator_id": sim.telemetry["elevator_id"],
                          "date": sim.telemetry["date"], "p_fail_7d": sim.p7.reshape(-1)})
    write_csv(truth, out / "truth.csv")
    summary = {"elevators": fleet, "days": days, "seed": seed,
               "failures": int(sim.fail.sum()), "telemetry_rows": int(len(sim.telemetry)),
               "failures_per_elevator_year": float(sim.fail.sum() / fleet / (days / 365.25)),
               "files": [str(out / n) for n in ("telemetry.csv", "failures.csv", "truth.csv")],
               "mean_true_p7": float(np.mean(sim.p7))}
    if json_out:
        print_json(summary)


@elevators.command()
def train(
    telemetry: Path = typer.Option(..., "--telemetry", help="Telemetry CSV."),
    failures: Path = typer.Option(..., "--failures", help="Failures CSV (elevator_id, date)."),
    model: Path = typer.Option(..., "--model", help="Model file to write."),
    seed: int = typer.Option(0, "--seed", help="Seed of the elevator split and the fit."),
    json_out: bool = typer.Option(False, "--json", help="Print a JSON summary."),
) -> None:
    """Train the 7-day risk model (gradient boosting + isotonic calibration)."""
    from sim.elevators.model import RiskModel
    from sim.elevators.telemetry import read_failures, read_telemetry

    tel = read_telemetry(telemetry)
    fails = read_failures(failures)
    err_console.print(f"training on {len(tel)} rows, {len(fails)} failures ...")
    fitted = RiskModel.fit(tel, fails, seed=seed)
    model.parent.mkdir(parents=True, exist_ok=True)
    fitted.save(model)
    err_console.print(f"model written to {model}")
    if json_out:
        print_json({"model": str(model), **fitted.meta})


@elevators.command()
def predict(
    telemetry: Path = typer.Option(..., "--telemetry", help="Telemetry CSV."),
    as_of: str = typer.Option(..., "--as-of", help="Score as of this date (YYYY-MM-DD)."),
    model: Optional[Path] = typer.Option(None, "--model", help="Model file (default: shipped)."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Print P(failure within 7 days) per elevator: [{"elevator_id", "p_fail_7d"}]."""
    from sim.elevators.model import RiskModel, default_model
    from sim.elevators.telemetry import read_telemetry

    day = _date(as_of, "as_of")
    fitted = RiskModel.load(model) if model else default_model()
    scores = fitted.predict(read_telemetry(telemetry), day)
    rows = [{"elevator_id": e, "p_fail_7d": round(float(p), 6)}
            for e, p in zip(scores["elevator_id"], scores["p_fail_7d"])]
    if json_out:
        print_json(rows)
        return
    for r in sorted(rows, key=lambda r: -r["p_fail_7d"]):
        typer.echo(f"{r['elevator_id']}\t{r['p_fail_7d']:.4f}")


@elevators.command()
def score(
    telemetry: Path = typer.Option(..., "--telemetry", help="Telemetry CSV."),
    as_of: str = typer.Option(..., "--as-of", help="Score as of this date (YYYY-MM-DD)."),
    model: Optional[Path] = typer.Option(None, "--model", help="Model file (default: shipped)."),
    threshold: float = typer.Option(0.5, "--threshold", help="Risk that opens a work order (default: the model's DEFAULT_THRESHOLD)."),
    log: Optional[Path] = typer.Option(None, "--log", help="Risk log JSON to keep the day in."),
    open_work_orders: bool = typer.Option(
        False, "--open-work-orders",
        help="File the requests as preventive work orders in TWIN_DB_URL (once per elevator and day)."),
    site: Optional[Path] = typer.Option(
        None, "--site", help="Site folder (or community JSON) mapping elevators to devices; default TWIN_SITE."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
    community_id: Optional[str] = community_option(),
) -> None:
    """Daily scoring job: risks (kept in --log) and preventive work-order requests."""
    from dataclasses import asdict

    from sim.elevators.model import RiskModel, default_model
    from sim.elevators.risk import RiskLog, score_day, work_order_requests
    from sim.elevators.telemetry import read_telemetry

    day = _date(as_of, "as_of")
    fitted = RiskModel.load(model) if model else default_model()
    risks = score_day(fitted, read_telemetry(telemetry), day)
    orders = work_order_requests(risks, threshold)
    if log:
        RiskLog(log).write_day(day, risks)
    result = {"date": day.isoformat(), "risks": [asdict(r) for r in risks],
              "work_orders": orders}
    if open_work_orders:
        from services.cli.cleaning import file_requests, load_site_community

        community = load_site_community(community_site(community_id, site))
        result.update(file_requests(community, orders, community_id))
    if json_out:
        print_json(result)
    else:
        typer.echo(f"{len(risks)} elevators scored, {len(orders)} work order request(s)")
        if open_work_orders:
            typer.echo(f"work orders opened: {result['work_order_ids']}; already open: "
                       f"{len(result['work_orders_existing'])}; skipped: {len(result['work_orders_skipped'])}")


@elevators.command()
def daily(
    site: Optional[Path] = typer.Option(None, "--site", help="Site folder (or community JSON); default TWIN_SITE."),
    date: str = typer.Option(..., "--date", help="Local day of the site (YYYY-MM-DD)."),
    json_out: bool = typer.Option(False, "--json", help="Print a JSON array of rows."),
    community_id: Optional[str] = community_option(),
) -> None:
    """Daily rows (the telemetry CSV contract) from the live history of TWIN_DB_URL.

    ``--community CID``: that community's site (unless ``--site``) and work orders.

    Trips and door cycles from counter increases, reopens and faults as events, the
    diagnostics as daily means, age from the register, days since the last completed
    电梯 work order; one row per elevator controller that reported that day.
    """
    from services.cli.cleaning import load_site_community
    from services.elevator_live import daily_rows, site_timezone
    from services.settings import get_settings
    from live.elevator_daily import ROW_COLUMNS
    from live.store import LiveStore

    if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", date.strip()):
        from sim.elevators.errors import ParameterError

        raise ParameterError(f"date={date!r} must be a day YYYY-MM-DD (ASCII digits)")
    day = _date(date, "date")
    settings = get_settings()
    site = community_site(community_id, site)
    community = load_site_community(site)
    tz = site_timezone(community)
    cid = resolve_community(community_id, site if community_id is not None else None)
    db = community_database(cid)
    store = community_live_store(cid, site) or LiveStore(settings.resolved_db_url)  # several sites: its own
    try:
        db.migrate()
        rows = daily_rows(store, db, community, day, tz)
    finally:
        store.dispose()
        db.dispose()
    if json_out:
        print_json(rows)
        return
    typer.echo(",".join(ROW_COLUMNS))
    for r in rows:
        typer.echo(",".join("" if r[c] is None else str(r[c]) for c in ROW_COLUMNS))


@elevators.command()
def evaluate(
    fleet: int = typer.Option(..., "--fleet", help="Number of simulated elevators."),
    days: int = typer.Option(..., "--days", help="Number of simulated days."),
    seed: int = typer.Option(0, "--seed", help="Random seed (>= 0)."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Train on half of a simulated fleet, score the other half against the oracle."""
    from sim.elevators.evaluate import evaluate_fleet

    err_console.print(f"simulating {fleet} elevators × {days} days, training, scoring ...")
    result = evaluate_fleet(fleet, days, seed)
    if json_out:
        print_json(result)
        return
    for key in ("auc", "oracle_auc", "brier", "baseline_auc", "precision_at_10pct"):
        typer.echo(f"{key:20s} {result[key]:.4f}")


def register(app: typer.Typer) -> None:
    """Attach ``twin elevators``."""
    app.add_typer(elevators, name="elevators")
