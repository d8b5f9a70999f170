"""Helpers shared by the CLI commands: JSON output, progress, logging, ``--community``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from functools import lru_cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["community_database", "community_live_store", "community_option", "community_site", "err_console",
           "json_text", "print_json", "resolve_community", "setup_logging", "stderr_console"]


@lru_cache(maxsize=1)
def stderr_console() -> Console:
    """The rich console on stderr (rich loads on the first call, not at start-up)."""
    from rich.console import Console

    return Console(stderr=True)


class _StderrConsole:
    """Stands for :func:`stderr_console` until used (``err_console.print(...)``); pass
    ``stderr_console()`` itself where rich needs a real :class:`~rich.console.Console`."""

    def __getattr__(self, name: str) -> Any:
        return getattr(stderr_console(), name)


#: Human output and progress go to stderr so that ``--json`` stdout stays one JSON document.
err_console: Any = _StderrConsole()


def community_option():
    """The ``--community CID`` option of a command that touches one community's data."""
    import typer

    return typer.Option(None, "--community", help="community id (site name) to act on; default: the "
                        "deployment's default community (the first of TWIN_SITES, else TWIN_SITE's)")


def resolve_community(community: str | None, site: Path | None = None) -> str:
    """The community a command acts on: ``--community`` (checked), else the default one.

    With both ``--community`` and ``--site``, the site must be that community (its
    manifest's ``name``). Raises :class:`~services.errors.InvalidInput` naming the value.
    """
    from services.communities import COMMUNITY_ID, community_id_of, default_community_id
    from services.errors import InvalidInput

    if community is None:
        return default_community_id()
    if not COMMUNITY_ID.match(community):
        raise InvalidInput(f"--community={community!r} must be a community id: ASCII letters, digits, '-' or '_' "
                           "(at most 64)")
    if site is not None and community_id_of(site) != community:
        raise InvalidInput(f"--site {str(site)!r} is community {community_id_of(site)!r}, not "
                           f"--community={community!r}")
    return community


def community_site(community: str | None, site: Path | None) -> Path:
    """The site folder of a command that needs one: ``--site``, else the served site of
    ``--community`` (TWIN_SITES / TWIN_SITE), else TWIN_SITE."""
    from services.communities import community_id_of, site_dirs
    from services.errors import InvalidInput
    from services.settings import get_settings

    if site is not None or community is None:
        resolve_community(community, site)
        return site if site is not None else Path(get_settings().site)
    resolve_community(community)
    for d in site_dirs(get_settings()):
        if community_id_of(d) == community:
            return d
    raise InvalidInput(f"--community={community!r} is not a community this deployment serves "
                       "(TWIN_SITES / TWIN_SITE); pass its --site")


def community_database(cid: str):
    """The database of ``TWIN_DB_URL`` seen by community ``cid`` only (reads filtered, rows
    stamped with it; PostgreSQL row-level security bound to it). ``dispose()`` closes it."""
    from services.communities import default_community_id
    from services.db import Database
    from services.settings import get_settings

    root = Database(get_settings().resolved_db_url)
    return root.scoped(cid, isolate=True, primary=cid == default_community_id())


def community_live_store(cid: str, site: Path | None = None):
    """The live tables of community ``cid`` (a :class:`live.store.LiveStore`, migrated)
    when the deployment serves several sites, each with its own (``live_db_url``); None for
    a single site, whose live tables are in the main database, or when ``site`` (the site
    the command loaded) is another community's. The caller disposes it."""
    from live.store import LiveStore
    from services.communities import community_id_of, live_db_url, site_dirs
    from services.settings import get_settings

    settings = get_settings()
    dirs = site_dirs(settings)
    if len(dirs) < 2 or cid not in {community_id_of(d) for d in dirs}:
        return None
    if site is not None:
        from services.errors import InvalidInput

        try:
            if community_id_of(site) != cid:
                return None
        except InvalidInput:  # a community JSON file of no site id: the main database, as before
            return None
    from services.migrations import upgrade

    store = LiveStore(live_db_url(settings, cid))
    upgrade(store.engine)  # the live tables come with the migrations (as in ``twin serve``)
    return store


def json_text(obj: Any) -> str:
    """The text :func:`print_json` writes for ``obj`` (one JSON document and a newline)."""
    return json.dumps(obj, ensure_ascii=False, default=str) + "\n"


def print_json(obj: Any) -> None:
    """Write ``obj`` as one JSON document on stdout."""
    sys.stdout.write(json_text(obj))
    sys.stdout.flush()


def setup_logging(level: str = "INFO") -> None:
    """Configure logging to stderr once."""
    import logging

    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
