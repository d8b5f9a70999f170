"""Meters → monthly readings per billing unit: the metering consumer and the month query.

:class:`MeteringConsumer` (a durable consumer) copies every cumulative register value of a
meter from the live history into ``meter_points`` (insert-if-absent on device + time, so a
redelivered row is a no-op). :func:`monthly_readings` computes, for a month, one row per
billing unit and meter (``Device.feeds``) with :func:`services.metering.compute.meter_month`,
plus the CSV-imported readings of units without a meter for that utility (``source:
import``). The meter kinds, their register field and the utility they feed come from the
device-kind table (``live.kinds``): a ``meter`` kind with a counter field feeds the utility
named after it (``meter_gas`` → ``gas``) unless the kind names its ``utility``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Callable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa

from services.consumers import DurableConsumer
from services.errors import InvalidInput
from services.metering.compute import MAX_GAP_S, meter_month, q3
from services.metering.models import MeterPoint
from services.communities import DEFAULT_TIMEZONE

__all__ = ["SOURCES", "MeterSpec", "MeteringConsumer", "catch_up", "meter_specs", "month_bounds", "monthly_readings",
           "reading_json", "site_zone"]

#: The ``source`` of a monthly reading.
SOURCES = ("live", "estimated", "import")


@dataclass(frozen=True)
class MeterSpec:
    """A meter of the twin: its register field, the utility and the units it feeds."""

    device_id: str
    kind: str
    field: str
    utility: str
    unit: str | None
    feeds: tuple[str, ...]


def _kind_meter(kind_name: str):
    """``(field, utility, unit)`` of a meter kind, or None for any other kind."""
    from live.kinds import KINDS

    kind = KINDS.get(kind_name)
    if kind is None or kind.device_class != "meter":
        return None
    counters = [f for f in kind.fields if f.counter]
    if len(counters) != 1:
        return None
    utility = getattr(kind, "utility", None) or kind.name.removeprefix("meter_")
    return counters[0].name, utility, counters[0].unit


def meter_specs(community) -> dict[str, MeterSpec]:
    """Every meter of ``community`` that feeds at least one billing unit, by device id."""
    out = {}
    for d in community.devices:
        m = _kind_meter(d.kind)
        if m is not None and d.feeds:
            out[d.id] = MeterSpec(d.id, d.kind, m[0], m[1], m[2], tuple(d.feeds))
    return out


#: Community id → a function returning the engine of its live database, for communities
#: whose live tables (meter points among them) are not in the main database (several
#: communities served: :func:`services.runtime.build_services` registers them).
POINT_SOURCES: dict[str, Callable[[], sa.Engine]] = {}


def site_zone(community, default: str = DEFAULT_TIMEZONE) -> ZoneInfo:
    """The site's time zone (``site.json`` ``timezone``), else ``default``."""
    name = (community.attributes or {}).get("timezone") or default
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(f"timezone={name!r} is not a known time zone") from None


def month_bounds(month: str, zone: ZoneInfo) -> tuple[float, float]:
    """Epoch seconds of midnight on the 1st of ``month`` and of the next month, in ``zone``."""
    from services.billing.run import parse_month

    y, m = parse_month(month)
    start = datetime(y, m, 1, tzinfo=zone)
    ny, nm = (y + 1, 1) if m == 12 else (y, m + 1)
    end = datetime(ny, nm, 1, tzinfo=zone)
    return start.timestamp(), end.timestamp()


class MeteringConsumer(DurableConsumer):
    """Keeps every meter register value of the history in ``meter_points`` (idempotent)."""

    name = "metering"

    def __init__(self, specs: dict[str, MeterSpec]) -> None:
        self.specs = specs

    def wants(self, row) -> bool:
        return row.channel == "telemetry" and row.device_id in self.specs

    def apply(self, conn: sa.Connection, rows: list) -> None:
        points = {}
        for r in rows:
            spec = self.specs[r.device_id]
            v = (r.values or {}).get(spec.field)
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                points.setdefault((r.device_id, r.ts), {"device_id": r.device_id, "ts": r.ts, "field": spec.field,
                                                        "value": float(v), "received_at": r.received_at})
        if points:
            insert_points(conn, list(points.values()))


def insert_points(conn: sa.Connection, rows: list[dict]) -> None:
    """Insert meter points; a point already stored (device, time) is left as it is."""
    table = MeterPoint.__table__
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    for i in range(0, len(rows), 2000):
        conn.execute(insert(table).on_conflict_do_nothing(index_elements=["device_id", "ts"]), rows[i:i + 2000])


