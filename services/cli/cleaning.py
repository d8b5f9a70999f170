"""``twin cleaning``: compare cleaning policies on a site; plan tomorrow as work orders."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Optional

import typer

from services.cli.common import community_option, err_console, print_json, resolve_community
from twin.errors import TwinError
from services.communities import DEFAULT_TIMEZONE

__all__ = ["register", "file_requests", "load_site_community"]

cleaning = typer.Typer(help="Crowd-driven cleaning: compare policies, plan rounds.",
                       no_args_is_help=True)


class SiteInputError(TwinError):
    """The --site argument is neither a site folder nor a community JSON file."""


def load_site_community(site: Path):
    """Load a site folder (the twin loader) or a community JSON file (``twin.io`` form)."""
    if site.is_file() and site.suffix.lower() == ".json":
        from twin.io import community_from_dict

        try:
            return community_from_dict(json.loads(site.read_text(encoding="utf-8")))
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, json.JSONDecodeError):
                raise
            raise SiteInputError(f"{site}: not a community JSON file ({exc})") from None
    if not site.exists():
        raise FileNotFoundError(f"site {str(site)!r} does not exist")
    from services.sites import load_site

    err_console.print(f"loading {site} ...")
    return load_site(site)


def file_requests(community, requests: list[dict], cid: str | None = None) -> dict:
    """File planning requests as preventive work orders in the database of TWIN_DB_URL.

    Returns ``{"work_order_ids": [created ids], "work_orders_existing": [ids filed before],
    "work_orders_skipped": [{"dedupe_key", "reason"}]}``. ``cid``: the community the work
    orders belong to (``--community``; None: the default community).
    """
    from services.cli.common import community_database, resolve_community
    from services.planning import open_preventive_work_orders

    db = community_database(resolve_community(cid))
    try:
        db.migrate()
        out = open_preventive_work_orders(db, community, requests, timezone=_tz(community))
    finally:
        db.dispose()
    err_console.print(f"{len(out['created'])} work order(s) opened, {len(out['existing'])} already open, "
                      f"{len(out['skipped'])} skipped")
    return {"work_order_ids": out["created"], "work_orders_existing": out["existing"],
            "work_orders_skipped": out["skipped"]}


def _tz(community) -> str:
    return str(community.attributes.get("timezone") or DEFAULT_TIMEZONE)


@cleaning.command()
def compare(
    site: Path = typer.Option(..., "--site", help="Site folder (or community JSON file)."),
    days: int = typer.Option(7, "--days", help="Days to simulate."),
    traffic: Optional[Path] = typer.Option(None, "--traffic",
                                           help="Counter CSV: area_id, timestamp, count."),
    seed: int = typer.Option(0, "--seed", help="Random seed (>= 0)."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Fixed timetable vs demand-driven dispatch (and tomorrow's plan) on the same days."""
    from sim.cleaning.compare import compare_policies
    from sim.cleaning.errors import CleaningParameterError

    if days < 1:
        raise CleaningParameterError(f"days={days} must be >= 1")
    if traffic is not None and not traffic.is_file():
        raise FileNotFoundError(f"traffic file {str(traffic)!r} does not exist")
    community = load_site_community(site)
    result = compare_policies(community, days=days, seed=seed, traffic_csv=traffic,
                              tz=_tz(community), progress=lambda m: err_console.print(m))
    if json_out:
        print_json(result)
        return
    for policy in ("fixed", "demand", "plan", "fixed_today"):
        r = result[policy]
        typer.echo(f"{policy:11s} rounds {r['rounds']:6d}  labour {r['labor_hours']:8.1f} h  "
                   f"over threshold {r['minutes_over_threshold']:8d} area-min")
    typer.echo(f"demand vs fixed at equal labour: {result['savings']['minutes_over_threshold_pct']}% "
               "fewer area-minutes over threshold")


@cleaning.command()
def plan(
    site: Path = typer.Option(..., "--site", help="Site folder (or community JSON file)."),
    date: Optional[str] = typer.Option(None, "--date", help="Day to plan (YYYY-MM-DD); default tomorrow."),
    traffic: Optional[Path] = typer.Option(None, "--traffic", help="Counter CSV history."),
    seed: int = typer.Option(0, "--seed", help="Random seed (>= 0)."),
    open_work_orders: bool = typer.Option(
        False, "--open-work-orders",
        help="File the plan as preventive work orders in TWIN_DB_URL (JSON becomes an object)."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
    community_id: Optional[str] = community_option(),
) -> None:
    """Tomorrow's cleaning plan as work-order requests (保洁巡检) for the cleaners."""
    from sim.cleaning.compare import compare_policies
    from sim.cleaning.errors import CleaningParameterError

    try:
        day = dt.date.fromisoformat(date) if date else dt.date.today() + dt.timedelta(days=1)
    except ValueError:
        raise CleaningParameterError(f"date={date!r} is not a date (YYYY-MM-DD)") from None
    if community_id is not None:
        resolve_community(community_id, site)
    community = load_site_community(site)
    result = compare_policies(community, days=1, seed=seed, traffic_csv=traffic, start=day,
                              tz=_tz(community), policies=("plan",))
    orders = result.get("plan_work_orders", [])
    if open_work_orders:
        filed = file_requests(community, orders, community_id)
        if json_out:
            print_json({"work_orders": orders, **filed})
            return
        typer.echo(f"work orders opened: {filed['work_order_ids']}; already open: "
                   f"{len(filed['work_orders_existing'])}; skipped: {len(filed['work_orders_skipped'])}")
    if json_out:
        print_json(orders)
        return
    for o in orders:
        typer.echo(f"{o['scheduled_at']}  {o['assignee']:12s} {o['title']}")


def register(app: typer.Typer) -> None:
    """Attach ``twin cleaning``."""
    app.add_typer(cleaning, name="cleaning")
