"""``twin serve``: ingestion, the API and the WebSockets in one command (uvicorn)."""

from __future__ import annotations

from pathlib import Path

import typer

from services.cli.common import err_console

__all__ = ["register"]


def serve(
    site: list[Path] = typer.Option(None, "--site", help="site folder; repeat to serve several communities "
                                    "(default TWIN_SITES, else TWIN_SITE)"),
    host: str = typer.Option("127.0.0.1", "--host", help="address to bind"),
    port: int = typer.Option(8000, "--port", min=0, max=65535, help="TCP port"),
    rules: Path = typer.Option(None, "--rules", help="alarm rules file (default <site>/rules.yaml or built-in)"),
    group: str = typer.Option(None, "--group", help="shared-subscription group: run N processes as ingestion workers"),
    client_id: str = typer.Option(None, "--client-id", help="MQTT client id of the persistent session "
                                                         "(default twin-ingest-<site>; give each worker its own)"),
    log_level: str = typer.Option("warning", "--log-level", help="uvicorn log level"),
    smtp_url: str = typer.Option(None, "--smtp", help="smtp://host:port for e-mail reminders (default: in-app only)"),
) -> None:
    """Run ingestion, the HTTP API and the WebSockets; broker TWIN_MQTT_URL, database TWIN_DB_URL."""
    import uvicorn

    from services.runtime import build_service
    from services.settings import get_settings

    from services.deployment import check_settings

    settings = get_settings()
    check_settings(settings)  # secrets and broker transport, before any loading
    from services.communities import site_dirs
    from services.runtime import build_services

    sites = site_dirs(settings, list(site or []))
    if len(sites) == 1:
        service = build_service(settings, sites[0], rules=rules, group=group,
                                client_id=client_id, smtp_url=smtp_url)
    else:
        service = build_services(settings, sites, smtp_url=smtp_url)
    _check_users(settings)  # the database is known usable (and migrated) from here
    app = service.app
    for live in (service.lives or {service.community.name: service.live}).values():
        err_console.print(f"serving {live.community.name!r} ({len(live.registry)} devices) on http://{host}:{port}")
    uvicorn.run(app, host=host, port=port, log_level=log_level, **settings.uvicorn_options())


def _check_users(settings) -> None:
    """Refuse to serve while demo users exist (services.deployment)."""
    from services.db import Database
    from services.deployment import check_deployment

    db = Database(settings.resolved_db_url)
    try:
        db.migrate()
        check_deployment(settings, db)
    finally:
        db.dispose()


def register(app: typer.Typer) -> None:
    """Attach ``twin serve``."""
    app.command("serve")(serve)