def _points(conn: sa.Connection, devices: list[str], lo: float, hi: float) -> dict[str, list[tuple[float, float]]]:
    """Points of ``devices`` in ``[lo, hi]`` plus the nearest one outside on each side."""
    t = MeterPoint.__table__.c
    out: dict[str, list] = {d: [] for d in devices}
    for i in range(0, len(devices), 500):
        part = devices[i:i + 500]
        for dev, ts, v in conn.execute(sa.select(t.device_id, t.ts, t.value)
                                       .where(t.device_id.in_(part), t.ts >= lo, t.ts <= hi)):
            out[dev].append((ts, v))
        before = conn.execute(sa.select(t.device_id, sa.func.max(t.ts)).where(t.device_id.in_(part), t.ts < lo)
                              .group_by(t.device_id)).all()
        after = conn.execute(sa.select(t.device_id, sa.func.min(t.ts)).where(t.device_id.in_(part), t.ts > hi)
                             .group_by(t.device_id)).all()
        for dev, ts in [*before, *after]:
            v = conn.execute(sa.select(t.value).where(t.device_id == dev, t.ts == ts)).scalar_one()
            out[dev].append((ts, v))
    return out


def monthly_readings(conn: sa.Connection, community, month: str, *, zone: ZoneInfo | None = None,
                     max_gap_s: float = MAX_GAP_S, units: set[str] | None = None,
                     cid: str | None = None) -> list[dict[str, Any]]:
    """The month's readings: one row per billing unit and meter, then imported ones.

    Row: ``unit_id, device_id, utility, start_value, end_value, consumption`` (Decimal),
    ``source`` (``live``/``estimated``/``import``), ``reset`` (bool), ``meters`` (units the
    meter feeds: its use is split equally between them). Ordered by unit, utility, device.
    ``cid``: imported readings of that community only (None: every row).
    """
    zone = zone or site_zone(community)
    start, end = month_bounds(month, zone)
    specs = meter_specs(community)
    if units is not None:
        specs = {k: s for k, s in specs.items() if set(s.feeds) & units}
    source = POINT_SOURCES.get(getattr(community, "name", None))
    if source is None:
        pts = _points(conn, sorted(specs), start - max_gap_s, end + max_gap_s)
    else:  # this community's meter points live in its own live database
        with source().connect() as points_conn:
            pts = _points(points_conn, sorted(specs), start - max_gap_s, end + max_gap_s)
    rows = []
    metered: set[tuple[str, str]] = set()
    for dev, spec in specs.items():
        m = meter_month(pts[dev], start, end, max_gap_s=max_gap_s)
        for unit in spec.feeds:
            metered.add((unit, spec.utility))
            if m is None or (units is not None and unit not in units):
                continue
            share = m.consumption if len(spec.feeds) == 1 else q3(m.consumption / len(spec.feeds))
            rows.append({"unit_id": unit, "device_id": dev, "utility": spec.utility, "start_value": m.start_value,
                         "end_value": m.end_value, "consumption": share, "source": m.source, "reset": m.reset,
                         "meters": len(spec.feeds)})
    rows += _imported(conn, month, metered, units, cid)
    rows.sort(key=lambda r: (r["unit_id"], r["utility"], r["device_id"] or ""))
    return rows


def _imported(conn: sa.Connection, month: str, metered: set, units: set[str] | None,
              cid: str | None = None) -> list[dict]:
    """CSV readings (``meter_readings``) of units without a meter for that utility."""
    from services.billing.models import MeterReading
    from services.billing.run import _shift

    t = MeterReading.__table__.c
    prev = _shift(month, -1)
    got: dict[tuple[str, str], dict[str, Decimal]] = {}
    stmt = sa.select(t.unit_id, t.kind, t.month, t.reading).where(t.month.in_([prev, month]))
    if cid is not None:
        stmt = stmt.where(t.community == cid)
    for u, k, m, r in conn.execute(stmt):
        got.setdefault((u, k), {})[m] = r
    out = []
    for (unit, kind), by_month in got.items():
        if (unit, kind) in metered or (units is not None and unit not in units):
            continue
        if prev in by_month and month in by_month and by_month[month] >= by_month[prev]:
            a, b = Decimal(by_month[prev]), Decimal(by_month[month])
            out.append({"unit_id": unit, "device_id": None, "utility": kind, "start_value": q3(a),
                        "end_value": q3(b), "consumption": q3(b) - q3(a), "source": "import", "reset": False,
                        "meters": 1})
    return out


def catch_up(engine: sa.Engine, community, timeout: float = 600.0) -> int:
    """Apply the stored history the metering consumer has not seen yet; return its position."""
    from services.consumers import ConsumerRunner

    runner = ConsumerRunner(engine, MeteringConsumer(meter_specs(community)))
    runner.drain(timeout)
    return runner.position


def reading_json(row: dict) -> dict[str, Any]:
    """The public JSON of a reading (contract keys, decimal strings, plus ``reset``)."""
    return {"unit_id": row["unit_id"], "device_id": row["device_id"], "utility": row["utility"],
            "start_value": str(row["start_value"]), "end_value": str(row["end_value"]),
            "consumption": str(row["consumption"]), "source": row["source"], "reset": row["reset"]}
