"""Payments, allocation oldest bill first, credit, payment intents and the signed callback.

A payment belongs to a unit. Its amount is allocated to the unit's unpaid bills in month
order (oldest first); whatever is left is *credit*, applied automatically to the next
bills as they are issued. ``reference`` is unique in a community: recording the same payment twice
returns the first one (and a different amount under the same reference is refused).

Concurrency (PostgreSQL, READ COMMITTED): whatever changes a unit's allocations first
locks the unit's row (``SELECT ... FOR UPDATE`` on ``billing_units``), so two payments
for one unit (two intents settled at once, a callback and the front desk, a bill run's
credit) allocate one after the other, each seeing the other's allocations: a bill is never
allocated more than its total, and ``Bill.paid`` never loses an update. A callback locks
its intent before the unit (always that order), so concurrent duplicates of one callback
settle it once and the others answer ``repeated``. SQLite serialises writers anyway
(``BEGIN IMMEDIATE``); the row lock is a no-op there.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import uuid
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.auth import SYSTEM, Actor, audit
from services.billing.models import Allocation, Bill, Payment, PaymentIntent, Unit
from services.billing.money import ZERO, fen, parse_money
from services.db import _community_of, get_by_id, utcnow
from services.errors import Conflict, Forbidden, InvalidInput, NotAuthenticated, UnknownEntity
from services.parsing import check_text

__all__ = [
    "SIGNATURE_HEADER", "account", "apply_all_credit", "apply_credit", "create_intent",
    "handle_callback", "history", "record_payment", "sign",
]

SIGNATURE_HEADER = "X-Twin-Signature"
_INTENT_ID = re.compile(r"[0-9a-f]{32}")
METHODS = ("cash", "bank", "wechat", "alipay", "card", "gateway")


def _unit(session: Session, unit_id: str, *, lock: bool = False) -> Unit:
    """Return the unit (``lock``: its row locked until the transaction ends, re-read)."""
    unit = get_by_id(session, Unit, unit_id, with_for_update=lock, populate_existing=lock)
    if unit is None:
        raise UnknownEntity(f"unit_id={unit_id!r} is not a billing unit")
    return unit


def _unallocated(session: Session, unit_id: str) -> list[tuple[Payment, Decimal]]:
    # the unit's allocations only: summing the whole table per payment grew with every
    # payment booked (a month-end peak books tens of thousands)
    allocated = (select(Allocation.payment_id, func.sum(Allocation.amount).label("used"))
                 .join(Payment, Payment.id == Allocation.payment_id).where(Payment.unit_id == unit_id)
                 .group_by(Allocation.payment_id).subquery())
    rows = session.execute(
        select(Payment, func.coalesce(allocated.c.used, 0)).outerjoin(allocated, allocated.c.payment_id == Payment.id)
        .where(Payment.unit_id == unit_id).order_by(Payment.received_on, Payment.id)).all()
    return [(p, p.amount - Decimal(used)) for p, used in rows if p.amount - Decimal(used) > 0]


def apply_credit(session: Session, unit_id: str, on: date | None = None, *, locked: bool = False) -> Decimal:
    """Allocate the unit's unallocated payments to its unpaid bills, oldest bill first.

    Returns the amount allocated now. Allocations are dated ``on`` (default: the later of
    the payment's date and today's). Locks the unit's row first (see the module's notes;
    ``locked``: the caller already holds that lock in this transaction), then reads its
    bills afresh (``populate_existing``: never a copy loaded before the lock).
    """
    if not locked:
        _unit(session, unit_id, lock=True)
    open_bills = list(session.scalars(select(Bill).where(Bill.unit_id == unit_id, Bill.status != "paid")
                                      .order_by(Bill.month, Bill.id)
                                      .execution_options(populate_existing=True)))
    if not open_bills:
        return ZERO
    done = ZERO
    for payment, available in _unallocated(session, unit_id):
        for bill in open_bills:
            if available <= 0:
                break
            owed = bill.total - bill.paid
            if owed <= 0:
                continue
            part = min(owed, available)
            applied = max(payment.received_on, on) if on else payment.received_on
            session.add(Allocation(payment_id=payment.id, bill_id=bill.id, amount=part, applied_on=applied))
            bill.paid += part
            bill.status = "paid" if bill.paid >= bill.total else "partial"
            available -= part
            done += part
    session.flush()
    return done


def apply_all_credit(session: Session, on: date) -> Decimal:
    """Apply every unit's credit to its unpaid bills (after a bill run)."""
    used = select(Allocation.payment_id, func.sum(Allocation.amount).label("used")).group_by(Allocation.payment_id).subquery()
    units = session.scalars(select(Payment.unit_id).outerjoin(used, used.c.payment_id == Payment.id)
                            .where(Payment.amount > func.coalesce(used.c.used, 0)).distinct())
    # sorted: two runs lock units in the same order (no deadlock between them)
    return sum((apply_credit(session, u, on) for u in sorted(units)), ZERO)


