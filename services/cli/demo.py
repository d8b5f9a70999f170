"""``twin demo``: the whole twin on the embedded defaults, in one command.

It loads the default site (``TWIN_SITE``, the lakeside sample), prepares the database
(migrations, billing units, demo users, last month's bills), starts the service (embedded
MQTT broker unless ``TWIN_MQTT_URL`` is set, SQLite unless ``TWIN_DB_URL`` is set,
ingestion, API, WebSockets, the viewer) and the device simulator, and prints the viewer's
URL. ``--summary-only`` / ``--json`` print the site summary and exit.
"""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import typer

from services.cli.common import err_console, print_json
from services.cli.load import load_community, print_summary, summary

if TYPE_CHECKING:  # settings and the twin load when the command runs, not at start-up
    from services.settings import Settings
    from twin.model import Community

__all__ = ["DEMO_PASSWORD", "prepare_database", "register", "run_demo"]

#: Password of the demo users (printed by the command; a demo database only).
DEMO_PASSWORD = "twin-demo-2026"

#: Seconds the device simulator gets to stop (its last acknowledgements) on Ctrl-C.
SIMULATOR_STOP_S = 5.0


def run_demo(site: Path | None = None, *, as_json: bool = False) -> Community:
    """Load ``site`` (default: the configured site) and print its summary; return it."""
    from services.settings import get_settings

    settings = get_settings()
    c = load_community(site or settings.site, cache_dir=settings.resolved_cache_dir)
    if as_json:
        print_json(summary(c))
    else:
        print_summary(c)
    return c


def _previous_month(today: dt.date) -> str:
    first = today.replace(day=1)
    return (first - dt.timedelta(days=1)).strftime("%Y-%m")


def prepare_database(settings: Settings, community: Community, site: Path, *,
                     community_id: str | None = None, primary: bool = True) -> dict:
    """Migrate, mirror billing units, create the demo users once, bill last month (idempotent).

    With ``community_id`` (several communities served) the work is that community's and
    the demo users get a membership there (the owner in the ``primary`` community only).
    Returns the demo logins and the bill-run figures.
    """
    from services.auth import SYSTEM, add_membership, audit, create_user
    from services.billing.rules import load_rules
    from services.billing.run import run_bills
    from services.billing.units import sync_units
    from services.db import Database
    from services.errors import InvalidInput
    from services.models import User

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.resolved_db_url)
    if community_id is not None:
        db = db.scoped(community_id, primary=primary)
    owner_unit = next((u.id for u in community.billing_units if u.kind == "apartment"), None)
    users = [("admin", "admin", []), ("operator", "operator", []), ("planner", "planner", [])]
    if owner_unit and primary:
        users.append(("owner", "owner", [owner_unit]))
    month = _previous_month(dt.date.today())
    try:
        db.migrate()
        with db.transaction() as session:
            _flag_old_demo_users(session, [u[0] for u in users])
            real = session.query(User.username).filter(User.demo.is_(False)).limit(3).all()
            if real:
                raise InvalidInput(
                    f"the database {settings.resolved_db_url.split('@')[-1]!r} holds real users "
                    f"({', '.join(r[0] for r in real)}): `twin demo` creates logins with a published "
                    "password and runs on its own database only (unset TWIN_DB_URL, or name an empty one)")
            sync_units(session, community)
            where = [community_id] if community_id is not None else None
            for username, role, units in users:
                user = session.query(User).filter_by(username=username).first()
                if user is None:
                    create_user(session, username=username, password=DEMO_PASSWORD, role=role,
                                unit_ids=units, demo=True, communities=where)
                elif community_id is not None:
                    add_membership(session, user, community_id, role)
            result = run_bills(session, load_rules(None, site=site), month)
            audit(session, SYSTEM, "billing.run", "bill_run", month, created=result.created,
                  total=result.total)
    finally:
        db.dispose()
    return {"users": [u[0] for u in users], "owner_unit": owner_unit, "month": month,
            "bills": result.bills, "total": str(result.total)}


