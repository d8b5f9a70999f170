"""``twin serve``: ingestion, the API and the WebSockets in one command (uvicorn)."""

from __future__ import annotations

from pathlib import Path

import typer

from services.cli.common import err_console

__all__ = ["register"]


def serve(
    site: Path = typer.Option(None, "--site", help="site folder (default TWIN_SITE)"),
    host: str = typer.Option("127.0.0.1", "--host", help="address to bind"),
    port: int = typer.Option(8000, "--port", min=0, max=65535, help="TCP port"),
    rules: Path = typer.Option(None, "--rules", help="alarm rules file (default <site>/rules.yaml or built-in)"),
    group: str = typer.Option(None, "--group", help="shared-subscription group: run N processes as ingestion workers"),
    log_level: str = typer.Option("warning", "--log-level", help="uvicorn log level"),
) -> None:
    """Run ingestion, the HTTP API and the WebSockets; broker TWIN_MQTT_URL, database TWIN_DB_URL."""
    import uvicorn

    from services.app import create_app
    from services.live_component import LiveComponent
    from services.live_site import load_site
    from services.settings import get_settings

    settings = get_settings()
    site = site or settings.site
    community = load_site(site)
    community.attributes.setdefault("site_dir", str(Path(site).resolve()))  # scene: relative IFC paths
    if rules is None and (Path(site) / "rules.yaml").is_file():
        rules = Path(site) / "rules.yaml"
    live = LiveComponent(settings, community, rules_path=rules, group=group)
    from services.api.scene import SceneComponent

    app = create_app(settings, community=community, components=[live, SceneComponent()])
    err_console.print(f"serving {community.name!r} ({len(live.registry)} devices) on http://{host}:{port}")
    uvicorn.run(app, host=host, port=port, log_level=log_level, ws_ping_interval=20)


def register(app: typer.Typer) -> None:
    """Attach ``twin serve``."""
    app.command("serve")(serve)