def record_payment(session: Session, actor: Actor, *, unit_id: str, amount: object, reference: str,
                   received_on: date | None = None, method: str = "cash") -> tuple[Payment, bool]:
    """Record a payment and allocate it; return ``(payment, created)`` (idempotent by reference)."""
    value = parse_money(amount, "amount", positive=True)
    if not reference or len(reference) > 128:
        raise InvalidInput(f"reference={reference!r} must be 1-128 characters")
    if method not in METHODS:
        raise InvalidInput(f"method={method!r} must be one of {', '.join(METHODS)}")
    # the unit's lock first: a concurrent call with the same reference waits here, then
    # finds the first payment (idempotent) instead of failing on the unique index
    unit = get_by_id(session, Unit, unit_id, with_for_update=True, populate_existing=True)
    existing = session.scalar(select(Payment).where(Payment.reference == reference,  # unique per community
                                                    Payment.community == _community_of(session)))
    if existing is not None:
        if existing.unit_id != unit_id or existing.amount != value:
            raise Conflict(f"reference={reference!r} is already used by a payment of {existing.amount} "
                           f"for unit {existing.unit_id!r}")
        return existing, False
    if unit is None:
        raise UnknownEntity(f"unit_id={unit_id!r} is not a billing unit")
    payment = Payment(unit_id=unit_id, amount=value, received_on=received_on or utcnow().date(),
                      method=method, reference=reference, recorded_by=actor.username)
    session.add(payment)
    session.flush()
    allocated = apply_credit(session, unit_id, locked=True)
    audit(session, actor, "payment.record", "payment", payment.id, unit=unit_id, amount=value,
          reference=reference, allocated=allocated)
    return payment, True


def history(session: Session, unit_id: str, *, limit: int = 50) -> list[dict[str, Any]]:
    """A unit's payments, newest first: ``id``, ``amount`` (decimal string), ``received_on``,
    ``method``, ``reference``."""
    rows = session.scalars(select(Payment).where(Payment.unit_id == unit_id)
                           .order_by(Payment.received_on.desc(), Payment.id.desc()).limit(limit))
    return [{"id": p.id, "amount": str(fen(p.amount)), "received_on": p.received_on.isoformat(),
             "method": p.method, "reference": p.reference} for p in rows]


def account(session: Session, unit_id: str) -> dict[str, Any]:
    """Return a unit's account: billed, paid, outstanding, credit (decimal strings)."""
    _unit(session, unit_id)
    billed, paid = session.execute(select(func.coalesce(func.sum(Bill.total), 0), func.coalesce(func.sum(Bill.paid), 0))
                                   .where(Bill.unit_id == unit_id)).one()
    received = session.scalar(select(func.coalesce(func.sum(Payment.amount), 0)).where(Payment.unit_id == unit_id))
    billed, paid, received = Decimal(billed), Decimal(paid), Decimal(received)
    return {"unit_id": unit_id, "billed": str(fen(billed)), "paid": str(fen(paid)),
            "outstanding": str(fen(billed - paid)), "received": str(fen(received)),
            "credit": str(fen(received - paid))}


