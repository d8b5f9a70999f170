"""The monthly bill run: compute every unit's bill for a month, preview or write it.

Idempotent: a unit that already has a bill for the month is left untouched, so running a
month again writes nothing and reports the same ``bills`` and ``total``. Lines per unit:

- ``property_fee``: area (m²) × rate (yuan/m²/month) from the first matching rule;
- ``parking``: the monthly fee of the space's level;
- ``electricity`` / ``water`` / ``gas``: for a unit a meter feeds, the use of the month
  from the live readings (docs/metering.md; ``source`` ``live`` or ``estimated``);
  otherwise use = imported reading(month) − reading(month − 1) (``source`` ``import``),
  priced on the tiers (yearly tiers count the use since January). The line's ``detail``
  names its ``source``, and the description says when it is estimated;
- ``shared:<name>``: the unit's share of each 公摊 amount by area (largest remainder).

Each line is rounded to the fen (ROUND_HALF_UP); the bill total is the sum of its lines.
After writing, unallocated payments (credit) are applied to the new bills, oldest first.
"""

from __future__ import annotations

import sys
from calendar import monthrange
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.billing.models import Bill, BillLine, MeterReading, Unit
from services.billing.money import MONEY, QUANTITY, ZERO, allocate_by_weight, fen, fits, tiered_charge
from services.billing.rules import FeeRules
from services.db import utcnow
from services.errors import InvalidInput
from services.parsing import parse_month

__all__ = ["BillDraft", "RunResult", "bill_id", "compute_bills", "due_date", "parse_month", "run_bills"]

#: a line's description column (String(255)); many tiers make a long one, cut to fit
_DESCRIPTION_CHARS = BillLine.__table__.c.description.type.length


def _shift(month: str, delta: int) -> str:
    y, m = parse_month(month)
    idx = y * 12 + (m - 1) + delta
    return f"{idx // 12:04d}-{idx % 12 + 1:02d}"


def due_date(month: str, rules: FeeRules) -> tuple[date, date]:
    """Return ``(issued_on, due_on)``: the 1st of the next month and ``due_days`` later."""
    y, m = parse_month(month)
    issued = date(y, m, monthrange(y, m)[1]) + timedelta(days=1)
    return issued, issued + timedelta(days=rules.due_days)


def bill_id(month: str, unit_id: str) -> str:
    """The id of a unit's bill for a month."""
    return f"{month}/{unit_id}"


@dataclass
class BillDraft:
    """A computed bill before it is written."""

    unit_id: str
    building_id: str | None
    lines: list[dict[str, Any]] = field(default_factory=list)

    @property
    def total(self) -> Decimal:
        return sum((line["amount"] for line in self.lines), ZERO)


@dataclass
class RunResult:
    """Outcome of a run or preview (``bills``/``total``: every bill of the month)."""

    month: str
    bills: int
    total: Decimal
    created: int
    skipped: int
    preview: bool
    warnings: list[str] = field(default_factory=list)
    drafts: list[BillDraft] = field(default_factory=list)

    def as_json(self, *, with_drafts: int = 0) -> dict[str, Any]:
        body = {"month": self.month, "bills": self.bills, "total": str(self.total), "created": self.created,
                "skipped": self.skipped, "preview": self.preview, "warnings": self.warnings[:100],
                "warning_count": len(self.warnings)}
        if with_drafts:
            body["items"] = [{"unit_id": d.unit_id, "total": str(d.total),
                              "lines": [{k: (str(v) if isinstance(v, Decimal) else v) for k, v in ln.items()}
                                        for ln in d.lines]} for d in self.drafts[:with_drafts]]
        return body


def _readings(session: Session, months: set[str], cid: str) -> dict[tuple[str, str, str], Decimal]:
    t = MeterReading.__table__.c
    rows = session.connection().execute(select(t.unit_id, t.kind, t.month, t.reading)
                                        .where(t.month.in_(sorted(months)), t.community == cid))
    return {(u, k, m): r for u, k, m, r in rows}


def _metered_line(util, unit_id: str, month: str, use, warnings: list[str]) -> dict | None:
    """The line of a unit a meter feeds, from the live readings."""
    used = use.consumption
    if used < 0:
        warnings.append(f"{unit_id}: {util.name} use {used} in {month} is negative, not billed")
        return None
    before = use.before if util.period == "year" else Decimal(0)
    amount, parts = tiered_charge(used, util.tiers, before)
    tiers = " + ".join(f"{q}×{p}" for q, p in parts)
    since = f", {before} {util.unit} earlier this year" if before else ""
    mark = " (estimated)" if use.source == "estimated" else ""
    return {"item": util.name, "description": f"{util.name} {used} {util.unit}{since}{mark}: {tiers}"[:_DESCRIPTION_CHARS],
            "quantity": used, "unit_price": None, "amount": fen(amount),
            "detail": {"source": use.source, "devices": use.devices, "reset": use.reset}}


