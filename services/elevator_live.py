"""Live elevator telemetry → daily rows → risk → preventive work orders (docs/elevators.md).

Glue between the live history store (:class:`live.store.LiveStore`), the daily aggregation
(:mod:`live.elevator_daily`), the risk model (:mod:`sim.elevators`) and the work orders:

* :func:`daily_rows` — the rows of one local day for every elevator controller of the twin
  (``twin elevators daily``), ``age_years`` from the register, ``days_since_maintenance``
  from the last completed 电梯 work order at the elevator;
* :class:`DailyLog` — the daily rows the service has computed, one JSON file in the data
  folder (the live counterpart of a telemetry CSV);
* :func:`run_daily_job` — the daily scoring: yesterday's rows into the log, every elevator
  scored on the logged rows, the risk log written, preventive work orders opened;
* :class:`ElevatorJobComponent` — runs that job once a day inside ``twin serve``;
* :func:`fleet_plan` — the fleet degradation process (:mod:`sim.elevators`) as the device
  simulator's elevator plan, so simulated controllers show precursors before failures.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import math
import os
import tempfile
from pathlib import Path
from typing import Any, Iterable
from zoneinfo import ZoneInfo

import pandas as pd
import sqlalchemy as sa

from live.elevator_daily import COUNTERS, ROW_COLUMNS, ElevatorDays, finish_row
from live.kinds import KINDS, resolve_kind
from services.errors import InvalidInput
from twin.model import Community, Device
from services.communities import DEFAULT_TIMEZONE

__all__ = ["DAILY_LOG_NAME", "DailyLog", "ElevatorJobComponent", "age_years", "controllers", "daily_rows",
           "day_bounds", "fleet_plan", "last_maintenance", "run_daily_job", "score_rows",
           "elevator_life", "fleet_daily_rows", "score_logged", "simulated_fleet",
           "simulated_fleet_plan", "DEMO_HISTORY_DAYS", "site_timezone", "telemetry_frame"]

log = logging.getLogger(__name__)

#: File name of the daily-rows log in the data folder.
DAILY_LOG_NAME = "elevator_daily.json"
_SCHEMA = "twin.elevators.daily-log/1"
#: Category of elevator work orders (the classifier's 电梯).
ELEVATOR_CATEGORY = "电梯"


def controllers(community: Community | None) -> list[Device]:
    """The twin's elevator controllers: devices of a kind of device class ``elevator``."""
    if community is None:
        return []
    out = []
    for d in community.devices:
        kind = resolve_kind(d.kind)
        if kind is not None and KINDS[kind].device_class == "elevator":
            out.append(d)
    return out


def site_timezone(community: Community | None, default: str = DEFAULT_TIMEZONE) -> str:
    """The site's time zone (``timezone`` of the site manifest), else ``default``."""
    tz = (community.attributes.get("timezone") if community is not None else None) or default
    try:
        ZoneInfo(str(tz))
    except (ValueError, KeyError):
        raise InvalidInput(f"timezone={tz!r} is not a known time zone") from None
    return str(tz)


def day_bounds(date: dt.date, tz: str) -> tuple[float, float]:
    """Epoch seconds of local midnight starting ``date`` and the next local midnight."""
    zone = ZoneInfo(tz)
    start = dt.datetime.combine(date, dt.time(), zone)
    end = dt.datetime.combine(date + dt.timedelta(days=1), dt.time(), zone)
    return start.timestamp(), end.timestamp()


def age_years(device: Device, date: dt.date) -> float | None:
    """Age of the elevator on ``date`` from the register: column ``commissioned``
    (``YYYY-MM-DD``) or ``age_years`` (as of the register); None when it has neither.

    Raises
    ------
    InvalidInput
        A ``commissioned`` value that is not a date or lies after ``date``; an ``age_years``
        that is not a number >= 0.
    """
    attrs = device.attributes or {}
    raw = attrs.get("commissioned")
    if raw not in (None, ""):
        try:
            since = dt.date.fromisoformat(str(raw).strip()[:10])
        except ValueError:
            raise InvalidInput(f"device {device.id!r}: commissioned={raw!r} is not a date (YYYY-MM-DD)") from None
        if since > date:
            raise InvalidInput(f"device {device.id!r}: commissioned={raw!r} is after {date}")
        return round((date - since).days / 365.25, 2)
    raw = attrs.get("age_years")
    if raw not in (None, ""):
        try:
            value = float(raw)
        except (TypeError, ValueError):
            value = math.nan
        if not math.isfinite(value) or value < 0:
            raise InvalidInput(f"device {device.id!r}: age_years={raw!r} must be a number >= 0")
        return value
    return None