# -- payment intents and the gateway callback ---------------------------------------------
def create_intent(session: Session, actor: Actor, unit_id: str, amount: object) -> PaymentIntent:
    """Start a gateway payment for a unit (owners: their own units only)."""
    value = parse_money(amount, "amount", positive=True)
    _unit(session, unit_id)
    if actor.role == "owner" and unit_id not in actor.unit_ids:
        raise Forbidden(f"owners may pay for their own units only, not {unit_id!r}")
    if actor.role not in ("owner", "operator", "admin"):
        raise Forbidden(f"role {actor.role!r} may not start payments")
    intent = PaymentIntent(id=uuid.uuid4().hex, unit_id=unit_id, amount=value, created_by=actor.username)
    session.add(intent)
    audit(session, actor, "payment_intent.create", "payment_intent", intent.id, unit=unit_id, amount=value)
    return intent


def sign(key: bytes, body: bytes) -> str:
    """Return the signature header value of a callback body: ``sha256=<hex HMAC>``."""
    return "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()


def handle_callback(session: Session, key: bytes, body: bytes, signature: str | None) -> dict[str, Any]:
    """Verify and apply a gateway callback; repeated callbacks change nothing.

    The body is JSON ``{"intent_id", "status": "succeeded"|"failed", "amount", "gateway_ref"}``
    signed with HMAC-SHA256 (header ``X-Twin-Signature: sha256=<hex>``).
    """
    # a header is decoded as Latin-1: non-ASCII text cannot be a hex HMAC (and would make
    # compare_digest raise), so it is refused like a wrong signature
    if not signature or not signature.isascii() or not hmac.compare_digest(signature.strip(), sign(key, body)):
        raise NotAuthenticated("callback signature is missing or wrong")
    try:
        msg = json.loads(body)
        intent_id, status = msg["intent_id"], msg["status"]
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidInput(f"callback body must be JSON with intent_id and status ({exc})") from None
    if not isinstance(intent_id, str) or not _INTENT_ID.fullmatch(intent_id):
        raise InvalidInput(f"intent_id={str(intent_id)[:80]!r} is not a payment intent id (32 hex digits)")
    if status not in ("succeeded", "failed"):
        raise InvalidInput(f"status={str(status)[:80]!r} must be 'succeeded' or 'failed'")
    intent = session.get(PaymentIntent, intent_id, with_for_update=True)
    if intent is None:
        raise UnknownEntity(f"payment intent {intent_id!r} does not exist")
    if intent.status != "pending":
        if intent.status != status:
            raise Conflict(f"payment intent {intent_id} is already {intent.status}, cannot become {status}")
        return {"intent_id": intent.id, "status": intent.status, "payment_id": intent.payment_id, "repeated": True}
    amount = parse_money(msg.get("amount", str(intent.amount)), "amount", positive=True)
    if amount != intent.amount:
        raise InvalidInput(f"amount={amount} differs from the intent's {intent.amount}")
    intent.status, intent.settled_at = status, utcnow()
    intent.gateway_ref = check_text(str(msg.get("gateway_ref") or ""), "gateway_ref")[:128] or None
    if status == "succeeded":
        payment, _ = record_payment(session, SYSTEM, unit_id=intent.unit_id, amount=str(intent.amount),
                                    reference=f"intent:{intent.id}", method="gateway")
        intent.payment_id = payment.id
    audit(session, SYSTEM, "payment_intent.settle", "payment_intent", intent.id, status=status)
    session.flush()
    return {"intent_id": intent.id, "status": intent.status, "payment_id": intent.payment_id, "repeated": False}
