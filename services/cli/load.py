"""``twin load PATH``: compose the twin of a site folder, an IFC file or a GIS file and
report it (human table, or one JSON object with ``--json``; see docs/cli.md)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import typer

from services.cli.common import err_console, json_text, stderr_console

if TYPE_CHECKING:  # the twin's modules load when a command runs, not at start-up
    from rich.console import Console

    from twin.model import Community
    from twin.naming import SiteNames

__all__ = ["load_community", "print_summary", "register", "summary"]


def _named(n, names: SiteNames) -> dict[str, Any]:
    out: dict[str, Any] = {"id": n.id, "name": n.name, "full_name": n.full, "building": n.building}
    if n.kind == "stair":
        out["staircase"] = n.group
        out["storeys"] = list(n.storeys)
        out["storey_labels"] = [names.storeys.get(s, s) for s in n.storeys]
    else:
        out["storey"] = n.storeys[0] if n.storeys else None
    return out


def summary(c: Community, *, doors: bool = False) -> dict[str, Any]:
    """Return the ``twin load --json`` object of a community (keys as in docs/cli.md).

    Per storey, ``spaces``/``doors``/``devices`` count the elements on the storey;
    ``stairs``/``elevators`` count those serving it; ``walkable_area_m2`` in m². Buildings
    and storeys carry a ``label`` and the stairs and exits are listed with the names people
    use (:class:`twin.naming.SiteNames`); the other doors too when ``doors`` is true.
    """
    from twin.naming import SiteNames

    names = SiteNames(c)
    per: dict[str, dict[str, int]] = {
        s.id: {"spaces": 0, "doors": 0, "stairs": 0, "elevators": 0, "devices": 0} for s in c.storeys
    }

    def bump(storey_id: str | None, key: str) -> None:
        if storey_id in per:
            per[storey_id][key] += 1

    for sp in c.spaces:
        bump(sp.storey_id, "spaces")
    for d in c.doors:
        bump(d.storey_id, "doors")
    for st in c.stairs:
        for sid in dict.fromkeys(st.storey_ids):
            bump(sid, "stairs")
    for el in c.elevators:
        for sid in dict.fromkeys(el.storey_ids):
            bump(sid, "elevators")
    for dev in c.devices:
        bump(dev.storey_id, "devices")
    return {
        "site": c.name,
        "crs": c.crs,
        "counts": c.counts(),
        "buildings": [
            {"id": b.id, "name": b.name, "label": names.buildings[b.id], "source": b.source,
             "storeys": [{"id": s.id, "name": s.name, "label": names.storeys[s.id],
                          "elevation_m": round(float(s.elevation_m), 4),
                          **per[s.id], "walkable_area_m2": round(s.walkable_area_m2, 3)}
                         for s in b.storeys]}
            for b in c.buildings
        ],
        "stairs": [_named(n, names) for n in names.stairs],
        "exits": [_named(n, names) for n in names.exits],
        **({"doors": [_named(n, names) for n in names.doors]} if doors else {}),
        "warnings": list(c.warnings),
    }


def load_community(path: Path, *, cache_dir: Path | None, no_cache: bool = False,
                   show_progress: bool = True) -> Community:
    """Load ``path`` with a progress bar on stderr (never stdout): :func:`services.sites.load_site`."""
    from services.sites import load_site

    return load_site(path, cache_dir=cache_dir, no_cache=no_cache, show_progress=show_progress)


def print_summary(c: Community, console: Console | None = None) -> None:
    """Print a human summary (tables) of a community on stdout."""
    from rich.console import Console
    from rich.table import Table

    console = console or Console()
    data = summary(c)
    console.print(f"[bold]{data['site']}[/bold]  CRS {data['crs'] or 'none (local)'}")
    counts = Table("element", "count", title="Counts")
    for key, value in data["counts"].items():
        counts.add_row(key, str(value))
    console.print(counts)
    table = Table("building", "source", "storeys", "spaces", "doors", "walkable m²",
                  "footprint IoU", title="Buildings")
    for b, building in zip(data["buildings"], c.buildings):
        st = b["storeys"]
        iou = building.attributes.get("footprint_iou")
        table.add_row(f"{b['id']} {b['name']}", b["source"], str(len(st)),
                      str(sum(s["spaces"] for s in st)), str(sum(s["doors"] for s in st)),
                      f"{sum(s['walkable_area_m2'] for s in st):,.0f}",
                      "" if iou is None else f"{iou:.2f}")
    console.print(table)
    for w in data["warnings"]:
        console.print(f"[yellow]warning:[/yellow] {w}", highlight=False)


def _export(c: Community, geojson_dir: Path | None, json_file: Path | None) -> None:
    from twin import io as twin_io

    if geojson_dir is not None:
        geojson_dir.mkdir(parents=True, exist_ok=True)
        (geojson_dir / "site.geojson").write_text(
            json.dumps(twin_io.site_geojson(c), ensure_ascii=False), encoding="utf-8")
        for s in c.storeys:
            (geojson_dir / f"{s.id}.geojson").write_text(
                json.dumps(twin_io.storey_geojson(c, s.id), ensure_ascii=False), encoding="utf-8")
    if json_file is not None:
        json_file.parent.mkdir(parents=True, exist_ok=True)
        json_file.write_text(json.dumps(twin_io.community_to_dict(c), ensure_ascii=False),
                             encoding="utf-8")


def _remember(path: Path, doors: bool, cache_dir: Path | None, text: str) -> None:
    """Keep the ``--json`` answer beside the model cache (:mod:`services.cli.summary_cache`)."""
    from services.cli import summary_cache
    from services.settings import get_settings

    extra: list[Path] = []
    site = path.parent if path.name == "site.json" else path
    if site.is_dir():  # files the manifest names outside the folder count as inputs too
        from bim.site import _manifest_paths, read_manifest
        from bim.sitecache import site_inputs

        extra = site_inputs(site, _manifest_paths(read_manifest(site)))
    summary_cache.store(cache_dir or get_settings().resolved_cache_dir, path, doors, text, extra)


def register(app: typer.Typer) -> None:
    """Attach ``twin load`` to the CLI."""

    @app.command("load")
    def load_cmd(
        path: Path = typer.Argument(..., help="site folder, .ifc file or GIS buildings file"),
        as_json: bool = typer.Option(False, "--json", help="print one JSON object on stdout"),
        cache_dir: Optional[Path] = typer.Option(None, "--cache-dir", help="derived-model cache folder"),
        no_cache: bool = typer.Option(False, "--no-cache", help="neither read nor write the cache"),
        export_geojson: Optional[Path] = typer.Option(
            None, "--export-geojson", help="write site.geojson and <storey>.geojson here"),
        export_json: Optional[Path] = typer.Option(None, "--export-json", help="write the whole model as JSON"),
        doors: bool = typer.Option(False, "--doors", help="with --json: also list every door (large)"),
    ) -> None:
        """Load a site folder, an IFC file or a GIS file and summarise the twin."""
        c = load_community(path, cache_dir=cache_dir, no_cache=no_cache)
        _export(c, export_geojson, export_json)
        if as_json:
            text = json_text(summary(c, doors=doors))
            sys.stdout.write(text)
            sys.stdout.flush()
            if not no_cache:
                _remember(path, doors, cache_dir, text)
        else:
            print_summary(c)
