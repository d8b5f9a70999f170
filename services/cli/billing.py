"""``twin billing``: run / preview a month's bills, import meter readings.

``twin billing run --month YYYY-MM [--site DIR] --json`` prints
``{"month", "bills", "total", ...}`` with ``total`` a decimal string; it uses the
database of ``TWIN_DB_URL`` (the same as the service) and is idempotent. Every command
takes ``--community CID`` (default: the deployment's default community) and reads and
writes that community's rows only.
"""

from __future__ import annotations

from pathlib import Path

import typer

from services.cli.common import (community_database, community_live_store, community_option, err_console,
                                 print_json, resolve_community)

__all__ = ["register"]

billing = typer.Typer(help="Monthly bills, meter readings.", no_args_is_help=True)

SITE = typer.Option(None, "--site", help="site folder: its billing units are synced first")
RULES = typer.Option(None, "--rules", help="fee rules file (default <site>/fee_rules.yaml or the built-in)")
COMMUNITY = community_option()


def _run(month: str, site: Path | None, rules_path: Path | None, preview: bool, json_out: bool,
         cid: str | None = None) -> None:
    from services.auth import SYSTEM, audit
    from services.billing.rules import load_rules
    from services.billing.run import parse_month, run_bills
    from services.billing.units import sync_units

    parse_month(month)
    cid = resolve_community(cid, site)
    rules = load_rules(rules_path, site=site)
    community = None
    if site is not None:
        from services.sites import load_site

        community = load_site(site)
    from services.metering.readings import POINT_SOURCES

    db = community_database(cid)
    live = community_live_store(cid, site) if community is not None else None  # several sites: its own live tables
    try:
        db.migrate()
        if community is not None:  # meters → readings: bring the metering consumer up to date
            from services.metering.readings import catch_up

            catch_up(live.engine if live is not None else db.engine, community)
            if live is not None:
                POINT_SOURCES[community.name] = lambda: live.engine
        with db.transaction() as session:
            if community is not None:
                synced = sync_units(session, community)
                err_console.print(f"units: {synced['units']} ({synced['inserted']} new, {synced['updated']} updated)")
            result = run_bills(session, rules, month, preview=preview, progress=True, community=community)
            if not preview:
                audit(session, SYSTEM, "billing.run", "bill_run", month, created=result.created, total=result.total)
    finally:
        if live is not None:
            POINT_SOURCES.pop(community.name, None)
            live.dispose()
        db.dispose()
    for w in result.warnings[:20]:
        err_console.print(f"warning: {w}")
    if json_out:
        print_json(result.as_json(with_drafts=20 if preview else 0))
    else:
        verb = "would bill" if preview else "billed"
        typer.echo(f"{month}: {verb} {result.bills} bills, total {result.total} yuan ({result.created} new)")


@billing.command("run")
def run(month: str = typer.Option(..., "--month", help="YYYY-MM"), site: Path | None = SITE,
        rules: Path | None = RULES, json_out: bool = typer.Option(False, "--json"),
        community: str | None = COMMUNITY) -> None:
    """Write the month's bills of one community (idempotent: existing bills are kept as they are)."""
    _run(month, site, rules, False, json_out, community)


@billing.command("preview")
def preview(month: str = typer.Option(..., "--month", help="YYYY-MM"), site: Path | None = SITE,
            rules: Path | None = RULES, json_out: bool = typer.Option(False, "--json"),
            community: str | None = COMMUNITY) -> None:
    """Compute the month's bills of one community without writing anything."""
    _run(month, site, rules, True, json_out, community)


@billing.command("import-readings")
def import_readings(path: Path = typer.Argument(..., help="CSV: unit_id,kind,month,reading"),
                    json_out: bool = typer.Option(False, "--json"),
                    community: str | None = COMMUNITY) -> None:
    """Import cumulative meter readings of one community's units (all rows or none)."""
    from services.auth import SYSTEM
    from services.billing.readings import import_readings_csv

    from services.parsing import decode_utf8

    cid = resolve_community(community)
    text = decode_utf8(path.read_bytes(), path.name)
    db = community_database(cid)
    try:
        db.migrate()
        with db.transaction() as session:
            out = import_readings_csv(session, SYSTEM, text)
    finally:
        db.dispose()
    if json_out:
        print_json(out)
    else:
        typer.echo(f"{out['inserted']} readings stored ({out['unchanged']} already there)")


@billing.command("list")
def list_bills(month: str | None = typer.Option(None, "--month", help="YYYY-MM (default: every month)"),
               unit: str | None = typer.Option(None, "--unit", help="one billing unit id"),
               json_out: bool = typer.Option(False, "--json", help='JSON: [{"id", "unit_id", "month", "issued_on", '
                                             '"due_on", "total", "paid", "outstanding", "status"}]'),
               community: str | None = COMMUNITY) -> None:
    """List one community's bills (money as decimal strings), by month then unit."""
    from sqlalchemy import select

    from services.api.billing import _bill_json
    from services.billing.models import Bill
    from services.billing.run import parse_month

    if month is not None:
        parse_month(month)
    cid = resolve_community(community)
    db = community_database(cid)
    try:
        db.migrate()
        with db.transaction(write=False) as session:
            stmt = select(Bill).where(Bill.community == cid).order_by(Bill.month, Bill.unit_id)
            if month is not None:
                stmt = stmt.where(Bill.month == month)
            if unit is not None:
                stmt = stmt.where(Bill.unit_id == unit)
            rows = [_bill_json(b) for b in session.scalars(stmt)]
    finally:
        db.dispose()
    if json_out:
        print_json(rows)
        return
    for r in rows:
        typer.echo(f"{r['id']}\t{r['unit_id']}\t{r['month']}\t{r['total']}\t{r['outstanding']}\t{r['status']}")


def register(app: typer.Typer) -> None:
    """Attach ``twin billing``."""
    app.add_typer(billing, name="billing")