def _utility_line(util, unit_id: str, month: str, prev_month: str, year_start: str, readings,
                  warnings: list[str]) -> dict | None:
    now_r = readings.get((unit_id, util.name, month))
    if now_r is None:
        return None
    prev_r = readings.get((unit_id, util.name, prev_month))
    if prev_r is None:
        warnings.append(f"{unit_id}: no {util.name} reading for {prev_month}, {month} use not billed")
        return None
    used = now_r - prev_r
    if used < 0:
        warnings.append(f"{unit_id}: {util.name} reading fell from {prev_r} to {now_r} in {month}, not billed")
        return None
    before = Decimal(0)
    if util.period == "year" and prev_month != year_start:
        start_r = readings.get((unit_id, util.name, year_start))
        if start_r is None:
            warnings.append(f"{unit_id}: no {util.name} reading for {year_start}; yearly tiers start at 0")
        else:
            before = prev_r - start_r
    amount, parts = tiered_charge(used, util.tiers, before)
    tiers = " + ".join(f"{q}×{p}" for q, p in parts)
    since = f", {before} {util.unit} earlier this year" if before else ""
    return {"item": util.name, "description": f"{util.name} {used} {util.unit}{since}: {tiers}"[:_DESCRIPTION_CHARS],
            "quantity": used, "unit_price": None, "amount": fen(amount), "detail": {"source": "import"}}


def _check_fits(draft: BillDraft, month: str) -> None:
    """Refuse (422) a bill whose amounts or quantities its columns cannot hold."""
    where = f"unit {draft.unit_id!r} in {month}"
    for ln in draft.lines:
        fits(ln["amount"], f"{where}: {ln['item']} amount", MONEY)
        fits(ln["quantity"], f"{where}: {ln['item']} quantity", QUANTITY)
    fits(draft.total, f"{where}: bill total", MONEY)


def compute_bills(session: Session, rules: FeeRules, month: str, *, skip_existing: bool = True,
                  community=None) -> tuple[list[BillDraft], list[str], int]:
    """Compute drafts for every unit without a bill for ``month``; return drafts, warnings, skipped.

    With ``community``, units its meters feed are billed from the live readings. Only the
    session's community (:func:`services.db._community_of`) is read: these Core statements
    bypass the ORM's community filter.
    """
    from services.db import _community_of

    cid = _community_of(session)
    y, _ = parse_month(month)
    prev_month, year_start = _shift(month, -1), f"{y - 1:04d}-12"
    t = Unit.__table__.c
    conn = session.connection()
    units = conn.execute(select(t.id, t.kind, t.building_id, t.area_m2, t.level, t.building_type, t.floor)
                         .where(t.community == cid).order_by(t.id)).all()
    b = Bill.__table__.c
    existing = (set(conn.execute(select(b.unit_id).where(b.month == month, b.community == cid)).scalars())
                if skip_existing else set())
    if len(existing) >= len(units) and all(u.id in existing for u in units):
        return [], [], len(existing)
    readings = _readings(session, {month, prev_month, year_start}, cid) if rules.utilities else {}
    metered = {}
    if community is not None and rules.utilities:
        from services.metering.billing import metered_use

        metered = metered_use(conn, community, month, yearly={u.name for u in rules.utilities if u.period == "year"},
                              cid=cid)
    shares: dict[str, list[tuple[str, Decimal]]] = {}
    for charge in rules.shared_charges:
        weights = [(u.id, u.area_m2) for u in units if u.kind in charge.kinds
                   and (charge.scope == "community" or u.building_id == charge.scope)]
        for unit_id, share in allocate_by_weight(charge.amount, weights).items():
            shares.setdefault(unit_id, []).append((charge.name, share))
    warnings: list[str] = []
    drafts: list[BillDraft] = []
    for unit in units:
        if unit.id in existing:
            continue
        draft = BillDraft(unit.id, unit.building_id)
        if unit.kind == "parking":
            fee = rules.parking.get(unit.level or "default", rules.parking.get("default"))
            if fee is None:
                raise InvalidInput(f"no parking fee for level {unit.level!r} (unit {unit.id!r}) in the fee rules")
            draft.lines.append({"item": "parking", "description": f"parking ({unit.level or 'default'})",
                                "quantity": Decimal(1), "unit_price": fee, "amount": fen(fee), "detail": None})
        rate = rules.property_rate(unit.kind, unit.building_type, unit.floor)
        if rate is None:
            raise InvalidInput(f"no property_fee rule matches unit {unit.id!r} (kind={unit.kind}, "
                               f"building_type={unit.building_type}, floor={unit.floor})")
        if rate > 0:
            draft.lines.append({"item": "property_fee", "description": f"property fee {unit.area_m2} m² × {rate}",
                                "quantity": unit.area_m2, "unit_price": rate, "amount": fen(unit.area_m2 * rate),
                                "detail": None})
        for util in rules.utilities:
            if unit.kind in util.kinds:
                use = metered.get((unit.id, util.name))
                # a metered unit without any live reading this month keeps its imported ones
                line = (_metered_line(util, unit.id, month, use, warnings) if use is not None and use.has_reading
                        else _utility_line(util, unit.id, month, prev_month, year_start, readings, warnings))
                if line is not None:
                    draft.lines.append(line)
        for name, share in shares.get(unit.id, []):
            draft.lines.append({"item": "shared", "description": f"{name} (by area {unit.area_m2} m²)",
                                "quantity": unit.area_m2, "unit_price": None, "amount": share, "detail": None})
        _check_fits(draft, month)
        drafts.append(draft)
    return drafts, warnings, len(existing)


