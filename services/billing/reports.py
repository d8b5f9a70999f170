"""Late fees, arrears ageing, collection rate, reconciliation, dunning, CSV export.

Late fee (违约金) of a bill as of day D: for every day after ``due_on + grace_days`` up to
and including D, ``rate_per_day`` × the principal still unpaid that day (a payment
allocated on day X counts from day X), capped at ``cap_ratio`` × the bill's total, rounded
once to the fen (ROUND_HALF_UP). It is reported (statements, arrears, reminders), never
added silently to a bill.

Dunning is by formal written reminder only: Civil Code art. 944 forbids a property
company to cut water, power, heat or gas to collect fees, and nothing here offers it.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal, localcontext
from typing import Any, Iterable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.auth import Actor, audit
from services.billing.models import Allocation, Bill, Payment, Unit
from services.billing.money import ZERO, fen
from services.billing.rules import LateFee
from services.db import utcnow
from services.models import Notification, User, UserUnit

__all__ = ["AGEING_BUCKETS", "arrears", "collection_rate", "late_fee", "reconciliation", "run_dunning", "to_csv"]

AGEING_BUCKETS = ("1-30", "31-60", "61-90", "90+")


def late_fee(total: Decimal, due_on: date, payments: Iterable[tuple[date, Decimal]], as_of: date,
             rule: LateFee) -> Decimal:
    """Return the late fee of one bill as of ``as_of`` (see the module notes)."""
    try:
        start = due_on + timedelta(days=rule.grace_days + 1)
    except OverflowError:  # grace beyond year 9999: never late
        return ZERO
    if as_of < start:
        return ZERO
    with localcontext() as ctx:
        ctx.prec = 60  # bounded inputs (money, ratio, days) multiply exactly
        outstanding = total
        fee = Decimal(0)
        day = start
        for paid_on, amount in sorted(payments):
            if paid_on > as_of:
                break
            if paid_on > day:
                fee += outstanding * rule.rate_per_day * (paid_on - day).days
                day = paid_on
            outstanding -= amount
        if outstanding > 0:
            fee += outstanding * rule.rate_per_day * ((as_of - day).days + 1)
        return fen(min(fee, total * rule.cap_ratio))


def _bucket(days: int) -> str:
    return "1-30" if days <= 30 else "31-60" if days <= 60 else "61-90" if days <= 90 else "90+"


def arrears(session: Session, as_of: date, rule: LateFee, *, unit_ids: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """Per unit with overdue bills: outstanding by ageing bucket, late fee, oldest due date."""
    query = select(Bill).where(Bill.status != "paid", Bill.due_on < as_of).order_by(Bill.unit_id, Bill.month)
    if unit_ids is not None:
        query = query.where(Bill.unit_id.in_(list(unit_ids)))
    bills = list(session.scalars(query))
    allocs: dict[str, list[tuple[date, Decimal]]] = defaultdict(list)
    if bills:
        for bid, on, amount in session.execute(select(Allocation.bill_id, Allocation.applied_on, Allocation.amount)
                                               .where(Allocation.bill_id.in_([b.id for b in bills]))):
            allocs[bid].append((on, amount))
    rows: dict[str, dict[str, Any]] = {}
    for b in bills:
        row = rows.setdefault(b.unit_id, {"unit_id": b.unit_id, **{k: ZERO for k in AGEING_BUCKETS},
                                          "outstanding": ZERO, "late_fee": ZERO, "bills": 0, "oldest_due": b.due_on})
        owed = b.total - b.paid
        row[_bucket((as_of - b.due_on).days)] += owed
        row["outstanding"] += owed
        row["late_fee"] += late_fee(b.total, b.due_on, allocs[b.id], as_of, rule)
        row["bills"] += 1
        row["oldest_due"] = min(row["oldest_due"], b.due_on)
    units = {u.id: u for u in session.scalars(select(Unit).where(Unit.id.in_(list(rows))))} if rows else {}
    out = []
    for unit_id, row in rows.items():
        u = units.get(unit_id)
        row.update({"building_id": u.building_id if u else None, "owner": u.owner if u else None,
                    "phone": u.phone if u else None, "days_overdue": (as_of - row["oldest_due"]).days})
        out.append(row)
    return out


def collection_rate(session: Session, *, month: str | None = None) -> list[dict[str, Any]]:
    """Billed, collected and rate (collected / billed) by building and month."""
    query = (select(Unit.building_id, Bill.month, func.count(), func.sum(Bill.total), func.sum(Bill.paid))
             .join(Unit, Unit.id == Bill.unit_id).group_by(Unit.building_id, Bill.month)
             .order_by(Bill.month, Unit.building_id))
    if month:
        query = query.where(Bill.month == month)
    out = []
    for building, m, n, billed, paid in session.execute(query):
        billed, paid = fen(Decimal(billed or 0)), fen(Decimal(paid or 0))
        rate = (paid / billed).quantize(Decimal("0.0001")) if billed else Decimal("1.0000")
        out.append({"building_id": building, "month": m, "bills": n, "billed": billed, "collected": paid,
                    "rate": rate})
    return out


def reconciliation(session: Session) -> dict[str, Any]:
    """Check payments against allocations and bills; list every mismatch."""
    payments = Decimal(session.scalar(select(func.coalesce(func.sum(Payment.amount), 0))))
    allocated = Decimal(session.scalar(select(func.coalesce(func.sum(Allocation.amount), 0))))
    billed = Decimal(session.scalar(select(func.coalesce(func.sum(Bill.total), 0))))
    bills_paid = Decimal(session.scalar(select(func.coalesce(func.sum(Bill.paid), 0))))
    per_bill = (select(Allocation.bill_id, func.sum(Allocation.amount).label("alloc")).group_by(Allocation.bill_id).subquery())
    mismatches = [{"bill_id": bid, "paid": str(paid), "allocated": str(Decimal(alloc or 0))}
                  for bid, paid, alloc in session.execute(
                      select(Bill.id, Bill.paid, per_bill.c.alloc).outerjoin(per_bill, per_bill.c.bill_id == Bill.id)
                      .where(Bill.paid != func.coalesce(per_bill.c.alloc, 0)))]
    per_pay = (select(Allocation.payment_id, func.sum(Allocation.amount).label("alloc")).group_by(Allocation.payment_id).subquery())
    over = [{"payment_id": pid, "amount": str(amount), "allocated": str(Decimal(alloc))}
            for pid, amount, alloc in session.execute(
                select(Payment.id, Payment.amount, per_pay.c.alloc).join(per_pay, per_pay.c.payment_id == Payment.id)
                .where(per_pay.c.alloc > Payment.amount))]
    over_bills = [b for b in session.scalars(select(Bill.id).where(Bill.paid > Bill.total))]
    return {"payments": str(fen(payments)), "allocated": str(fen(allocated)), "credit": str(fen(payments - allocated)),
            "billed": str(fen(billed)), "bills_paid": str(fen(bills_paid)), "outstanding": str(fen(billed - bills_paid)),
            "balanced": not mismatches and not over and not over_bills and allocated == bills_paid,
            "mismatched_bills": mismatches, "overallocated_payments": over, "overpaid_bills": over_bills}


def to_csv(rows: list[dict[str, Any]], columns: list[str] | None = None) -> str:
    """Rows as CSV text (money as plain decimal strings)."""
    buf = io.StringIO()
    columns = columns or (list(rows[0]) if rows else [])
    writer = csv.DictWriter(buf, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if row.get(k) is None else str(row.get(k))) for k in columns})
    return buf.getvalue()


REMINDER_SUBJECT = "物业费缴费提醒（书面催告）/ Formal reminder: property fees outstanding"


def reminder_text(row: dict[str, Any], as_of: date) -> str:
    """The formal reminder (催告函) for one unit: amounts, how to pay, how to dispute."""
    return (
        f"尊敬的业主：截至 {as_of.isoformat()}，房号 {row['unit_id']} 尚有 {row['bills']} 期物业服务费用未缴，"
        f"欠费本金 {fen(row['outstanding'])} 元（最早应缴日 {row['oldest_due'].isoformat()}），"
        f"按合同约定计算的违约金 {fen(row['late_fee'])} 元。请通过业主端在线缴费或到物业服务中心前台缴纳。"
        "如对账单有异议，请联系物业服务中心核对，也可申请调解。\n\n"
        f"Dear owner, as of {as_of.isoformat()} unit {row['unit_id']} has {row['bills']} unpaid bill(s): "
        f"principal {fen(row['outstanding'])} yuan (oldest due {row['oldest_due'].isoformat()}), late fee under "
        f"the service contract {fen(row['late_fee'])} yuan. Please pay online in the owner portal or at the "
        "service centre. If you disagree with the statement, contact the service centre to review it or ask "
        "for mediation."
    )


def run_dunning(session: Session, actor: Actor, as_of: date, rule: LateFee, *, min_days: int = 30) -> dict[str, int]:
    """Queue formal reminders (in-app and email) for units overdue ≥ ``min_days``.

    One reminder per unit and calendar month (``ref`` = ``dunning:<unit>:<YYYY-MM>``).
    """
    rows = [r for r in arrears(session, as_of, rule) if r["days_overdue"] >= min_days]
    period = as_of.strftime("%Y-%m")
    owners: dict[str, list[User]] = defaultdict(list)
    if rows:
        for user, unit_id in session.execute(select(User, UserUnit.unit_id).join(UserUnit, UserUnit.user_id == User.id)
                                             .where(UserUnit.unit_id.in_([r["unit_id"] for r in rows]))):
            owners[unit_id].append(user)
    emails = dict(session.execute(select(Unit.id, Unit.email).where(Unit.id.in_([r["unit_id"] for r in rows]))).all()) if rows else {}
    queued = skipped = 0
    for row in rows:
        ref = f"dunning:{row['unit_id']}:{period}"
        if session.scalar(select(func.count()).select_from(Notification).where(Notification.ref == ref)):
            skipped += 1
            continue
        body = reminder_text(row, as_of)
        for user in owners.get(row["unit_id"], []):
            session.add(Notification(channel="in_app", recipient=user.username, kind="dunning", ref=ref,
                                     subject=REMINDER_SUBJECT, body=body, status="sent", sent_at=utcnow()))
            queued += 1
        addresses = {u.email for u in owners.get(row["unit_id"], []) if u.email}
        if emails.get(row["unit_id"]):
            addresses.add(emails[row["unit_id"]])
        for address in sorted(addresses):
            session.add(Notification(channel="email", recipient=address, kind="dunning", ref=ref,
                                     subject=REMINDER_SUBJECT, body=body, status="pending"))
            queued += 1
        audit(session, actor, "dunning.remind", "unit", row["unit_id"], outstanding=row["outstanding"], ref=ref)
    session.flush()
    return {"units": len(rows), "queued": queued, "already_reminded": skipped}
