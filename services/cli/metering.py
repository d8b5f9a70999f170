"""``twin metering``: monthly meter readings per billing unit from the live history.

``twin metering readings --site DIR --month YYYY-MM --json`` prints a JSON array of
``{"unit_id", "device_id", "utility", "start_value", "end_value", "consumption", "source"}``
(numbers as decimal strings, ``source`` one of ``live``, ``estimated``, ``import``; also
``reset``). It uses the database of ``TWIN_DB_URL`` and first brings the metering consumer
up to date with the stored history (idempotent, safe beside a running service).
``--community CID`` (default: the default community) picks the community: its site (the
served site of that id unless ``--site`` is given) and its imported readings.
"""

from __future__ import annotations

from pathlib import Path

import typer

from services.cli.common import (community_database, community_live_store, community_option, community_site,
                                 print_json, resolve_community)

__all__ = ["register"]

metering = typer.Typer(help="Meter readings per billing unit and month.", no_args_is_help=True)


@metering.command("readings")
def readings(site: Path = typer.Option(None, "--site", help="site folder (default TWIN_SITE)"),
             month: str = typer.Option(..., "--month", help="YYYY-MM"),
             json_out: bool = typer.Option(False, "--json"),
             community_id: str | None = community_option()) -> None:
    """Print each billing unit's meter readings for a month (one community)."""
    from services.billing.run import parse_month
    from services.metering.readings import POINT_SOURCES, catch_up, monthly_readings, reading_json
    from services.sites import load_site

    parse_month(month)
    site = community_site(community_id, site)
    cid = resolve_community(community_id, site if community_id is not None else None)
    community = load_site(site)
    db = community_database(cid)
    live = community_live_store(cid, site)  # several sites: this community's own live tables
    try:
        db.migrate()
        catch_up(live.engine if live is not None else db.engine, community)
        if live is not None:
            POINT_SOURCES[community.name] = lambda: live.engine
        with db.engine.connect() as conn:
            rows = monthly_readings(conn, community, month, zone=None, cid=cid)
    finally:
        POINT_SOURCES.pop(community.name, None)
        if live is not None:
            live.dispose()
        db.dispose()
    if json_out:
        print_json([reading_json(r) for r in rows])
        return
    for r in rows:
        flag = " reset" if r["reset"] else ""
        typer.echo(f"{r['unit_id']}\t{r['utility']}\t{r['device_id'] or '-'}\t{r['start_value']} → {r['end_value']}"
                   f"\t{r['consumption']}\t{r['source']}{flag}")


def register(app: typer.Typer) -> None:
    """Attach ``twin metering``."""
    app.add_typer(metering, name="metering")