def _bulk_insert(session: Session, table, rows: list[dict]) -> None:
    """Insert many rows fast (COPY on PostgreSQL, executemany elsewhere), stamped with the
    session's community (these paths bypass the ORM's stamping)."""
    if not rows:
        return
    from services.db import ISOLATE_KEY, _community_of

    community, force = _community_of(session), bool(session.info.get(ISOLATE_KEY))
    for row in rows:
        if force or row.get("community") is None:
            row["community"] = community
    if session.get_bind().dialect.name == "postgresql":
        _pg_copy(session, table, rows)
        return
    if session.get_bind().dialect.name == "sqlite":
        _sqlite_executemany(session, table, rows)
        return
    for start in range(0, len(rows), 20_000):
        session.execute(table.insert(), rows[start:start + 20_000])


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_text(v) -> str:
    """One value in PostgreSQL COPY text format."""
    if v is None:
        return "\\N"
    if isinstance(v, str):
        return v.translate(_COPY_ESCAPES)
    if isinstance(v, datetime):
        return v.astimezone(timezone.utc).isoformat()
    if isinstance(v, bool):
        return "t" if v else "f"
    if isinstance(v, dict):
        import json as _json

        return _json.dumps(v, ensure_ascii=False).translate(_COPY_ESCAPES)
    return str(v)


def _pg_copy(session: Session, table, rows: list[dict]) -> None:
    """COPY rows into a PostgreSQL table as text, in chunks of 50,000."""
    cols = list(rows[0])
    conn = session.connection().connection.driver_connection
    with conn.cursor() as cur:
        with cur.copy(f"COPY {table.name} ({', '.join(cols)}) FROM STDIN") as copy:
            for start in range(0, len(rows), 50_000):
                chunk = rows[start:start + 50_000]
                copy.write("".join("\t".join([_copy_text(r[c]) for c in cols]) + "\n" for r in chunk))


def _sqlite_value(v):
    """Convert a value the way SQLAlchemy's SQLite types store it."""
    if isinstance(v, Decimal):
        return str(v)
    if isinstance(v, datetime):
        return v.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(v, date):
        return v.isoformat()
    if isinstance(v, dict):
        import json as _json

        return _json.dumps(v, ensure_ascii=False)
    return v


def _sqlite_executemany(session: Session, table, rows: list[dict]) -> None:
    """Plain DBAPI executemany (SQLite): values converted as SQLAlchemy would."""
    cols = list(rows[0])
    sql = f"INSERT INTO {table.name} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
    cursor = session.connection().connection.driver_connection.cursor()
    try:
        cursor.executemany(sql, ([_sqlite_value(r[c]) for c in cols] for r in rows))
    finally:
        cursor.close()


def run_bills(session: Session, rules: FeeRules, month: str, *, preview: bool = False,
              progress: bool = False, community=None) -> RunResult:
    """Compute, and unless ``preview`` write, the bills of ``month`` (idempotent).

    With ``community``, units fed by its meters are billed from the live readings.
    """
    drafts, warnings, skipped = compute_bills(session, rules, month, community=community)
    issued, due = due_date(month, rules)
    now = utcnow()
    if not preview and drafts:
        if progress:
            print(f"writing {len(drafts)} bills for {month}", file=sys.stderr)
        bills, lines = [], []
        for d in drafts:
            bid = bill_id(month, d.unit_id)
            total = d.total
            bills.append({"id": bid, "unit_id": d.unit_id, "month": month, "issued_on": issued, "due_on": due,
                          "total": total, "paid": ZERO, "status": "paid" if total == 0 else "open", "created_at": now,
                          "rules_version": rules.version})
            for ln in d.lines:
                lines.append({"bill_id": bid, **ln})
        _bulk_insert(session, Bill.__table__, bills)
        _bulk_insert(session, BillLine.__table__, lines)
        from services.billing.payments import apply_all_credit

        apply_all_credit(session, issued)
    from services.db import _community_of

    count, total = session.execute(select(func.count(), func.coalesce(func.sum(Bill.total), 0))
                                   .where(Bill.month == month, Bill.community == _community_of(session))).one()
    total = Decimal(total)
    if preview:
        count += len(drafts)
        total += sum((d.total for d in drafts), ZERO)
    return RunResult(month, int(count), fen(Decimal(total)), 0 if preview else len(drafts), skipped, preview,
                     warnings, drafts)
