"""Meter readings: CSV import (``unit_id,kind,month,reading``), all or nothing.

``reading`` is the cumulative meter value (kWh or m³) at the end of ``month`` (YYYY-MM);
``kind`` a utility (``electricity``, ``water``, ``gas``: the utilities meters feed in the
device-kind table, :mod:`twin.kinds`). Importing the same row
again is a no-op; a different value for a stored (unit, kind, month) is refused, and any
bad row refuses the whole file (nothing is stored), naming the line and the value.
"""

from __future__ import annotations

import csv
import io
from decimal import Decimal, InvalidOperation

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from services.auth import Actor, audit
from services.billing.models import MeterReading, Unit
from services.billing.run import _bulk_insert, parse_month
from services.errors import Conflict, InvalidInput
from twin.kinds import KINDS as DEVICE_KINDS
from twin.kinds import UTILITIES, resolve_kind

__all__ = ["KINDS", "import_readings_csv", "meter_utility"]

#: Utilities a reading may be of: those the device-kind table's meters feed.
KINDS = UTILITIES


def meter_utility(device_kind: str) -> str | None:
    """Return the utility a device of ``device_kind`` feeds (``electricity``, ``water``,
    ``gas``), from the device-kind table; None for a kind that is not a meter."""
    canonical = resolve_kind(device_kind)
    return DEVICE_KINDS[canonical].utility if canonical else None
COLUMNS = ("unit_id", "kind", "month", "reading")


def _parse(text: str) -> list[dict]:
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise InvalidInput(f"readings CSV lacks column(s) {', '.join(missing)} (needs {', '.join(COLUMNS)})")
    rows, seen = [], set()
    for line, r in enumerate(reader, start=2):
        kind, month, unit_id = (r["kind"] or "").strip(), (r["month"] or "").strip(), (r["unit_id"] or "").strip()
        if kind not in KINDS:
            raise InvalidInput(f"line {line}: kind={kind!r} must be one of {', '.join(KINDS)}")
        try:
            parse_month(month)
        except InvalidInput as exc:
            raise InvalidInput(f"line {line}: {exc}") from None
        try:
            value = Decimal((r["reading"] or "").strip())
        except InvalidOperation:
            raise InvalidInput(f"line {line}: reading={r['reading']!r} is not a number") from None
        if not value.is_finite() or value < 0:
            raise InvalidInput(f"line {line}: reading={r['reading']!r} must be a finite number >= 0")
        key = (unit_id, kind, month)
        if key in seen:
            raise InvalidInput(f"line {line}: duplicate reading for {unit_id}/{kind}/{month}")
        seen.add(key)
        rows.append({"unit_id": unit_id, "kind": kind, "month": month,
                     "reading": value.quantize(Decimal("0.001")), "source": "csv"})
    return rows


def import_readings_csv(session: Session, actor: Actor, text: str) -> dict[str, int]:
    """Import readings; return ``{"rows", "inserted", "unchanged"}``."""
    rows = _parse(text)
    units = set(session.scalars(select(Unit.id)))
    for i, r in enumerate(rows):
        if r["unit_id"] not in units:
            raise InvalidInput(f"line {i + 2}: unit_id={r['unit_id']!r} is not a billing unit")
    stored: dict[tuple, Decimal] = {}
    keys = [(r["unit_id"], r["kind"], r["month"]) for r in rows]
    for start in range(0, len(keys), 5000):
        chunk = keys[start:start + 5000]
        for u, k, m, v in session.execute(select(MeterReading.unit_id, MeterReading.kind, MeterReading.month,
                                                 MeterReading.reading)
                                          .where(tuple_(MeterReading.unit_id, MeterReading.kind, MeterReading.month).in_(chunk))):
            stored[(u, k, m)] = v
    new = []
    for i, r in enumerate(rows):
        old = stored.get((r["unit_id"], r["kind"], r["month"]))
        if old is None:
            new.append(r)
        elif old != r["reading"]:
            raise Conflict(f"line {i + 2}: {r['unit_id']}/{r['kind']}/{r['month']} is already stored as {old}, "
                           f"not {r['reading']}")
    _bulk_insert(session, MeterReading.__table__, new)
    audit(session, actor, "readings.import", "meter_readings", f"{len(new)} rows", rows=len(rows), inserted=len(new))
    return {"rows": len(rows), "inserted": len(new), "unchanged": len(rows) - len(new)}