def last_maintenance(db, device_ids: Iterable[str], until: dt.date, tz: str) -> dict[str, dt.date]:
    """Local date of the last completed 电梯 work order at each elevator, on or before ``until``."""
    from services.workorders.models import WorkOrder

    ids = list(device_ids)
    if not ids:
        return {}
    _, end = day_bounds(until, tz)
    end_utc = dt.datetime.fromtimestamp(end, dt.timezone.utc)
    q = (sa.select(WorkOrder.device_id, sa.func.max(WorkOrder.completed_at))
         .where(WorkOrder.category == ELEVATOR_CATEGORY, WorkOrder.device_id.in_(ids),
                WorkOrder.completed_at.is_not(None), WorkOrder.completed_at < end_utc)
         .group_by(WorkOrder.device_id))
    zone = ZoneInfo(tz)
    with db.transaction(write=False) as session:
        rows = session.execute(q).all()
    out = {}
    for device_id, at in rows:
        if at.tzinfo is None:
            at = at.replace(tzinfo=dt.timezone.utc)
        out[device_id] = at.astimezone(zone).date()
    return out


def _baseline(store, device_id: str, before: float) -> list[dict]:
    """The last telemetry row before ``before`` carrying each counter (the day's baseline)."""
    from live.store import telemetry

    q = (sa.select(telemetry).where(telemetry.c.device_id == device_id, telemetry.c.ts < before,
                                    telemetry.c.channel == "telemetry")
         .order_by(telemetry.c.ts.desc()).limit(500))
    found: dict[str, dict] = {}
    with store.engine.connect() as conn:
        for r in conn.execute(q).mappings():
            values = r["values"] or {}
            for c in COUNTERS:
                if c not in found and c in values:
                    found[c] = dict(r)
            if len(found) == len(COUNTERS):
                break
    return list({id(r): r for r in found.values()}.values())


def daily_rows(store, db, community: Community, date: dt.date, tz: str | None = None) -> list[dict]:
    """The daily rows of ``date`` (site time) for every elevator controller that reported.

    ``store`` is the live history (:class:`live.store.LiveStore`); ``db`` the operations
    database (work orders) or None (``days_since_maintenance`` is then None). Rows follow
    :data:`live.elevator_daily.ROW_COLUMNS`, sorted by elevator id.
    """
    tz = tz or site_timezone(community)
    start, end = day_bounds(date, tz)
    devices = {d.id: d for d in controllers(community)}
    acc = ElevatorDays(tz, devices)
    for device_id in sorted(devices):
        rows = _baseline(store, device_id, start) + store.history(device_id, start=start, end=end, limit=10_000_000)
        for r in sorted(rows, key=lambda r: (r["ts"], r["seq"])):
            acc.apply(device_id, r["ts"], r["channel"], r["values"], r.get("event"), r["seq"])
    serviced = last_maintenance(db, devices, date, tz) if db is not None else {}
    out = []
    for row in acc.rows(date):
        eid = row["elevator_id"]
        last = serviced.get(eid)
        out.append(finish_row(row, age_years=age_years(devices[eid], date),
                              days_since_maintenance=(date - last).days if last else None))
    return out


