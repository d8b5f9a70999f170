"""Live traffic → today's cleaning plan → moved rounds as cleaning work orders.

Every ``interval_s`` :class:`LiveCleaning` counts today's passages of each public area
that has a people counter or a gate (``live_telemetry`` since local midnight), hands them
to :func:`sim.cleaning.live.adjust_plan` with today's plan (:class:`services.planning.
CleaningCache`), keeps the result for ``GET /api/cleaning/status`` and files each moved or
added round once as a cleaning work order (:func:`services.planning.
open_preventive_work_orders`, dedupe key ``cleaning-live:{area}:{date}:{planned HH:MM or
"added"}``).

Passages of an area: a people counter's ``count_in + count_out`` (or the growth of
``total_in + total_out``; a fall is a reset, counted from 0); where the area has no
counter, a gate's ``passes`` telemetry and ``pass`` events. A counter sits in the area's
space (lobby, clubhouse hall); a site gate's counter names its gate in ``serves``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import threading
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import sqlalchemy as sa

from live.occupancy import COUNTER_KIND, GATE_KIND, total_step
from live.store import telemetry
from services.planning import CleaningCache, CleaningDay, open_preventive_work_orders
from sim.cleaning.soiling import MINUTES_PER_DAY
from services.communities import DEFAULT_TIMEZONE, site_timezone

__all__ = ["LiveCleaning", "LiveCleaningComponent", "area_devices", "passages_per_minute"]

log = logging.getLogger(__name__)


def area_devices(community, layout) -> dict[str, tuple[int, str]]:
    """Counters and gates of the twin that count a cleaning area: ``{device_id: (area
    index, kind)}``; gates of an area that also has a counter are left out."""
    found: dict[str, tuple[int, str]] = {}
    for d in community.devices:
        if d.kind not in (COUNTER_KIND, GATE_KIND):
            continue
        for key in (d.space_id, d.attributes.get("serves")):
            try:
                found[d.id] = (layout.index(key), d.kind)
                break
            except KeyError:
                continue
    counted = {a for a, kind in found.values() if kind == COUNTER_KIND}
    return {k: v for k, v in found.items() if v[1] == COUNTER_KIND or v[0] not in counted}


def passages_per_minute(rows: list[dict], devices: dict[str, tuple[int, str]], midnight_ts: float,
                        last_totals: dict | None = None) -> dict[int, np.ndarray]:
    """Passages per area and minute of the day from stored readings (sorted by time here)."""
    out: dict[int, np.ndarray] = {}
    totals = dict(last_totals or {})
    for r in sorted(rows, key=lambda r: (r["ts"], r.get("seq", -1))):
        where = devices.get(r["device_id"])
        if where is None:
            continue
        a, kind = where
        values = r.get("values") or {}
        n = 0
        if kind == COUNTER_KIND:
            n = int(values.get("count_in") or 0) + int(values.get("count_out") or 0)
            for name in ("total_in", "total_out"):
                if values.get(name) is None:
                    continue
                new, old = float(values[name]), totals.get((r["device_id"], name))
                totals[(r["device_id"], name)] = new
                n += total_step(old, new)
        elif r["channel"] == "event":
            n = 1 if r.get("event") == "pass" else 0
        else:
            n = int(values.get("passes") or 0)
        m = int((float(r["ts"]) - midnight_ts) // 60)
        if n and 0 <= m < MINUTES_PER_DAY:
            out.setdefault(a, np.zeros(MINUTES_PER_DAY))[m] += n
    for where in devices.values():
        out.setdefault(where[0], np.zeros(MINUTES_PER_DAY))
    return out


class LiveCleaning:
    """Today's plan adjusted to counted traffic; moved rounds filed as work orders.

    Parameters
    ----------
    community : Community
    live_engine : sqlalchemy.Engine
        The live database (``live_telemetry``).
    db : services.db.Database or None
        The operations database for work orders (None: nothing is filed).
    tz : str
        Site time zone.
    cache : CleaningCache, optional
        Shared with ``GET /api/cleaning/status`` (one plan per day).
    """

    def __init__(self, community, live_engine: sa.Engine, db=None, *, tz: str = DEFAULT_TIMEZONE,
                 cache: CleaningCache | None = None) -> None:
        self.community, self.engine, self.db, self.tz = community, live_engine, db, tz
        self.cache = cache or CleaningCache()
        self.latest: tuple[dt.date, Any] | None = None
        self.filed: dict[str, list] = {"created": [], "existing": [], "skipped": []}
        self._lock = threading.Lock()

    def update(self, now: dt.datetime | None = None) -> Any:
        """Recount today's traffic, adjust the plan, file moved rounds; return the adjustment."""
        from sim.cleaning.live import adjust_plan
        from sim.cleaning.plan import plan_work_orders

        zone = ZoneInfo(self.tz)
        now = (now or dt.datetime.now(zone)).astimezone(zone)
        day: CleaningDay = self.cache.get(self.community, now.date(), self.tz)
        midnight = dt.datetime.combine(now.date(), dt.time(0), tzinfo=zone)
        minute = (now - midnight).total_seconds() / 60.0
        devices = area_devices(self.community, day.layout)
        rows = self._rows(list(devices), midnight.timestamp() - 3600, now.timestamp())
        before = [r for r in rows if r["ts"] < midnight.timestamp()]
        baselines = {}
        for r in sorted(before, key=lambda r: r["ts"]):
            for name in ("total_in", "total_out"):
                if (r.get("values") or {}).get(name) is not None:
                    baselines[(r["device_id"], name)] = float(r["values"][name])
        counted = passages_per_minute([r for r in rows if r["ts"] >= midnight.timestamp()], devices,
                                      midnight.timestamp(), baselines)
        done = self._completed(day, midnight)
        cleanings = [sorted(list(c) + done.get(a, [])) for a, c in enumerate(day.state.cleanings)]
        adj = adjust_plan(day.layout.areas, day.plan, cleanings, day.forecast, counted, minute,
                          rain=day.rain, crew=day.crew, soil=day.soil, params=day.params)
        with self._lock:
            self.latest = (day.date, adj)
        if self.db is not None and adj.moves:
            requests = []
            for mv in adj.moves.values():
                [req] = plan_work_orders([(mv.new_min, mv.area, mv.cleaner)], day.layout, day.date,
                                         tz=self.tz, params=day.params)
                planned = "added" if mv.planned_min is None else \
                    f"{int(mv.planned_min) // 60:02d}:{int(mv.planned_min) % 60:02d}"
                req["title"] += f"（客流 {mv.counted}，预测 {mv.forecast:g}）"
                n_done = len(done.get(mv.area, []))  # a new order after each completed cleaning
                req["dedupe_key"] = (f"cleaning-live:{req['area_id']}:{day.date.isoformat()}:{planned}"
                                     + (f"#{n_done}" if n_done else ""))
                requests.append(req)
            out = open_preventive_work_orders(self.db, self.community, requests, timezone=self.tz)
            with self._lock:
                for k in self.filed:
                    self.filed[k] = (self.filed[k] + out[k])[-1000:]
        return adj

    def _completed(self, day: CleaningDay, midnight: dt.datetime) -> dict[int, list[int]]:
        """Minutes (from local midnight) at which cleaning work orders (保洁) of the day's
        areas were completed today: real cleanings, added to the planned ones."""
        if self.db is None:
            return {}
        from services.workorders.models import WorkOrder

        index = {a.id: i for i, a in enumerate(day.layout.areas)}
        start = midnight.astimezone(dt.timezone.utc)
        out: dict[int, list[int]] = {}
        with self.db.session() as s:
            rows = s.execute(sa.select(WorkOrder.space_id, WorkOrder.completed_at).where(
                WorkOrder.category == "保洁", WorkOrder.completed_at >= start,
                WorkOrder.completed_at < start + dt.timedelta(days=1))).all()
        for space_id, at in rows:
            if space_id in index and at is not None:
                at = at if at.tzinfo else at.replace(tzinfo=dt.timezone.utc)
                out.setdefault(index[space_id], []).append(int((at - start).total_seconds() // 60))
        return out

    def adjustment(self, date: dt.date) -> Any:
        """The latest adjustment of ``date`` (None when there is none yet)."""
        with self._lock:
            return self.latest[1] if self.latest is not None and self.latest[0] == date else None

    def _rows(self, ids: list[str], start: float, end: float) -> list[dict]:
        if not ids:
            return []
        t = telemetry
        q = sa.select(t.c.device_id, t.c.channel, t.c.ts, t.c.seq, t.c.event, t.c["values"]) \
            .where(t.c.device_id.in_(ids), t.c.ts >= start, t.c.ts <= end + 300)
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(q).mappings()]


class LiveCleaningComponent:
    """Runs :meth:`LiveCleaning.update` every ``interval_s``, the first time ``first_delay_s``
    after start (planning the day takes seconds of CPU: not while the service starts up).
    List it after the live and database components."""

    name = "live_cleaning"

    def __init__(self, interval_s: float = 60.0, first_delay_s: float = 60.0) -> None:
        self.interval_s = interval_s
        self.first_delay_s = first_delay_s
        self.service: LiveCleaning | None = None
        self._task: asyncio.Task | None = None
        self._error: str | None = None
        self.runs = 0

    async def start(self, app) -> None:
        live = getattr(app.state, "live", None)
        if app.state.community is None or getattr(live, "store", None) is None:
            self._error = "needs the twin and live ingestion with a database"
            return
        cache = getattr(app.state, "cleaning_cache", None)
        if cache is None:
            cache = app.state.cleaning_cache = CleaningCache()
        self.service = LiveCleaning(app.state.community, live.store.engine, getattr(app.state, "db", None),
                                    tz=site_timezone(app.state.community), cache=cache)
        app.state.live_cleaning = self.service
        self._task = asyncio.create_task(self._loop())

    async def _loop(self) -> None:
        await asyncio.sleep(self.first_delay_s)
        while True:
            try:
                await asyncio.to_thread(self.service.update)
                self.runs += 1
                self._error = None
            except Exception as exc:  # keep the loop alive; health shows the cause
                self._error = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                log.warning("live cleaning update failed: %s", self._error)
            await asyncio.sleep(self.interval_s)

    async def stop(self, app) -> None:
        from services.app import cancel_task

        await cancel_task(self._task)
        self._task = None

    def health(self) -> dict[str, Any]:
        return {"ready": True, "running": self._task is not None, "runs": self.runs, "last_error": self._error}
