"""Occupancy glue: the twin's entrance devices and register population → :mod:`live.occupancy`.

:class:`OccupancyService` keeps one :class:`live.occupancy.Occupancy` per site and feeds
it from the live history (``live_telemetry``): rebuilt from the last anchor (with an hour
before it for the cumulative counters' baselines) when the anchor moves, otherwise only the
rows stored since the last call (by row id: the pipeline's single batch writer stores them
in order). A durable event consumer can later feed the same object reading by reading.
"""

from __future__ import annotations

import threading
from typing import Any

import sqlalchemy as sa

from live.occupancy import COUNTER_KIND, GATE_KIND, EntranceDevice, Occupancy, rebuild
from live.store import telemetry
from twin.model import Community
from services.communities import DEFAULT_TIMEZONE

__all__ = ["OccupancyService", "entrance_devices", "night_population", "service_of"]

#: Seconds of history before the anchor read for the cumulative counters' baselines.
BASELINE_LOOKBACK_S = 3600.0


def entrance_devices(community: Community) -> list[EntranceDevice]:
    """People counters and access gates placed in a building, with their zone (space, else
    storey, else the device itself). Devices outside buildings (site gates) are left out."""
    out = []
    for d in community.devices:
        if d.kind in (COUNTER_KIND, GATE_KIND) and d.building_id:
            zone = d.space_id or d.storey_id or d.id
            out.append(EntranceDevice(d.id, d.kind, d.building_id, zone))
    return out


def night_population(community: Community) -> dict[str, int]:
    """Residents per building from the households register (apartments without a household
    record count as empty): the population the occupancy is re-anchored to at night."""
    building_of = {u.id: u.building_id for u in community.billing_units}
    out = {b.id: 0 for b in community.buildings}
    for h in community.households:
        b = building_of.get(h.unit_id)
        if b in out:
            out[b] += max(0, int(h.size))
    return out


class OccupancyService:
    """The site's occupancy, brought up to date from the live history on each call.

    Parameters
    ----------
    community : Community
        The twin (entrance devices, buildings, households).
    engine : sqlalchemy.Engine
        The live database (``live_telemetry``).
    tz : str
        Site time zone; ``anchor_hour``: local hour of the night re-anchor.
    """

    def __init__(self, community: Community, engine: sa.Engine, *, tz: str = DEFAULT_TIMEZONE,
                 anchor_hour: float = 3.0) -> None:
        self.community, self.engine = community, engine
        self.tz, self.anchor_hour = tz, anchor_hour
        self.devices = entrance_devices(community)
        self.population = night_population(community)
        self.buildings = [b.id for b in community.buildings]
        self._lock = threading.Lock()
        self._occ: Occupancy | None = None
        self._last_id = 0

    def _fresh(self, now: float) -> Occupancy:
        occ = Occupancy(self.devices, self.population, buildings=self.buildings, start_ts=now,
                        tz=self.tz, anchor_hour=self.anchor_hour)
        since = occ.anchor_ts - BASELINE_LOOKBACK_S
        start = Occupancy(self.devices, self.population, buildings=self.buildings, start_ts=since,
                          tz=self.tz, anchor_hour=self.anchor_hour)
        rows, self._last_id = self._rows(since=since, after_id=0)
        return rebuild(start, rows, now=now)

    def _rows(self, *, since: float | None, after_id: int) -> tuple[list[dict], int]:
        ids = [d.device_id for d in self.devices]
        if not ids:
            return [], after_id
        t = telemetry
        q = sa.select(t.c.id, t.c.device_id, t.c.channel, t.c.ts, t.c.seq, t.c.event, t.c["values"]) \
            .where(t.c.device_id.in_(ids), t.c.id > after_id).order_by(t.c.id)
        if since is not None:
            q = q.where(t.c.ts >= since)
        with self.engine.connect() as conn:
            rows = [dict(r) for r in conn.execute(q).mappings()]
        return rows, (rows[-1]["id"] if rows else after_id)

    def current(self, now: float, building: str | None = None) -> dict[str, Any]:
        """The occupancy at ``now`` (epoch s): see :meth:`live.occupancy.Occupancy.snapshot`."""
        with self._lock:
            occ = self._occ
            if occ is None or occ.last_anchor(now) > occ.anchor_ts:
                occ = self._occ = self._fresh(now)
            else:
                rows, self._last_id = self._rows(since=None, after_id=self._last_id)
                rebuild(occ, rows, now=now)
            return occ.snapshot(building)


_APP_LOCK = threading.Lock()


def service_of(app) -> OccupancyService | None:
    """The app's occupancy service (``app.state.occupancy``, made on first use); None when
    live ingestion with a database is not running or no site is loaded."""
    with _APP_LOCK:
        svc = getattr(app.state, "occupancy", None)
        if svc is None:
            store = getattr(getattr(app.state, "live", None), "store", None)
            community = getattr(app.state, "community", None)
            if store is None or community is None:
                return None
            from services.communities import site_timezone

            svc = app.state.occupancy = OccupancyService(community, store.engine, tz=site_timezone(community))
    return svc