def _flag_old_demo_users(session, names: list[str]) -> None:
    """Flag demo logins made before users carried the flag (same name, demo password)."""
    from services.auth import verify_password
    from services.models import User

    for user in session.query(User).filter(User.username.in_(names), User.demo.is_(False)):
        if verify_password(user, DEMO_PASSWORD):
            user.demo = True


def _free_port(host: str, port: int) -> int:
    """Return ``port`` if it is free on ``host``, else a free one."""
    import socket

    with socket.socket() as s:
        try:
            s.bind((host, port))
            return port
        except OSError:
            s.bind((host, 0))
            return s.getsockname()[1]


def _elevator_history(live, settings: Settings) -> dict:
    """The elevators' simulated past days logged and scored (:func:`services.elevator_live.elevator_life`)
    for the default community (the one whose data folder the service's daily job reads)."""
    from services.db import Database
    from services.elevator_live import DEMO_HISTORY_DAYS, elevator_life

    db = Database(settings.resolved_db_url)
    try:
        return elevator_life(live.registry, live.community, seed=0,
                             history_days=DEMO_HISTORY_DAYS, data_dir=settings.data_dir, db=db)
    finally:
        db.dispose()


def _simulate(live, speed: float, stop: threading.Event, life: dict | None = None) -> None:
    """Stream every registered device of a community to its broker until ``stop`` is set
    (``life``: the elevators' plan made with their history, else one from today)."""
    from live.publisher import publish_streams
    from live.simulator import DeviceSimulator

    while live.pipeline is None and not stop.wait(0.2):  # the broker starts with the app
        pass
    if stop.is_set():
        return
    url = live.simulator_url()  # with the simulator's login when there are credentials
    if life is None:
        from services.elevator_live import elevator_life

        life = elevator_life(live.registry, live.community)
    sim = DeviceSimulator(live.registry, seed=0, elevator_plan=life["elevator_plan"], tz=life["tz"])
    try:
        publish_streams(sim, url, speed=speed, stop=stop)
    except Exception as exc:  # the demo goes on without the simulator
        err_console.print(f"[yellow]device simulator stopped: {exc}[/yellow]")


