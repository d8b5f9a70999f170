"""``twin demo``: load the default site (``TWIN_SITE``, the lakeside sample) and show it.

Later issues grow the demo (live devices, drills...): extend :func:`run_demo`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from services.cli.common import print_json
from services.cli.load import load_community, print_summary, summary
from services.settings import get_settings
from twin.model import Community

__all__ = ["register", "run_demo"]


def run_demo(site: Path | None = None, *, as_json: bool = False) -> Community:
    """Load ``site`` (default: the configured site) and print its summary; return it."""
    settings = get_settings()
    c = load_community(site or settings.site, cache_dir=settings.resolved_cache_dir)
    if as_json:
        print_json(summary(c))
    else:
        print_summary(c)
    return c


def register(app: typer.Typer) -> None:
    """Attach ``twin demo`` to the CLI."""

    @app.command("demo")
    def demo_cmd(
        site: Optional[Path] = typer.Option(None, "--site", help="site folder (default TWIN_SITE)"),
        as_json: bool = typer.Option(False, "--json", help="print one JSON object on stdout"),
    ) -> None:
        """Load the demo site and print its summary."""
        run_demo(site, as_json=as_json)
