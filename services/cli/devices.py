"""``twin devices``: list the registered devices, simulate their MQTT streams."""

from __future__ import annotations

from pathlib import Path

import typer

from services.cli.common import err_console, print_json

__all__ = ["register"]

devices_app = typer.Typer(help="Registered devices: list them, simulate their streams, write their broker "
                               "credentials.", no_args_is_help=True)


def _registry(site: Path | None):
    from live.registry import DeviceRegistry
    from services.cli.load import load_community
    from services.settings import get_settings

    settings = get_settings()
    return DeviceRegistry.from_community(load_community(Path(site or settings.site), cache_dir=settings.resolved_cache_dir))


@devices_app.command("list")
def list_devices(
    site: Path = typer.Option(None, "--site", help="site folder (default TWIN_SITE)"),
    as_json: bool = typer.Option(False, "--json", help="machine-readable output"),
) -> None:
    """List devices with their place in the twin and MQTT topic."""
    reg = _registry(site)
    rows = [d.to_dict() for d in reg]
    if as_json:
        print_json(rows)
        return
    from rich.table import Table

    table = Table("id", "kind", "building", "storey", "space", "topic")
    for r in rows:
        table.add_row(r["id"], r["kind"], r["building"] or "", r["storey"] or "", r["space"] or "", r["topic"])
    from rich.console import Console

    Console().print(table)


def _broker_url(mqtt: str | None, credentials: Path | None = None):
    from services.live_component import broker_url
    from services.settings import get_settings

    s = get_settings()
    if credentials is not None:
        s = s.model_copy(update={"mqtt_credentials_file": credentials})
    if mqtt:
        return broker_url(s, "simulator", mqtt)
    if s.mqtt_url:
        return broker_url(s, "simulator")
    marker = s.data_dir / "broker.url"
    if marker.is_file():  # the embedded broker of a running `twin serve`
        return broker_url(s, "simulator", marker.read_text().strip(), protocol=4)
    return broker_url(s, "simulator", "mqtt://127.0.0.1:1883")


@devices_app.command("simulate")
def simulate(
    site: Path = typer.Option(None, "--site", help="site folder (default TWIN_SITE)"),
    mqtt: str = typer.Option(None, "--mqtt", help="broker URL mqtt://host:port (default TWIN_MQTT_URL, "
                                                  "else the embedded broker of `twin serve`)"),
    speed: float = typer.Option(60.0, "--speed", help="simulated seconds per real second"),
    scenario: str = typer.Option(None, "--scenario", help="incidents, e.g. fire:B3:12,leak:B1:2@120"),
    duration: float = typer.Option(None, "--duration", help="simulated seconds to run (default: until Ctrl-C)"),
    seed: int = typer.Option(0, "--seed", help="random seed"),
    credentials: Path = typer.Option(None, "--credentials", help="credentials.json of `twin devices credentials` "
                                     "(default TWIN_MQTT_CREDENTIALS_FILE): log in as the simulator user"),
) -> None:
    """Publish realistic streams for every registered device (QoS 1)."""
    from live.errors import ScenarioError
    from live.publisher import publish_streams
    from live.simulator import DeviceSimulator
    from services.elevator_live import elevator_life

    if speed <= 0:
        raise ScenarioError(f"speed={speed} must be > 0")
    if duration is not None and duration <= 0:
        raise ScenarioError(f"duration={duration} must be > 0")
    reg = _registry(site)
    sim = DeviceSimulator(reg, seed=seed, incidents=scenario, **elevator_life(reg, seed=seed))
    url = _broker_url(mqtt, credentials)
    err_console.print(f"simulating {len(sim.devices)} devices of {reg.site!r} on {url} at speed {speed:g}"
                      + (f", incidents {scenario}" if scenario else ""))

    def progress(n: int, sim_s: float) -> None:
        err_console.print(f"  {n} messages, {sim_s / 3600:.2f} simulated hours")

    n = publish_streams(sim, url, speed=speed, duration_s=duration, on_progress=progress)
    err_console.print(f"published {n} messages")


@devices_app.command("credentials")
def credentials_cmd(
    site: Path = typer.Option(None, "--site", help="site folder (default TWIN_SITE)"),
    out: Path = typer.Option(..., "--out", help="folder for passwd, acl, credentials.json, tls/, mosquitto.conf"),
    host: list[str] = typer.Option([], "--host", help="extra host name or address of the broker for the demo "
                                                     "TLS certificate (repeatable)"),
    no_tls: bool = typer.Option(False, "--no-tls", help="no demo CA and server certificate"),
    force: bool = typer.Option(False, "--force", help="replace the credentials already in --out"),
    as_json: bool = typer.Option(False, "--json", help="machine-readable output"),
) -> None:
    """Write broker credentials: each device may publish only under twin/{site}/{device_id}/#."""
    from live.credentials import write_credentials

    reg = _registry(site)
    done = write_credentials(reg.site, [d.id for d in reg], out, hosts=tuple(host), tls=not no_tls, force=force)
    if as_json:
        print_json(done)
        return
    err_console.print(f"{done['devices']} device users, service user {done['service_user']}, simulator user "
                      f"{done['simulator_user']} in {done['out']} (credentials.json is private: mode 600)")


def register(app: typer.Typer) -> None:
    """Attach ``twin devices``."""
    app.add_typer(devices_app, name="devices")
