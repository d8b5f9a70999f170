"""Billing by hand calculation, through the real app and database (SQLite and PostgreSQL)."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import date
from decimal import Decimal

from sqlalchemy import func, select

from services.billing.models import Bill, BillLine, MeterReading, Payment
from services.billing.money import allocate_by_weight, tiered_charge
from services.billing.reports import late_fee
from services.billing.rules import LateFee

D = Decimal
READINGS = """unit_id,kind,month,reading
A101,electricity,2026-02,1000
A101,electricity,2026-03,1450
A201,electricity,2026-02,500
A201,electricity,2026-03,600
A101,water,2025-12,100
A101,water,2026-02,260
A101,water,2026-03,300
"""


def _import(ops, text=READINGS):
    return ops.client.post("/api/billing/readings", headers={**ops.headers("operator"), "Content-Type": "text/csv"},
                           content=text.encode())


def test_bill_by_hand(ops):
    assert _import(ops).status_code == 200
    r = ops.client.post("/api/billing/runs", headers=ops.headers("operator"), json={"month": "2026-03"})
    assert r.status_code == 200, r.text
    body = r.json()
    # A101: 89.5 m², high-rise (18 floors), floor 1 → 1.80/m²: 161.10
    #   electricity 450 kWh: 240×0.4883 + 160×0.5383 + 50×0.7883 = 117.192 + 86.128 + 39.415 = 242.735 → 242.74
    #   water 40 m³ with 160 m³ used since January (yearly tiers 180/260): 20×5 + 20×7 = 240.00
    #   shared 3000.00 by area over A101 (89.5) and A201 (120): 3000×89.5/209.5 = 1281.6229… → 1281.62
    # A201: floor 2 → 2.00 × 120 = 240.00; electricity 100 kWh × 0.4883 = 48.83; shared 1718.38
    # P001: garage parking 300.00
    a101 = D("161.10") + D("242.74") + D("240.00") + D("1281.62")
    a201 = D("240.00") + D("48.83") + D("1718.38")
    expected_total = a101 + a201 + D("300.00")
    assert body["bills"] == 3 and body["created"] == 3
    assert body["total"] == str(expected_total)
    bill = ops.client.get("/api/billing/bills/2026-03/A101", headers=ops.headers("operator")).json()
    assert bill["total"] == str(a101)
    items = {ln["item"]: ln["amount"] for ln in bill["lines"]}
    assert items == {"property_fee": "161.10", "electricity": "242.74", "water": "240.00", "shared": "1281.62"}


def test_bill_run_is_idempotent_and_preview_writes_nothing(ops):
    _import(ops)
    h = ops.headers("operator")
    preview = ops.client.post("/api/billing/runs", headers=h, json={"month": "2026-03", "preview": True}).json()
    with ops.db.transaction() as s:
        assert s.scalar(select(func.count()).select_from(Bill)) == 0
    first = ops.client.post("/api/billing/runs", headers=h, json={"month": "2026-03"}).json()
    assert preview["total"] == first["total"] and preview["bills"] == first["bills"] == 3
    with ops.db.transaction() as s:
        lines_before = s.scalar(select(func.count()).select_from(BillLine))
    again = ops.client.post("/api/billing/runs", headers=h, json={"month": "2026-03"}).json()
    assert (again["bills"], again["total"], again["created"], again["skipped"]) == (3, first["total"], 0, 3)
    with ops.db.transaction() as s:
        assert s.scalar(select(func.count()).select_from(BillLine)) == lines_before


def test_readings_import_all_or_nothing(ops):
    bad = READINGS + "A101,electricity,2026-04,abc\n"
    r = _import(ops, bad)
    assert r.status_code == 422 and "line 9" in r.json()["detail"] and "abc" in r.json()["detail"]
    with ops.db.transaction() as s:
        assert s.scalar(select(func.count()).select_from(MeterReading)) == 0  # rolled back: nothing half-written
    assert _import(ops).json()["inserted"] == 7
    assert _import(ops).json() == {"rows": 7, "inserted": 0, "unchanged": 7}
    r = _import(ops, "unit_id,kind,month,reading\nA101,electricity,2026-03,1451\n")
    assert r.status_code == 409 and "1450" in r.json()["detail"]


def _pay(ops, amount, ref, on="2026-04-20", unit="A201"):
    return ops.client.post("/api/billing/payments", headers=ops.headers("operator"),
                           json={"unit_id": unit, "amount": amount, "reference": ref, "received_on": on})


def test_payments_oldest_first_partial_and_credit(ops):
    h = ops.headers("operator")
    ops.client.post("/api/billing/runs", headers=h, json={"month": "2026-02"})
    ops.client.post("/api/billing/runs", headers=h, json={"month": "2026-03"})
    # no readings: A201 each month = 240.00 property + 1718.38 shared = 1958.38
    feb = ops.client.get("/api/billing/bills/2026-02/A201", headers=h).json()
    assert feb["total"] == "1958.38"
    r = _pay(ops, "1000.00", "R-1")
    assert r.status_code == 201, r.text
    bills = {b["month"]: b for b in ops.client.get("/api/billing/bills?unit_id=A201", headers=h).json()}
    assert (bills["2026-02"]["paid"], bills["2026-02"]["status"]) == ("1000.00", "partial")
    assert bills["2026-03"]["paid"] == "0.00"
    r = _pay(ops, "3000.00", "R-2")  # 958.38 closes Feb, 1958.38 closes Mar, 83.24 credit
    assert r.json()["account"]["credit"] == "83.24"
    assert r.json()["account"]["outstanding"] == "0.00"
    again = _pay(ops, "3000.00", "R-2")
    assert again.status_code == 201 and again.json()["created"] is False
    assert _pay(ops, "5.00", "R-2").status_code == 409
    # credit goes to the next bill automatically
    ops.client.post("/api/billing/runs", headers=h, json={"month": "2026-04"})
    apr = ops.client.get("/api/billing/bills/2026-04/A201", headers=h).json()
    assert (apr["paid"], apr["status"]) == ("83.24", "partial")
    rec = ops.client.get("/api/billing/reports/reconciliation", headers=h).json()
    assert rec["balanced"] is True and rec["payments"] == "4000.00" and rec["credit"] == "0.00"
    for bad in ("-5", "abc", "1.234", "0"):
        assert _pay(ops, bad, f"bad-{bad}").status_code == 422


def test_late_fee_by_hand():
    rule = LateFee(D("0.003"), 30, D("0.10"))
    due = date(2026, 4, 15)
    # grace: nothing until 2026-05-15; first charged day 2026-05-16
    assert late_fee(D("1000.00"), due, [], date(2026, 5, 15), rule) == D("0.00")
    # 10 days × 1000 × 0.003 = 30.00
    assert late_fee(D("1000.00"), due, [], date(2026, 5, 25), rule) == D("30.00")
    # 400 paid on 2026-05-21: 5 days × 1000 × 0.003 + 5 days × 600 × 0.003 = 15 + 9 = 24.00
    assert late_fee(D("1000.00"), due, [(date(2026, 5, 21), D("400"))], date(2026, 5, 25), rule) == D("24.00")
    # cap: 10% of 1000 = 100 reached after 34 days (102 > 100)
    assert late_fee(D("1000.00"), due, [], date(2026, 6, 18), rule) == D("100.00")


def test_tiers_and_allocation_helpers_by_hand():
    beijing = [(D(240), D("0.4883")), (D(400), D("0.5383")), (None, D("0.7883"))]
    assert tiered_charge(D(450), beijing)[0] == D(240) * D("0.4883") + D(160) * D("0.5383") + D(50) * D("0.7883")
    assert tiered_charge(D(0), beijing)[0] == 0
    assert tiered_charge(D(100), beijing, D(350))[0] == D(50) * D("0.5383") + D(50) * D("0.7883")
    shares = allocate_by_weight(D("100.00"), [("a", D(1)), ("b", D(1)), ("c", D(1))])
    assert shares == {"a": D("33.34"), "b": D("33.33"), "c": D("33.33")}
    assert allocate_by_weight(D("10.00"), []) == {}


def test_arrears_ageing_and_collection_report(ops):
    h = ops.headers("operator")
    for m in ("2026-01", "2026-02", "2026-03"):
        ops.client.post("/api/billing/runs", headers=h, json={"month": m})
    _pay(ops, "300.00", "P-PARK", unit="P001", on="2026-02-10")  # pays P001 January in full
    # due dates: Jan → 2026-02-16, Feb → 2026-03-16, Mar → 2026-04-16; as of 2026-05-20
    rows = {r["unit_id"]: r for r in ops.client.get("/api/billing/reports/arrears?as_of=2026-05-20", headers=h).json()}
    p = rows["P001"]
    assert (p["31-60"], p["61-90"], p["90+"]) == ("300.00", "300.00", "0.00")  # Mar 34 days, Feb 65 days
    a = rows["A201"]
    assert a["90+"] == "1958.38" and a["61-90"] == "1958.38" and a["31-60"] == "1958.38"
    assert a["owner"] == "李四"
    masked = ops.client.get("/api/billing/reports/arrears?as_of=2026-05-20", headers=ops.headers("planner")).json()
    assert {r["unit_id"]: r["phone"] for r in masked}["A201"] == "139****4321"
    coll = ops.client.get("/api/billing/reports/collection?month=2026-01", headers=h).json()
    assert coll == [{"building_id": "B1", "month": "2026-01", "bills": 3,
                     "billed": str(D("1958.38") + D("161.10") + D("1281.62") + D("300.00")),
                     "collected": "300.00",
                     "rate": str((D("300.00") / (D("1958.38") + D("161.10") + D("1281.62") + D("300.00"))).quantize(D("0.0001")))}]
    csv_text = ops.client.get("/api/billing/reports/arrears?as_of=2026-05-20&format=csv", headers=h).text
    assert csv_text.splitlines()[0].startswith("unit_id,building_id,owner,phone,bills,outstanding,1-30")
    assert ops.client.get("/api/billing/reports/arrears", headers=ops.headers("owner101")).status_code == 403


def test_owner_sees_only_own_bills(ops):
    ops.client.post("/api/billing/runs", headers=ops.headers("operator"), json={"month": "2026-03"})
    mine = ops.client.get("/api/billing/bills", headers=ops.headers("owner101")).json()
    assert sorted(b["unit_id"] for b in mine) == ["A101", "P001"]
    assert ops.client.get("/api/billing/bills/2026-03/A201", headers=ops.headers("owner101")).status_code == 403
    units = ops.client.get("/api/billing/units", headers=ops.headers("owner101")).json()
    assert {u["id"]: u["owner"] for u in units} == {"A101": "张三丰", "P001": None}
    assert ops.client.get("/api/billing/bills", headers=ops.headers("plumber")).status_code == 403
    assert ops.client.post("/api/billing/runs", headers=ops.headers("owner101"), json={"month": "2026-03"}).status_code == 403


def _signed(ops, payload: dict, key: bytes | None = None):
    from services.auth import payment_callback_key

    raw = json.dumps(payload).encode()
    key = key if key is not None else payment_callback_key(ops.settings)
    sig = "sha256=" + hmac.new(key, raw, hashlib.sha256).hexdigest()
    return ops.client.post("/api/billing/payment-callback", content=raw,
                           headers={"X-Twin-Signature": sig, "Content-Type": "application/json"})


def test_hmac_callback_good_bad_repeated(ops):
    ops.client.post("/api/billing/runs", headers=ops.headers("operator"), json={"month": "2026-03"})
    h = ops.headers("owner101")
    assert ops.client.post("/api/billing/payment-intents", headers=h,
                           json={"unit_id": "A201", "amount": "10.00"}).status_code == 403
    it = ops.client.post("/api/billing/payment-intents", headers=h, json={"unit_id": "P001", "amount": "300.00"}).json()
    msg = {"intent_id": it["id"], "status": "succeeded", "amount": "300.00", "gateway_ref": "GW-1"}
    assert _signed(ops, msg, key=b"wrong key").status_code == 401
    raw = json.dumps(msg).encode()
    assert ops.client.post("/api/billing/payment-callback", content=raw).status_code == 401
    tampered = _signed(ops, {**msg, "amount": "1.00"})
    assert tampered.status_code == 422
    first = _signed(ops, msg)
    assert first.status_code == 200 and first.json()["repeated"] is False
    second = _signed(ops, msg)
    assert second.status_code == 200 and second.json()["repeated"] is True
    with ops.db.transaction() as s:
        assert s.scalar(select(func.count()).select_from(Payment)) == 1
    bill = ops.client.get("/api/billing/bills/2026-03/P001", headers=h).json()
    assert bill["status"] == "paid"
    assert _signed(ops, {**msg, "status": "failed"}).status_code == 409
