"""Meter readings: CSV import (``unit_id,kind,month,reading``), all or nothing.

``reading`` is the cumulative meter value (kWh or m³) at the end of ``month`` (YYYY-MM);
``kind`` a utility of the fee rules (``electricity``, ``water``, ``gas``). Months and
readings are parsed from ASCII digits only (:mod:`services.parsing`); a reading must fit its
column ``Numeric(14, 3)`` (at most 99,999,999,999.999, 3 decimals). Importing the same row
again is a no-op; a different value for a stored (unit, kind, month) is refused, and any
bad row refuses the whole file (nothing is stored), naming the line and the value.
"""

from __future__ import annotations

import csv
import io
from decimal import Decimal

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from services.auth import Actor, audit
from services.billing.models import MeterReading, Unit
from services.billing.money import parse_quantity
from services.billing.run import _bulk_insert
from services.errors import Conflict, InvalidInput
from services.parsing import check_text, parse_month

__all__ = ["KINDS", "import_readings_csv"]

KINDS = ("electricity", "water", "gas")
COLUMNS = ("unit_id", "kind", "month", "reading")


def _rows(text: str):
    """Yield ``(line, row)`` of the CSV; a malformed file raises naming the line."""
    read = [0]  # lines handed to the reader so far: the line being parsed when it fails

    def lines():
        for line in io.StringIO(text):
            read[0] += 1
            yield line

    reader = csv.DictReader(lines())
    try:
        missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise InvalidInput(f"readings CSV lacks column(s) {', '.join(missing)} (needs {', '.join(COLUMNS)})")
        for row in reader:
            yield read[0], row
    except csv.Error as exc:
        why = (f"a field is longer than {csv.field_size_limit()} characters" if "field larger" in str(exc)
               else f"not valid CSV ({exc})")
        raise InvalidInput(f"line {read[0]}: {why}") from None


def _parse(text: str) -> tuple[list[dict], list[int]]:
    """Return the rows to store and the line of each."""
    rows, lines, seen = [], [], set()
    for line, r in _rows(text):
        kind, month, unit_id = ((r[c] or "").strip() for c in ("kind", "month", "unit_id"))
        if kind not in KINDS:
            raise InvalidInput(f"line {line}: kind={kind[:40]!r} must be one of {', '.join(KINDS)}")
        try:
            check_text(unit_id, "unit_id")
            parse_month(month)
            value = parse_quantity((r["reading"] or "").strip(), "reading")
        except InvalidInput as exc:
            raise InvalidInput(f"line {line}: {exc}") from None
        key = (unit_id, kind, month)
        if key in seen:
            raise InvalidInput(f"line {line}: duplicate reading for {unit_id}/{kind}/{month}")
        seen.add(key)
        rows.append({"unit_id": unit_id, "kind": kind, "month": month,
                     "reading": value.quantize(Decimal("0.001")), "source": "csv"})
        lines.append(line)
    return rows, lines


def import_readings_csv(session: Session, actor: Actor, text: str) -> dict[str, int]:
    """Import readings; return ``{"rows", "inserted", "unchanged"}``."""
    rows, lines = _parse(text)
    units = set(session.scalars(select(Unit.id)))
    for i, r in enumerate(rows):
        if r["unit_id"] not in units:
            raise InvalidInput(f"line {lines[i]}: unit_id={r['unit_id']!r} is not a billing unit")
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
            raise Conflict(f"line {lines[i]}: {r['unit_id']}/{r['kind']}/{r['month']} is already stored as {old}, "
                           f"not {r['reading']}")
    _bulk_insert(session, MeterReading.__table__, new)
    audit(session, actor, "readings.import", "meter_readings", f"{len(new)} rows", rows=len(rows), inserted=len(new))
    return {"rows": len(rows), "inserted": len(new), "unchanged": len(rows) - len(new)}