def serve_demo(site: "Path | list[Path] | None", *, host: str, port: int, speed: float,
               duration_s: float | None) -> None:
    """Start the service and the simulator; block until Ctrl-C or ``duration_s``.

    ``site``: one site folder, or several (one community each, the first the default);
    default ``TWIN_SITES``, else ``TWIN_SITE``.
    """
    import asyncio
    import gc

    import uvicorn

    from services.billing.sandbox import install_sandbox
    from services.communities import community_id_of, site_dirs
    from services.runtime import build_service, build_services
    from services.settings import get_settings

    settings = get_settings()
    sites = site_dirs(settings, site if isinstance(site, list) else ([site] if site else None))
    service = build_service(settings, sites[0]) if len(sites) == 1 else build_services(settings, sites)
    community = service.community
    lives = service.lives or {community.name: service.live}
    apps = getattr(service.app, "apps", None) or {community.name: service.app}
    err_console.print("preparing the database (migrations, units, demo users, bills)...")
    for i, (path, live) in enumerate(zip(sites, lives.values())):
        print_summary(live.community)
        cid = community_id_of(path) if len(sites) > 1 else None
        done = prepare_database(settings, live.community, path, community_id=cid, primary=i == 0)
        if i == 0:
            prepared = done  # the default community's figures are announced
    err_console.print("simulating the elevators' past days (risk scores, badges and preventive orders)...")
    first = next(iter(lives))
    life = _elevator_history(lives[first], settings)
    port = _free_port(host, port)
    for app in apps.values():
        install_sandbox(app, settings, host, port)  # the demo's pretend payment gateway
    stop = threading.Event()
    sims = [threading.Thread(target=_simulate, args=(live, speed, stop, life if cid == first else None),
                             daemon=True, name=f"device-simulator-{cid}") for cid, live in lives.items()]

    class DemoServer(uvicorn.Server):
        async def shutdown(self, sockets=None) -> None:
            # The simulator stops first, while the embedded broker still acknowledges its last
            # messages; then the app's components stop (the broker last) with no client
            # publishing into it. In the other order the simulator waited for acknowledgements
            # of a gone broker and the broker's shutdown for a client still sending.
            stop.set()
            for sim in sims:
                await asyncio.get_running_loop().run_in_executor(None, sim.join, SIMULATOR_STOP_S)
            await super().shutdown(sockets)

    server = DemoServer(uvicorn.Config(service.app, host=host, port=port, log_level="warning",
                                       **settings.uvicorn_options()))

    def announce() -> None:
        while not server.started and not stop.wait(0.1):
            pass
        if stop.is_set():
            return
        base = f"http://{host}:{port}"
        names = ", ".join(repr(cid) for cid in lives)
        typer.echo(f"\nThe community twin of {names} is running:")
        typer.echo(f"  control-room viewer  {base}/")
        typer.echo(f"  owners' page         {base}/owner")
        typer.echo(f"  API docs             {base}/docs   (health: {base}/api/health)")
        typer.echo(f"  demo logins          {', '.join(prepared['users'])} / password {DEMO_PASSWORD}"
                   f" (owner of unit {prepared['owner_unit']})")
        typer.echo(f"  bills of {prepared['month']}: {prepared['bills']} (total {prepared['total']} yuan)")
        devices = sum(len(live.registry) for live in lives.values())
        typer.echo(f"  device simulator     {devices} devices at {speed:g}x real time")
        if life.get("history"):
            h = life["history"]
            typer.echo(f"  elevators            {h['risks']} scored on {h['days']} simulated past days,"
                       f" {h['work_orders']} preventive work orders")
        if len(lives) > 1:
            typer.echo(f"  communities          {names}: {base}/api/communities/<id>/... (the first also at {base}/api/...)")
        typer.echo("Press Ctrl-C to stop.", err=False)
        if duration_s is not None:
            stop.wait(duration_s)
            server.should_exit = True

    threading.Thread(target=announce, daemon=True, name="announce").start()
    for sim in sims:
        sim.start()
    try:
        server.run()
    finally:
        stop.set()
        for sim in sims:
            sim.join(timeout=SIMULATOR_STOP_S)
        # The process exits next: the interpreter's final collection would traverse the
        # whole twin (the app unfreezes its long-lived objects on shutdown), seconds on a
        # large site after everything has already stopped. Frozen objects are skipped.
        gc.freeze()


def register(app: typer.Typer) -> None:
    """Attach ``twin demo`` to the CLI."""

    @app.command("demo")
    def demo_cmd(
        site: Optional[list[Path]] = typer.Option(None, "--site", help="site folder; repeat to serve several "
                                                  "communities (default TWIN_SITES, else TWIN_SITE)"),
        host: str = typer.Option("127.0.0.1", "--host", help="address to bind"),
        port: int = typer.Option(8000, "--port", min=0, max=65535,
                                 help="TCP port (a free one is taken when it is busy)"),
        speed: float = typer.Option(60.0, "--speed", min=0.001,
                                    help="device simulator: simulated seconds per real second"),
        duration: Optional[float] = typer.Option(None, "--duration", min=0.0,
                                                 help="stop after this many seconds (default: Ctrl-C)"),
        summary_only: bool = typer.Option(False, "--summary-only",
                                          help="print the site summary and exit"),
        as_json: bool = typer.Option(False, "--json", help="print the site summary as JSON and exit"),
    ) -> None:
        """Run the whole twin on the embedded defaults and print the viewer's URL."""
        if summary_only or as_json:
            run_demo(site[0] if site else None, as_json=as_json)
            return
        serve_demo(site, host=host, port=port, speed=speed, duration_s=duration)
