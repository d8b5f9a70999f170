"""Build the running service: the twin, the database and live components, the app.

``twin serve`` and ``twin demo`` both start the service through :func:`build_service`, so
the composition (database first, then live ingestion whose alarms open work orders) is
written once.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path

from fastapi import FastAPI

from services.settings import Settings
from twin.model import Community

__all__ = ["Service", "build_service", "build_services"]


@dataclass
class Service:
    """The app and the parts a caller may need to reach (the live component's broker)."""

    app: FastAPI
    community: Community
    database: object
    live: object
    #: Every community served, by id (the default first); one entry for a single site.
    communities: dict | None = None
    #: Every community's live component, by id.
    lives: dict | None = None


def build_service(settings: Settings, site: Path, *, rules: Path | None = None,
                  group: str | None = None, client_id: str | None = None,
                  smtp_url: str | None = None, show_progress: bool = True) -> Service:
    """Load ``site`` and compose the app: database, live ingestion, the viewer's scene.

    Raises the project's errors (one CLI line) for a bad site, broker URL or database.
    """
    from services.app import create_app
    from services.backup import backup_component
    from services.cleaning_live import LiveCleaningComponent
    from services.dbcomponent import DatabaseComponent
    from services.elevator_live import ElevatorJobComponent
    from services.forecast import ForecastComponent
    from services.live_component import LiveComponent
    from services.sites import load_site

    from services.api.scene import SceneComponent

    # the scene resolves the IFC paths of buildings relative to the site folder (site_dir)
    community = load_site(Path(site), cache_dir=settings.resolved_cache_dir, show_progress=show_progress)
    if rules is None and (Path(site) / "rules.yaml").is_file():
        rules = Path(site) / "rules.yaml"
    db = DatabaseComponent(smtp_url=smtp_url)
    live = LiveComponent(settings, community, rules_path=rules, group=group, client_id=client_id)
    _add_consumers(live, db, community)
    live.check()  # bad broker URL, unreachable database: one line, exit 2, before serving
    # the daily elevator job reads the live history and files work orders: after both
    parts = [db, live, LiveCleaningComponent(), SceneComponent(), ElevatorJobComponent(),
             ForecastComponent(live, community)]  # after live: reads its rules, alarms and bus
    daily_backup = backup_component(settings, site=Path(site))  # None unless TWIN_BACKUP_DIR is set
    if daily_backup is not None:
        parts.append(daily_backup)
    app = create_app(settings, community=community, components=parts)
    return Service(app=app, community=community, database=db, live=live)


def _add_consumers(live, db, community: Community) -> None:
    """The durable consumers of the live history (each keeps its position in the database)."""
    from services.metering.readings import MeteringConsumer, meter_specs
    from services.workorders.alarm_consumer import AlarmWorkOrderConsumer

    live.add_consumer(MeteringConsumer(meter_specs(community)))
    live.add_consumer(AlarmWorkOrderConsumer(db.work_order_sink(community), on_opened=live.work_order_opened,
                                             publish=live.bus.publish))


def build_services(settings: Settings, sites: list[Path], *, smtp_url: str | None = None,
                   show_progress: bool = True) -> Service:
    """Compose one service for several sites (communities): one database, one app each
    behind a :class:`services.communities.CommunityHub`.

    Each community gets its own live ingestion (topics ``twin/{cid}/...``; one embedded
    broker for all of them unless ``TWIN_MQTT_URL`` is set), its own live tables
    (:func:`services.communities.live_db_url`) and a view of the shared database that
    stamps and filters its rows. One site is :func:`build_service`.
    """
    from services.api.scene import SceneComponent
    from services.app import create_app
    from services.cleaning_live import LiveCleaningComponent
    from services.communities import CommunityHub, community_id_of, live_db_url
    from services.db import Database
    from services.dbcomponent import DatabaseComponent
    from services.elevator_live import ElevatorJobComponent
    from services.forecast import ForecastComponent
    from services.live_component import LiveComponent
    from services.metering.readings import POINT_SOURCES
    from services.sites import load_site

    if len(sites) == 1:
        return build_service(settings, sites[0], smtp_url=smtp_url, show_progress=show_progress)
    broker = _SharedBroker(settings)
    root = Database(settings.resolved_db_url)
    loaded = {}
    for site in sites:
        community = load_site(Path(site), cache_dir=settings.resolved_cache_dir, show_progress=show_progress)
        loaded[community_id_of(site)] = (Path(site), community)
    served = {cid: c for cid, (_, c) in loaded.items()}
    apps, lives = {}, {}
    for i, (cid, (site, community)) in enumerate(loaded.items()):
        own = settings.model_copy(update={"db_url": live_db_url(settings, cid)})
        rules = site / "rules.yaml" if (site / "rules.yaml").is_file() else None
        db = DatabaseComponent(smtp_url=smtp_url, database=root.scoped(cid, primary=i == 0))
        live = LiveComponent(own, community, rules_path=rules, shared_broker=broker)
        _add_consumers(live, db, community)
        live.check()
        parts = ([broker] if i == 0 else []) + [db, live, LiveCleaningComponent(), SceneComponent(),
                                                 ElevatorJobComponent(), ForecastComponent(live, community)]
        apps[cid] = create_app(settings, community=community, components=parts, served=served)
        lives[cid] = live
        POINT_SOURCES[cid] = partial(_live_engine, live)  # meter points are in its live database
    first = next(iter(loaded))
    hub = CommunityHub(apps)
    return Service(app=hub, community=loaded[first][1], database=root, live=lives[first],
                   communities=served, lives=lives)


def _live_engine(live):
    if live.store is None:
        raise RuntimeError(f"live ingestion of {live.community.name!r} has not started")
    return live.store.engine


class _SharedBroker:
    """The broker every community's ingestion connects to: ``TWIN_MQTT_URL``, else one
    embedded broker started first (with the credentials file's logins and ACL, if any)."""

    name = "broker"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.embedded = None
        self.url = None

    async def start(self, app: FastAPI) -> None:
        import asyncio

        from services.live_component import LiveComponent, broker_url

        s = self.settings
        if s.mqtt_url:
            self.url = broker_url(s, "service")
            return
        self.embedded = await asyncio.to_thread(
            lambda: LiveComponent._embedded_broker(_NoSite(s)).start())
        self.url = broker_url(s, "service", self.embedded.url) if s.mqtt_credentials_file else self.embedded.url
        s.data_dir.mkdir(parents=True, exist_ok=True)  # where `twin devices simulate` finds it
        (s.data_dir / "broker.url").write_text(f"mqtt://127.0.0.1:{self.embedded.port}\n")

    async def stop(self, app: FastAPI) -> None:
        import asyncio

        if self.embedded is not None:  # after every community's ingestion (it stopped first)
            await asyncio.to_thread(self.embedded.stop)
            (self.settings.data_dir / "broker.url").unlink(missing_ok=True)

    def health(self) -> dict:
        return {"ready": self.url is not None, "embedded": self.embedded is not None}


class _NoSite:
    """What :meth:`LiveComponent._embedded_broker` reads: the settings."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