class DailyLog:
    """The elevator daily rows the service computed, kept in one JSON file per site.

    ``{"schema": "twin.elevators.daily-log/1", "days": {"YYYY-MM-DD": [row, ...]}}``;
    :meth:`write_day` replaces a day (running the job twice changes nothing) and rewrites
    the file atomically.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def _load(self) -> dict[str, list[dict]]:
        if not self.path.is_file():
            return {}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise InvalidInput(f"elevator daily log {str(self.path)!r} is unreadable: {exc}") from None
        if not isinstance(data, dict) or data.get("schema") != _SCHEMA or not isinstance(data.get("days"), dict):
            raise InvalidInput(f"elevator daily log {str(self.path)!r} is not a {_SCHEMA} file")
        return data["days"]

    def write_day(self, date: dt.date, rows: list[dict]) -> None:
        """Store the rows of ``date`` (replacing that day)."""
        self.write_days({date: rows})

    def write_days(self, by_day: dict[dt.date, list[dict]]) -> None:
        """Store the rows of several days at once (each replacing that day), one rewrite."""
        days = self._load()
        for date, rows in by_day.items():
            days[date.isoformat()] = [{c: r[c] for c in ROW_COLUMNS} for r in rows]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".daily-", suffix=".json")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump({"schema": _SCHEMA, "days": dict(sorted(days.items()))}, f, ensure_ascii=False)
        os.replace(tmp, self.path)

    def days(self) -> list[str]:
        """The logged dates, oldest first."""
        return sorted(self._load())

    def rows(self, until: dt.date | None = None) -> list[dict]:
        """Every logged row (up to and including ``until``), oldest day first."""
        out = []
        for day, rows in sorted(self._load().items()):
            if until is None or day <= until.isoformat():
                out.extend(rows)
        return out


def telemetry_frame(rows: list[dict]) -> pd.DataFrame:
    """Daily rows → a telemetry table the risk model reads (unknown values as NaN).

    Raises
    ------
    ValueError
        No rows.
    """
    if not rows:
        raise ValueError("no elevator daily rows to score")
    df = pd.DataFrame([{c: r.get(c) for c in ROW_COLUMNS} for r in rows])
    df["elevator_id"] = df["elevator_id"].astype(str)
    df["date"] = pd.to_datetime(df["date"]).dt.normalize()
    for c in ROW_COLUMNS[2:]:
        df[c] = pd.to_numeric(df[c], errors="coerce").astype(float)
    df = df.drop_duplicates(["elevator_id", "date"], keep="last")
    return df.sort_values(["elevator_id", "date"], kind="stable").reset_index(drop=True)


def score_rows(rows: list[dict], as_of: dt.date, model=None) -> list:
    """Score every elevator on the daily rows as of ``as_of`` (:func:`sim.elevators.risk.score_day`)."""
    from sim.elevators.model import default_model
    from sim.elevators.risk import score_day

    return score_day(model or default_model(), telemetry_frame(rows), as_of)


def run_daily_job(*, store, db, community: Community, date: dt.date, data_dir: str | Path,
                  tz: str | None = None, threshold: float | None = None, model=None) -> dict[str, Any]:
    """The daily scoring job for ``date`` (normally yesterday, site time).

    1. the day's rows from the live history into :class:`DailyLog`;
    2. every elevator scored on the logged rows as of ``date``, kept in the risk log
       (``GET /api/elevators/risk`` reads it);
    3. risks at or above ``threshold`` filed as preventive work orders (once per elevator
       and day, :func:`services.planning.open_preventive_work_orders`).

    Returns ``{"date", "rows", "risks", "work_orders": {"created", "existing", "skipped"}}``.
    """
    tz = tz or site_timezone(community)
    rows = daily_rows(store, db, community, date, tz)
    daily = DailyLog(Path(data_dir) / DAILY_LOG_NAME)
    daily.write_day(date, rows)
    if not rows:
        return {"date": date.isoformat(), "rows": 0, "risks": [],
                "work_orders": {"created": [], "existing": [], "skipped": []}}
    return score_logged(db=db, community=community, date=date, data_dir=data_dir, tz=tz,
                        threshold=threshold, model=model, rows=len(rows))


def score_logged(*, db, community: Community, date: dt.date, data_dir: str | Path, tz: str,
                 threshold: float | None = None, model=None, rows: int = 0) -> dict[str, Any]:
    """Steps 2 and 3 of :func:`run_daily_job`: score every elevator on the daily log as of
    ``date``, keep the risks in the risk log, file preventive work orders."""
    from dataclasses import asdict

    from services.planning import RISK_LOG_NAME, open_preventive_work_orders
    from sim.elevators.risk import DEFAULT_THRESHOLD, RiskLog, work_order_requests

    logged = DailyLog(Path(data_dir) / DAILY_LOG_NAME).rows(until=date)
    risks = score_rows(logged, date, model)
    RiskLog(Path(data_dir) / RISK_LOG_NAME).write_day(date, risks)
    requests = work_order_requests(risks, DEFAULT_THRESHOLD if threshold is None else threshold)
    filed = (open_preventive_work_orders(db, community, requests, timezone=tz) if db is not None
             else {"created": [], "existing": [], "skipped": []})
    return {"date": date.isoformat(), "rows": rows, "risks": [asdict(r) for r in risks], "work_orders": filed}


def fleet_plan(fleet):
    """The device simulator's elevator plan (``(device_id, date) -> ElevatorDay``) from a
    simulated fleet (:func:`sim.elevators.simulate_fleet` with the controllers' ids): each
    controller lives through its elevator's simulated days, breakdowns included."""
    from live.simulator import ElevatorDay

    tel = fleet.telemetry
    ids = tel["elevator_id"].to_numpy()
    dates = pd.to_datetime(tel["date"]).dt.date.to_numpy()
    cols = {c: tel[c].to_numpy() for c in ("trips", "door_cycles", "door_reopens", "fault_count",
                                           "vibration_rms", "leveling_error_mm", "motor_temp_c")}
    row_of = {eid: e for e, eid in enumerate(fleet.elevator_ids)}
    days: dict[tuple[str, dt.date], ElevatorDay] = {}
    for i in range(len(tel)):
        eid, day = str(ids[i]), dates[i]
        failed = bool(fleet.fail[row_of[eid], (day - fleet.start).days])
        days[(eid, day)] = ElevatorDay(
            int(cols["trips"][i]), int(cols["door_cycles"][i]), int(cols["door_reopens"][i]),
            int(cols["fault_count"][i]), float(cols["vibration_rms"][i]), float(cols["leveling_error_mm"][i]),
            float(cols["motor_temp_c"][i]), failure=failed)

    def plan(device_id: str, day: dt.date):
        return days.get((device_id, day))

    return plan


def simulated_fleet(registry, start: dt.date, *, days: int = 400, seed: int = 0):
    """The fleet degradation process (:func:`sim.elevators.simulate_fleet`) for the registry's
    elevator controllers from ``start`` (``None`` when the site has none)."""
    from sim.elevators import simulate_fleet

    ids = sorted(d.id for d in registry if d.kind in KINDS and KINDS[d.kind].device_class == "elevator")
    if not ids:
        return None
    return simulate_fleet(len(ids), days, seed, start=start, ids=ids)


def simulated_fleet_plan(registry, start: dt.date, *, days: int = 400, seed: int = 0):
    """A fleet degradation process for the registry's elevator controllers from ``start``
    (``None`` when the site has none): the plan :class:`live.simulator.DeviceSimulator`
    streams (``twin demo``, ``twin devices simulate``)."""
    fleet = simulated_fleet(registry, start, days=days, seed=seed)
    return None if fleet is None else fleet_plan(fleet)


def fleet_daily_rows(fleet, before: dt.date) -> dict[dt.date, list[dict]]:
    """The simulated fleet's days before ``before`` as daily rows (:data:`ROW_COLUMNS`, JSON values)."""
    tel = fleet.telemetry
    dates = pd.to_datetime(tel["date"]).dt.date.to_numpy()
    cols = {c: tel[c].to_numpy() for c in ROW_COLUMNS[2:]}
    ints = set(COUNTERS) | {"door_reopens", "fault_count", "days_since_maintenance"}
    out: dict[dt.date, list[dict]] = {}
    for i, eid in enumerate(tel["elevator_id"].to_numpy()):
        day = dates[i]
        if day >= before:
            continue
        row: dict[str, Any] = {"elevator_id": str(eid), "date": day.isoformat()}
        for c, values in cols.items():
            v = values[i]
            row[c] = None if v is None or (isinstance(v, float) and math.isnan(v)) else (
                int(v) if c in ints else round(float(v), 4))
        out.setdefault(day, []).append(row)
    return out


#: Days of simulated elevator history ``twin demo`` logs before today.
DEMO_HISTORY_DAYS = 60


def elevator_life(registry, community: Community | None = None, *, seed: int = 0,
                  days: int = 400, history_days: int = 0, data_dir: str | Path | None = None,
                  db=None) -> dict[str, Any]:
    """Keyword arguments of :class:`live.simulator.DeviceSimulator` that make its elevator
    controllers live through the fleet degradation process from today (site time):
    ``{"elevator_plan", "tz"}`` (no plan for a site without elevators).

    With ``history_days`` and ``data_dir`` the process starts ``history_days`` before today
    and those past days go into the daily log (days the log holds already are kept), then
    every elevator is scored as of yesterday and preventive work orders are filed
    (:func:`score_logged`): ``twin demo`` shows risks, badges and orders from its start
    instead of after its first night. The summary is returned under ``"history"``
    (``{"days", "risks", "work_orders"}``); pass only the other two keys to the simulator.
    """
    tzname = site_timezone(community)
    tz = ZoneInfo(tzname)
    today = dt.datetime.now(tz).date()
    start = today - dt.timedelta(days=max(0, history_days))
    fleet = simulated_fleet(registry, start, days=days + max(0, history_days), seed=seed)
    out: dict[str, Any] = {"elevator_plan": None if fleet is None else fleet_plan(fleet), "tz": tz}
    if fleet is None or history_days <= 0 or data_dir is None:
        return out
    daily = DailyLog(Path(data_dir) / DAILY_LOG_NAME)
    logged = set(daily.days())
    past = {d: rows for d, rows in fleet_daily_rows(fleet, today).items() if d.isoformat() not in logged}
    if past:
        daily.write_days(past)
    yesterday = today - dt.timedelta(days=1)
    scored = score_logged(db=db, community=community, date=yesterday, data_dir=data_dir, tz=tzname,
                          rows=len(past.get(yesterday, [])))
    out["history"] = {"days": len(past), "risks": len(scored["risks"]),
                      "work_orders": len(scored["work_orders"]["created"])}
    return out


class ElevatorJobComponent:
    """Runs :func:`run_daily_job` once a day in the service (after ``run_at`` site time,
    for the day before), and once at start when yesterday is not in the daily log yet.

    Needs the database and live components before it (the work orders and the history).
    """

    name = "elevator_risk"

    def __init__(self, *, run_at: dt.time = dt.time(0, 15), threshold: float | None = None) -> None:
        self.run_at = run_at
        self.threshold = threshold
        self.last: dict[str, Any] | None = None
        self.error: str | None = None
        self._task: asyncio.Task | None = None

    async def start(self, app) -> None:
        self._app = app
        self._task = asyncio.create_task(self._loop())

    async def stop(self, app) -> None:
        if self._task is not None:
            self._task.cancel()

    def health(self) -> dict[str, Any]:
        return {"ready": True, "last_run": self.last and {k: self.last[k] for k in ("date", "rows")},
                "error": self.error}

    def _due(self, now: dt.datetime) -> dt.date | None:
        """The day to run for at ``now`` (site time), or None when it is logged already."""
        day = now.date() - dt.timedelta(days=1)
        if now.time() < self.run_at:
            return None
        path = Path(self._app.state.settings.data_dir) / DAILY_LOG_NAME
        return None if day.isoformat() in DailyLog(path).days() else day

    def run_once(self, day: dt.date) -> dict[str, Any]:
        """Run the job for ``day`` with the app's store, database and twin."""
        app = self._app
        live = getattr(app.state, "live", None)
        store = getattr(live, "store", None)
        if store is None:
            raise RuntimeError("the live component has no history store")
        return run_daily_job(store=store, db=getattr(app.state, "db", None), community=app.state.community,
                             date=day, data_dir=app.state.settings.data_dir, threshold=self.threshold)

    async def _loop(self) -> None:
        tz = site_timezone(self._app.state.community)
        while True:
            try:
                day = self._due(dt.datetime.now(ZoneInfo(tz)))
                if day is not None:
                    self.last = await asyncio.to_thread(self.run_once, day)
                    self.error = None
                    log.info("elevator risk: %s rows, %d work orders for %s", self.last["rows"],
                             len(self.last["work_orders"]["created"]), day)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # logged and retried at the next tick; never stops the service
                self.error = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                log.exception("elevator risk job failed")
            await asyncio.sleep(300.0)
