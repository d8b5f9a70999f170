"""Concurrent payments on one unit: no bill paid twice, no lost update, no lost callback.

Each test holds one transaction open (uncommitted, its locks held) while a second one, in
another thread and another connection, does the conflicting thing; then the first commits
and the second finishes. Without the unit's row lock (services.billing.payments) the
second transaction on PostgreSQL read both bills as open, allocated the same bill again
and overwrote ``Bill.paid``: two allocations of 100.00 on a 100.00 bill, ``paid`` 100.00,
the second bill left open. Expected states are worked out by hand below.
"""

from __future__ import annotations

import json
import threading
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from services.auth import SYSTEM
from services.billing.models import Allocation, Bill, Payment, PaymentIntent, Unit
from services.billing.payments import handle_callback, record_payment, sign
from services.billing.reports import reconciliation
from services.db import Database

D = Decimal
KEY = b"k" * 32
INTENT_1 = "1" * 32
INTENT_2 = "2" * 32


@pytest.fixture
def db(db_url):
    """A unit U1 with two open bills of 100.00 (January, February) and two intents of 100.00."""
    database = Database(db_url)
    database.migrate()
    with database.transaction() as s:
        s.add(Unit(id="U1", kind="apartment", area_m2=D("50.00")))
        s.flush()
        for month, due in (("2026-01", date(2026, 2, 15)), ("2026-02", date(2026, 3, 15))):
            s.add(Bill(id=f"{month}/U1", unit_id="U1", month=month, issued_on=date(2026, 2, 1), due_on=due,
                       total=D("100.00"), paid=D("0.00"), status="open", rules_version="test"))
        for iid in (INTENT_1, INTENT_2):
            s.add(PaymentIntent(id=iid, unit_id="U1", amount=D("100.00"), created_by="owner"))
    yield database
    database.dispose()


def _callback(iid: str) -> tuple[bytes, str]:
    body = json.dumps({"intent_id": iid, "status": "succeeded", "amount": "100.00", "gateway_ref": iid[:8]}).encode()
    return body, sign(KEY, body)


def _race(db: Database, first, second) -> object:
    """Run ``first(session)`` and keep it uncommitted while ``second(session)`` starts in a
    thread; commit the first, then wait for the second. Return the second's result."""
    out: dict[str, object] = {}

    def other() -> None:
        try:
            with db.transaction() as s:
                out["result"] = second(s)
        except BaseException as exc:  # reported to the test below
            out["error"] = exc

    holder = db.session()
    db.begin_write(holder)
    try:
        first(holder)
        holder.flush()
        t = threading.Thread(target=other)
        t.start()
        t.join(1.0)  # the second one now waits on a lock (or would race without one)
        holder.commit()
    finally:
        holder.close()
    t.join(30)
    assert not t.is_alive(), "the second transaction never finished (deadlock?)"
    if "error" in out:
        raise out["error"]
    return out["result"]


def _state(db: Database) -> dict[str, tuple[Decimal, Decimal, str]]:
    """Per bill: (paid column, sum of its allocations, status)."""
    with db.transaction(write=False) as s:
        alloc = dict(s.execute(select(Allocation.bill_id, func.sum(Allocation.amount)).group_by(Allocation.bill_id)).all())
        return {b.id: (b.paid, D(alloc.get(b.id, 0)), b.status) for b in s.scalars(select(Bill).order_by(Bill.id))}


def test_two_intents_of_one_unit_settled_at_once_pay_two_bills(db):
    b1, s1 = _callback(INTENT_1)
    b2, s2 = _callback(INTENT_2)
    second = _race(db, lambda s: handle_callback(s, KEY, b1, s1), lambda s: handle_callback(s, KEY, b2, s2))
    assert second["repeated"] is False and second["payment_id"] is not None
    # 200.00 paid against two bills of 100.00, oldest first: each bill paid once, exactly
    assert _state(db) == {"2026-01/U1": (D("100.00"), D("100.00"), "paid"),
                          "2026-02/U1": (D("100.00"), D("100.00"), "paid")}
    with db.transaction(write=False) as s:
        assert s.scalar(select(func.count()).select_from(Payment)) == 2
        assert reconciliation(s)["balanced"] is True


def test_duplicate_callbacks_at_once_book_one_payment(db):
    body, sig = _callback(INTENT_1)
    second = _race(db, lambda s: handle_callback(s, KEY, body, sig), lambda s: handle_callback(s, KEY, body, sig))
    assert second["repeated"] is True
    assert _state(db) == {"2026-01/U1": (D("100.00"), D("100.00"), "paid"),
                          "2026-02/U1": (D("0.00"), D("0"), "open")}
    with db.transaction(write=False) as s:
        assert [p.reference for p in s.scalars(select(Payment))] == [f"intent:{INTENT_1}"]


def test_same_front_desk_payment_at_once_is_recorded_once(db):
    def pay(s):
        return record_payment(s, SYSTEM, unit_id="U1", amount="150.00", reference="BANK-7", method="bank")

    payment, created = _race(db, pay, pay)
    assert created is False and payment.reference == "BANK-7"
    # 150.00: January 100.00 paid, February 50.00 of 100.00
    assert _state(db) == {"2026-01/U1": (D("100.00"), D("100.00"), "paid"),
                          "2026-02/U1": (D("50.00"), D("50.00"), "partial")}


def test_callback_and_front_desk_at_once_leave_credit_not_overpayment(db):
    body, sig = _callback(INTENT_1)

    def desk(s):
        return record_payment(s, SYSTEM, unit_id="U1", amount="180.00", reference="CASH-1")

    _race(db, lambda s: handle_callback(s, KEY, body, sig), desk)
    # 100.00 (gateway) + 180.00 (desk) = 280.00 against 200.00 billed: both bills paid, 80.00 credit
    assert _state(db) == {"2026-01/U1": (D("100.00"), D("100.00"), "paid"),
                          "2026-02/U1": (D("100.00"), D("100.00"), "paid")}
    with db.transaction(write=False) as s:
        rec = reconciliation(s)
        assert rec["balanced"] is True
