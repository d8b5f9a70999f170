"""``twin ifc FILE``: read one IFC file and report what the twin makes of it.

Counts in the twin and in the file, CRS, storeys and the reader's warnings; ``--json`` for
one JSON document on stdout. Progress goes to stderr as a rich progress bar.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import typer

from services.cli.common import err_console, print_json, stderr_console

__all__ = ["ifc_progress", "model_report", "register"]


@contextmanager
def ifc_progress(enabled: bool = True) -> Iterator:
    """Yield a ``progress(done, total, message)`` callback drawing a bar on stderr."""
    if not enabled:
        yield None
        return
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                  TimeElapsedColumn(), console=stderr_console(), transient=True) as bar:
        task = bar.add_task("loading", total=1)

        def report(done: int, total: int, message: str) -> None:
            bar.update(task, completed=done, total=max(total, 1), description=message)

        yield report


def model_report(model) -> dict:
    """Return the JSON report of an :class:`bim.IfcModel` (keys documented in docs/ifc.md)."""
    c = model.community
    return {
        "file": model.source, "schema": model.schema, "crs": model.crs,
        "georeferenced": model.georeferenced, "building_id": model.building_id,
        "unit_scale_m": model.unit_scale_m, "map_conversion": model.map_conversion,
        "site": model.site, "counts": c.counts(), "entity_counts": model.entity_counts,
        "storeys": [
            {"id": s.id, "name": s.name, "building_id": s.building_id,
             "elevation_m": round(s.elevation_m, 4), "walkable_m2": round(s.walkable_area_m2, 3),
             "spaces": sum(1 for sp in c.spaces if sp.storey_id == s.id)}
            for s in c.storeys
        ],
        "from_cache": model.from_cache, "load_s": round(model.load_s, 4),
        "warnings": list(c.warnings),
    }


def register(app: typer.Typer) -> None:
    """Attach ``twin ifc``."""
    if app.registered_callback is None:
        # typer runs an app with one command and no callback as that bare command
        # (``twin FILE``); a root callback keeps ``twin ifc FILE`` whatever else is registered
        @app.callback()
        def _root() -> None:
            """The community twin: a digital twin of a residential community."""

    @app.command("ifc")
    def ifc_command(
        path: Path = typer.Argument(..., help="IFC file (IFC2X3, IFC4, IFC4X3)"),
        as_json: bool = typer.Option(False, "--json", help="one JSON document on stdout"),
        cache_dir: Path | None = typer.Option(None, "--cache-dir", help="derived-model cache (default: TWIN_CACHE_DIR or data_dir/cache)"),
        no_cache: bool = typer.Option(False, "--no-cache", help="do not read or write the cache"),
        local: bool = typer.Option(False, "--local", help="keep project coordinates (ignore IfcMapConversion)"),
        building_id: str | None = typer.Option(None, "--building-id", help="site id to record for the building"),
    ) -> None:
        """Read an IFC file into the twin and report counts, CRS and warnings."""
        from bim import load_ifc
        from services.settings import get_settings

        cache = None if no_cache else (cache_dir or get_settings().resolved_cache_dir)
        with ifc_progress(err_console.is_terminal) as progress:
            model = load_ifc(path, cache_dir=cache, progress=progress, building_id=building_id,
                             georeference=not local)
        report = model_report(model)
        if as_json:
            print_json(report)
            return
        _print_human(report)


def _print_human(report: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    out = Console()
    out.print(f"[bold]{report['file']}[/bold] {report['schema']}  crs: {report['crs'] or 'local'}"
              f"  ({'cache' if report['from_cache'] else 'read'} in {report['load_s']:.2f} s)")
    table = Table("element", "in twin")
    for key, n in report["counts"].items():
        table.add_row(key, str(n))
    out.print(table)
    storeys = Table("storey", "elevation m", "spaces", "walkable m²")
    for s in report["storeys"]:
        storeys.add_row(s["name"], f"{s['elevation_m']:.3f}", str(s["spaces"]), f"{s['walkable_m2']:.1f}")
    out.print(storeys)
    for w in report["warnings"]:
        err_console.print(f"[yellow]warning:[/yellow] {w}")
