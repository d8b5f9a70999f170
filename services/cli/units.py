"""``twin units list [--site DIR] [--community CID] --json``: the billing units of a site (``--community``:
the served site of that community)."""

from __future__ import annotations

from pathlib import Path

import typer

from services.cli.common import community_option, community_site, print_json

__all__ = ["register"]

units = typer.Typer(help="Billing units of the twin.", no_args_is_help=True)


@units.command("list")
def list_units(
    site: Path | None = typer.Option(None, "--site", help="site folder (default TWIN_SITE)"),
    json_out: bool = typer.Option(False, "--json", help='JSON: [{"id", "kind", "building", "area_m2"}]'),
    community_id: str | None = community_option(),
) -> None:
    """List billing units (id, kind, building, area in m²) of one community's site."""
    from services.sites import load_site

    community = load_site(community_site(community_id, site))
    rows = [{"id": u.id, "kind": u.kind, "building": u.building_id, "area_m2": u.area_m2}
            for u in community.billing_units]
    if json_out:
        print_json(rows)
        return
    for r in rows:
        typer.echo(f"{r['id']:<24} {r['kind']:<10} {r['building'] or '-':<12} {r['area_m2']:>8.2f} m²")


def register(app: typer.Typer) -> None:
    """Attach ``twin units``."""
    app.add_typer(units, name="units")
