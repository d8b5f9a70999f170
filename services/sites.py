"""The one site loader of the services: a site folder (or IFC / GIS file) → the twin.

Every command and the service load sites through :func:`load_site` (``bim.load`` with the
settings' cache, an optional progress bar on stderr), so a loaded community always carries
``site_dir`` and, from its manifest, ``title`` and ``timezone`` in its attributes.
:func:`services.communities.site_dirs` lists the sites a deployment serves.
"""

from __future__ import annotations

from pathlib import Path

from twin.model import Community

__all__ = ["load_site"]


def load_site(path: Path | str, *, cache_dir: Path | None = None, no_cache: bool = False,
              show_progress: bool = False) -> Community:
    """Return the community of a site folder, an IFC file or a GIS file (cached).

    ``cache_dir`` defaults to the settings' cache; ``show_progress`` draws a progress bar
    on stderr (never stdout) when stderr is a terminal.
    """
    from bim import load
    from services.settings import get_settings

    path = Path(path)
    cache = None if no_cache else (cache_dir or get_settings().resolved_cache_dir)
    community = _load_with_progress(load, path, cache) if show_progress else load(path, cache_dir=cache)
    if path.is_dir():
        from services.communities import site_title

        community.attributes.setdefault("site_dir", str(path.resolve()))
        title = site_title(path)
        if title:
            community.attributes.setdefault("title", title)
    return community


def _load_with_progress(load, path: Path, cache: Path | None) -> Community:
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    err_console = Console(stderr=True)
    if not err_console.is_terminal:
        return load(path, cache_dir=cache)
    columns = (TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn())
    with Progress(*columns, console=err_console, transient=True) as bar:
        task = bar.add_task(f"loading {path}", total=None)

        def progress(done: int, total: int, message: str) -> None:
            bar.update(task, description=str(message), completed=done, total=total or None)

        return load(path, cache_dir=cache, progress=progress)
