"""Build the running service: the twin, the database and live components, the app.

``twin serve`` and ``twin demo`` both start the service through :func:`build_service`, so
the composition (database first, then live ingestion whose alarms open work orders) is
written once.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI

from services.settings import Settings
from twin.model import Community

__all__ = ["Service", "build_service"]


@dataclass
class Service:
    """The app and the parts a caller may need to reach (the live component's broker)."""

    app: FastAPI
    community: Community
    database: object
    live: object


def build_service(settings: Settings, site: Path, *, rules: Path | None = None,
                  group: str | None = None, client_id: str | None = None,
                  smtp_url: str | None = None, show_progress: bool = True) -> Service:
    """Load ``site`` and compose the app: database, live ingestion, the viewer's scene.

    Raises the project's errors (one CLI line) for a bad site, broker URL or database.
    """
    from services.app import create_app
    from services.backup import backup_component
    from services.cleaning_live import LiveCleaningComponent
    from services.cli.load import load_community
    from services.dbcomponent import DatabaseComponent
    from services.elevator_live import ElevatorJobComponent
    from services.forecast import ForecastComponent
    from services.live_component import LiveComponent

    from services.api.scene import SceneComponent

    community = load_community(Path(site), cache_dir=settings.resolved_cache_dir,
                               show_progress=show_progress)
    # the scene resolves the IFC paths of buildings relative to the site folder
    community.attributes.setdefault("site_dir", str(Path(site).resolve()))
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
