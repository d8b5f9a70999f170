"""``twin ingest``: an ingestion worker alone (no web app), one of a shared-subscription group.

Start one per core or host with the same ``--group``: the broker (MQTT 5 shared subscription
``$share/{group}/twin/{site}/+/+``) hands each message to one of them; all write to the one
database of ``TWIN_DB_URL``. Combination rules are evaluated from that database, so they fire
when their devices land on different workers (docs/deploy.md, Scale-out).
"""

from __future__ import annotations

import signal
import threading
from pathlib import Path

import typer

from services.cli.common import err_console

__all__ = ["build_workers", "register", "site_folders", "start_workers", "stop_workers", "worker_client_id"]


def site_folders(site: Path | None, sites: str | None, default: Path) -> list[Path]:
    """The site folders of ``--site`` or ``--sites`` (comma-separated folders, or one folder
    whose sub-folders holding a ``site.json`` are sites).

    Raises
    ------
    typer.BadParameter
        Both options given, or ``--sites`` naming nothing usable.
    """
    if site is not None and sites is not None:
        raise typer.BadParameter("give --site or --sites, not both", param_hint="--sites")
    if sites is None:
        return [Path(site or default)]
    parts = [p.strip() for p in sites.split(",") if p.strip()]
    if not parts:
        raise typer.BadParameter(f"--sites={sites!r} names no folder", param_hint="--sites")
    if len(parts) == 1 and Path(parts[0]).is_dir() and not (Path(parts[0]) / "site.json").is_file():
        found = sorted(p for p in Path(parts[0]).iterdir() if (p / "site.json").is_file())
        if not found:
            raise typer.BadParameter(f"--sites={sites!r}: no sub-folder with a site.json", param_hint="--sites")
        return found
    return [Path(p) for p in parts]


def worker_client_id(client_id: str | None, sites: list[str], group: str | None, worker: int) -> str:
    """The MQTT client id of a worker's session (one for all its sites): stable across
    restarts, so a worker that comes back (after a crash) takes over its persistent session
    and the messages the broker kept for it."""
    import socket

    if client_id:
        return client_id
    what = sites[0] if len(sites) == 1 else f"{len(sites)}sites"
    return f"twin-ingest-{what}-{group or 'solo'}-{socket.gethostname()}-{worker}"


def build_workers(settings, folders: list[Path], *, group: str | None, rules: Path | None = None,
                  client_id: str | None = None, worker: int = 0) -> list:
    """One :class:`services.live_component.LiveComponent` per site folder, not started
    (call ``start_worker`` on each); the database is checked (and migrated) first.

    Raises
    ------
    live.errors.LiveError
        No broker URL, a bad group name, an unusable database (one CLI line).
    """
    from live.errors import LiveError
    from live.registry import check_topic_segment
    from services.cli.load import load_community
    from services.live_component import LiveComponent

    if not settings.mqtt_url:
        raise LiveError("twin ingest needs a broker: set TWIN_MQTT_URL or pass --mqtt")
    if group is not None:
        check_topic_segment(group, "group")
    comps = []
    for folder in folders:
        community = load_community(folder, cache_dir=settings.resolved_cache_dir, show_progress=False)
        r = rules if rules is not None else (folder / "rules.yaml" if (folder / "rules.yaml").is_file() else None)
        comps.append(LiveComponent(settings, community, rules_path=r, group=group))
    cid = worker_client_id(client_id, [c.registry.site for c in comps], group, worker)
    for comp in comps:
        comp.client_id = cid  # the worker's name on its rule claims too
    comps[0].check()  # bad broker URL or database: one line, exit 2
    return comps


def start_workers(comps: list) -> object:
    """Start the sites of :func:`build_workers` and one MQTT session feeding all of them;
    return the :class:`live.client.MqttIngestor`."""
    from live.client import MqttIngestor

    started = []
    try:
        for comp in comps:
            comp.start_worker(connect=False)
            started.append(comp)
        ingestor = MqttIngestor([c.pipeline for c in comps], comps[0].broker, group=comps[0].group,
                                client_id=comps[0].client_id)
        for comp in comps:
            comp.ingestor = ingestor  # health() of each site shows the session
        return ingestor.start(wait_s=15)
    except BaseException:
        stop_workers(started, None)
        raise


def stop_workers(comps: list, ingestor) -> None:
    """Stop the session (pending batches written and acknowledged), then the sites."""
    if ingestor is not None:
        ingestor.stop()
    for comp in comps:
        comp.ingestor = None
        comp.stop_worker()


def ingest(
    group: str = typer.Option(None, "--group", help="shared-subscription group ($share/GROUP/...): "
                                                    "run several workers with the same group"),
    site: Path = typer.Option(None, "--site", help="site folder (default TWIN_SITE)"),
    sites: str = typer.Option(None, "--sites", help="comma-separated site folders, or a folder of site folders"),
    rules: Path = typer.Option(None, "--rules", help="alarm rules file (default <site>/rules.yaml or built-in)"),
    mqtt: str = typer.Option(None, "--mqtt", help="broker URL (default TWIN_MQTT_URL)"),
    worker: int = typer.Option(0, "--worker", min=0, max=9999,
                               help="index of this worker on its host (part of the default client id)"),
    client_id: str = typer.Option(None, "--client-id", help="MQTT client id of the persistent session "
                                                         "(default twin-ingest-<site or Nsites>-<group>-<host>-<worker>)"),
) -> None:
    """Run ingestion workers (no web app) until SIGTERM or Ctrl-C; broker TWIN_MQTT_URL, database TWIN_DB_URL."""
    from services.settings import get_settings

    settings = get_settings()
    if mqtt:
        settings = settings.model_copy(update={"mqtt_url": mqtt})
    comps = build_workers(settings, site_folders(site, sites, settings.site), group=group, rules=rules,
                          client_id=client_id, worker=worker)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    ingestor = start_workers(comps)
    try:
        devices = sum(len(c.registry) for c in comps)
        err_console.print(f"ingesting {devices} devices of {len(comps)} site(s) as group {group or '(none)'}, "
                          f"client id {ingestor.client_id}")
        stop.wait()
    finally:
        stop_workers(comps, ingestor)
        err_console.print("stopped")


def register(app: typer.Typer) -> None:
    """Attach ``twin ingest``."""
    app.command("ingest")(ingest)
