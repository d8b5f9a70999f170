"""Hostile billing input through the real app (SQLite and PostgreSQL): months and money are
ASCII only and bounded by their columns, refused with 422 naming the value, nothing written.

Column bounds (services/billing/models.py, migration 0001): money ``Numeric(14, 2)`` holds
at most 999,999,999,999.99; quantities and readings ``Numeric(14, 3)`` 99,999,999,999.999;
unit prices ``Numeric(14, 4)`` 9,999,999,999.9999; areas ``Numeric(12, 2)``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from services.billing.models import Bill, MeterReading, Payment, PaymentIntent
from services.billing.rules import parse_rules
from services.errors import InvalidInput
from services.workorders.models import WorkOrder

D = Decimal
MONEY_MAX = "999999999999.99"
READING_MAX = "99999999999.999"
BASE_RULES = {"property_fee": [{"rate": "2.00"}], "parking": {"default": "150.00"}}

#: months that are not ASCII ``YYYY-MM`` (full-width, Arabic-Indic, Devanagari digits,
#: a trailing newline that ``$`` lets through, a one-digit month, spaces)
BAD_MONTHS = ["２０２６-01", "2026-０1", "٢٠٢٦-01", "२०२६-01", "2026-01\n", "2026-1", " 2026-01", "2026-13",
              "2026-00", "1969-12", "20260-01", "2026−01"]

#: amounts that must be refused: non-ASCII digits, separators, exponents, special values,
#: more than 2 decimals, beyond Numeric(14, 2), huge (≥ 1e26 crashed the rounding)
BAD_AMOUNTS = ["１２３", "1_000", "١٠٠", "1e3", "1E+26", "1e26", "99999999999999999999999999",
               "12345678901234567.89", "1000000000000.00", "1000000000000", "NaN", "Infinity", "-Infinity",
               "sNaN", "1.234", "0", "-5", "0x10", "1,000", "", " ", "12.", ".5"]


def _count(ops, model) -> int:
    with ops.db.transaction() as s:
        return s.scalar(select(func.count()).select_from(model))


def _detail(r) -> str:
    body = r.json()
    return json.dumps(body["detail"], ensure_ascii=False) if not isinstance(body["detail"], str) else body["detail"]


def test_bill_run_months_are_ascii_yyyy_mm(ops):
    h = ops.headers("operator")
    for month in BAD_MONTHS:
        for preview in (False, True):
            r = ops.client.post("/api/billing/runs", headers=h, json={"month": month, "preview": preview})
            assert r.status_code == 422, (month, r.status_code, r.text)
            assert month.strip() in _detail(r) or repr(month) in _detail(r), r.text
        r = ops.client.get("/api/billing/bills", headers=h, params={"month": month})
        assert r.status_code == 422, (month, r.text)
        r = ops.client.get("/api/billing/reports/collection", headers=h, params={"month": month})
        assert r.status_code == 422, (month, r.text)
    assert _count(ops, Bill) == 0  # nothing written (the full-width month wrote a duplicate January)
    ok = ops.client.post("/api/billing/runs", headers=h, json={"month": "2026-01"})
    assert ok.status_code == 200 and ok.json()["created"] == 3
    assert ops.client.post("/api/billing/runs", headers=h, json={"month": "２０２６-01"}).status_code == 422
    with ops.db.transaction() as s:
        assert sorted(s.scalars(select(Bill.month).distinct())) == ["2026-01"]


def _pay(ops, amount, ref, unit="A201"):
    return ops.client.post("/api/billing/payments", headers=ops.headers("operator"),
                           json={"unit_id": unit, "amount": amount, "reference": ref, "received_on": "2026-04-20"})


def test_payment_amounts_ascii_and_bounded(ops):
    for i, amount in enumerate(BAD_AMOUNTS):
        r = _pay(ops, amount, f"bad-{i}")
        assert r.status_code == 422, (amount, r.status_code, r.text)
        if amount.strip():
            assert amount in _detail(r), r.text
    assert _count(ops, Payment) == 0
    # the largest amount the column holds is accepted and comes back exactly
    r = _pay(ops, MONEY_MAX, "max")
    assert r.status_code == 201, r.text
    assert r.json()["amount"] == MONEY_MAX
    account = ops.client.get("/api/billing/units/A201/account", headers=ops.headers("operator")).json()
    assert account["received"] == MONEY_MAX and account["credit"] == MONEY_MAX
    rec = ops.client.get("/api/billing/reports/reconciliation", headers=ops.headers("operator")).json()
    assert rec["payments"] == MONEY_MAX and rec["balanced"] is True
    # leading/trailing ASCII spaces are tolerated, the value is exact
    assert _pay(ops, " 12.50 ", "spaces").json()["amount"] == "12.50"


def test_payment_intent_amounts_refused_for_owners(ops):
    h = ops.headers("owner101")
    for amount in ("1e26", "1E+30", "99999999999999999999", "12345678901234567.89", "１２３", "1_000"):
        r = ops.client.post("/api/billing/payment-intents", headers=h, json={"unit_id": "P001", "amount": amount})
        assert r.status_code == 422, (amount, r.status_code, r.text)
        assert amount in _detail(r)
    assert _count(ops, PaymentIntent) == 0
    r = ops.client.post("/api/billing/payment-intents", headers=h, json={"unit_id": "P001", "amount": MONEY_MAX})
    assert r.status_code == 201 and r.json()["amount"] == MONEY_MAX


def _readings(ops, text: str | bytes, headers=None):
    body = text.encode() if isinstance(text, str) else text
    return ops.client.post("/api/billing/readings", content=body,
                           headers={**(ops.headers("operator") if headers is None else headers),
                                    "Content-Type": "text/csv"})


@pytest.mark.parametrize("value", ["１２３", "1_000", "٣", "1e5", "1E+20", "NaN", "Infinity", "-1",
                                   "100000000000.000", "123456789012345678", "1.0005", "0x1F", ""])
def test_readings_values_ascii_and_bounded(ops, value):
    text = f"unit_id,kind,month,reading\nA101,electricity,2026-02,1000\nA101,electricity,2026-03,{value}\n"
    r = _readings(ops, text)
    assert r.status_code == 422, (value, r.status_code, r.text)
    assert "line 3" in _detail(r) and (not value or value in _detail(r)), r.text
    assert _count(ops, MeterReading) == 0


def test_readings_months_and_max(ops):
    for month in BAD_MONTHS:
        if month.strip() == "2026-01":
            continue  # surrounding spaces are stripped from CSV fields
        r = _readings(ops, f"unit_id,kind,month,reading\nA101,electricity,{month},10\n")
        assert r.status_code == 422 and "line 2" in _detail(r), (month, r.text)
    assert _count(ops, MeterReading) == 0
    r = _readings(ops, f"unit_id,kind,month,reading\nA101,electricity,2026-02,0\nA101,electricity,2026-03,{READING_MAX}\n")
    assert r.status_code == 200, r.text
    with ops.db.transaction() as s:
        assert s.scalar(select(MeterReading.reading).where(MeterReading.month == "2026-03")) == D(READING_MAX)
    # a use of 99,999,999,999.999 kWh at 100 yuan/kWh is far beyond the money column: refused
    ops.app.state.fee_rules = parse_rules({**BASE_RULES, "utilities": {"electricity": {"tiers": [{"price": "100"}]}}})
    r = ops.client.post("/api/billing/runs", headers=ops.headers("operator"), json={"month": "2026-03"})
    assert r.status_code == 422 and "A101" in _detail(r) and "electricity" in _detail(r), r.text
    assert _count(ops, Bill) == 0


def test_bill_amount_beyond_column_refused(ops):
    # 9,999,999,999.9999 yuan/m² fits the unit-price column; × 120 m² (A201) does not fit money
    ops.app.state.fee_rules = parse_rules({"property_fee": [{"rate": "9999999999.9999"}], "parking": {"default": "1"}})
    r = ops.client.post("/api/billing/runs", headers=ops.headers("operator"), json={"month": "2026-03"})
    assert r.status_code == 422, r.text
    assert "A201" in _detail(r) and "999999999999.99" in _detail(r)
    assert _count(ops, Bill) == 0
    preview = ops.client.post("/api/billing/runs", headers=ops.headers("operator"),
                              json={"month": "2026-03", "preview": True})
    assert preview.status_code == 422


# -- fee rules: the same parsers ------------------------------------------------------------


@pytest.mark.parametrize("patch, key", [
    ({"property_fee": [{"rate": "１.８"}]}, "property_fee[0].rate"),
    ({"property_fee": [{"rate": "1_000"}]}, "property_fee[0].rate"),
    ({"property_fee": [{"rate": "1e3"}]}, "property_fee[0].rate"),
    ({"property_fee": [{"rate": "10000000000"}]}, "property_fee[0].rate"),
    ({"property_fee": [{"rate": "1.00001"}]}, "property_fee[0].rate"),
    ({"property_fee": [{"rate": 1.8}]}, "property_fee[0].rate"),
    ({"property_fee": [{"rate": "2", "min_floor": "２"}]}, "property_fee[0].min_floor"),
    ({"property_fee": [{"rate": "2", "min_floor": 2 ** 31}]}, "property_fee[0].min_floor"),
    ({"property_fee": [{"rate": "2", "max_floor": True}]}, "property_fee[0].max_floor"),
    ({"parking": {"default": "１５０"}}, "parking.default"),
    ({"shared_charges": [{"name": "x", "amount": "1000000000000"}]}, "shared_charges[0].amount"),
    ({"shared_charges": [{"name": "x", "amount": "1.001"}]}, "shared_charges[0].amount"),
    ({"utilities": {"electricity": {"tiers": [{"up_to": "２４０", "price": "0.5"}, {"price": "0.6"}]}}},
     "utilities.electricity.tiers[0].up_to"),
    ({"utilities": {"electricity": {"tiers": [{"price": "1E+26"}]}}}, "utilities.electricity.tiers[0].price"),
    ({"due_days": 10 ** 12}, "due_days"),
    ({"due_days": "15"}, "due_days"),
    ({"late_fee": {"grace_days": 10 ** 12}}, "late_fee.grace_days"),
    ({"late_fee": {"rate_per_day": "1e30"}}, "late_fee.rate_per_day"),
    ({"late_fee": {"rate_per_day": "2"}}, "late_fee.rate_per_day"),
    ({"late_fee": {"cap_ratio": "１"}}, "late_fee.cap_ratio"),
    ({"version": "v" * 65}, "version"),
    ({"version": "v\u0000"}, "version"),
    ({"shared_charges": [{"name": "x\u0000", "amount": "1"}]}, "shared_charges[0].name"),
    ({"utilities": {"e" * 33: {"tiers": [{"price": "1"}]}}}, "utilities.eee"),
    ({"property_fee": "2.00"}, "property_fee"),
    ({"property_fee": ["2.00"]}, "property_fee[0]"),
])
def test_fee_rules_values_ascii_and_bounded(patch, key):
    with pytest.raises(InvalidInput, match=key.replace("[", r"\[").replace("]", r"\]").replace(".", r"\.")):
        parse_rules({**BASE_RULES, **patch})


def test_fee_rules_ints_and_decimal_strings_accepted():
    rules = parse_rules({**BASE_RULES, "property_fee": [{"rate": 2, "min_floor": -3, "max_floor": 99}],
                         "due_days": 15, "utilities": {"water": {"tiers": [{"up_to": 180, "price": "5.0000"},
                                                                         {"price": "9"}]}}})
    assert rules.property_fee[0].rate == D("2") and rules.property_fee[0].min_floor == -3
    assert rules.utilities[0].tiers == ((D("180"), D("5")), (None, D("9")))


# -- other 500s: signature header, CSV limits and encoding, viewer path, NUL in text ---------
def _signed_raw(ops, raw: bytes, signature: bytes):
    return ops.client.post("/api/billing/payment-callback", content=raw,
                           headers=[(b"X-Twin-Signature", signature), (b"Content-Type", b"application/json")])


def test_callback_non_ascii_signature_is_401(ops):
    raw = json.dumps({"intent_id": "x", "status": "succeeded"}).encode()
    for sig in ("sha256=é".encode("latin-1"), "sha256=ｆｆ".encode(), b"\xff\xfe", b"sha256=" + b"\x80" * 64):
        r = _signed_raw(ops, raw, sig)
        assert r.status_code == 401, (sig, r.status_code, r.text)


def test_callback_hostile_body_after_a_good_signature(ops):
    from services.auth import payment_callback_key

    key = payment_callback_key(ops.settings)
    for msg in ({"intent_id": "a\u0000b", "status": "succeeded"}, {"intent_id": "x" * 10_000, "status": "failed"},
                {"intent_id": ["x"], "status": "failed"}, {"intent_id": 1e308, "status": "failed"}):
        raw = json.dumps(msg).encode()
        sig = "sha256=" + hmac.new(key, raw, hashlib.sha256).hexdigest()
        r = _signed_raw(ops, raw, sig.encode())
        assert r.status_code in (404, 422), (msg, r.status_code, r.text)


def test_readings_csv_field_over_128_kib_is_422(ops):
    big = "9" * (128 * 1024 + 1)
    r = _readings(ops, f"unit_id,kind,month,reading\nA101,electricity,2026-03,\"{big}\"\n")
    assert r.status_code == 422, (r.status_code, r.text[:200])
    assert "line 2" in _detail(r) and "131072" in _detail(r)
    r = _readings(ops, f"unit_id,kind,month,reading\n{big},electricity,2026-03,1\n")
    assert r.status_code == 422 and "line 2" in _detail(r)
    assert _count(ops, MeterReading) == 0


def test_readings_csv_not_utf8_is_422_after_auth(ops):
    latin = "unit_id,kind,month,reading\nA101,electricity,2026-03,1\n# café\n".encode("latin-1")
    for body in (latin, b"\xff\xfe\x00u\x00n", b"unit_id,kind,month,reading\n\xc3(,electricity,2026-03,1\n"):
        r = _readings(ops, body)
        assert r.status_code == 422 and "UTF-8" in _detail(r), (body[:20], r.status_code, r.text)
        anonymous = ops.client.post("/api/billing/readings", content=body, headers={"Content-Type": "text/csv"})
        assert anonymous.status_code == 401, anonymous.text
        bad_token = ops.client.post("/api/billing/readings", content=body,
                                    headers={"Content-Type": "text/csv", "Authorization": "Bearer nope"})
        assert bad_token.status_code == 401
    assert _count(ops, MeterReading) == 0


def test_readings_csv_nul_is_422(ops):
    r = _readings(ops, "unit_id,kind,month,reading\nA1\x0001,electricity,2026-03,1\n")
    assert r.status_code == 422, r.text
    assert _count(ops, MeterReading) == 0


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_viewer_static_nul_path_is_404(ops):
    for path in ("/viewer/app/%00", "/viewer/app/a%00b.js", "/viewer/three/%00/x", "/viewer/app/%2e%2e/%00"):
        r = ops.client.get(path)
        assert r.status_code == 404, (path, r.status_code)


NUL = "bad\u0000text"


def _nul_requests(ops) -> list[tuple[str, str, dict]]:
    loc = {"space_id": "R2"}
    return [
        ("post", "/api/work-orders", {"description": NUL, "location": loc}),
        ("post", "/api/work-orders", {"description": "leak", "location": loc, "contact_name": NUL}),
        ("post", "/api/work-orders", {"description": "leak", "location": loc, "contact_phone": NUL}),
        ("post", "/api/work-orders", {"description": "leak", "location": {"space_id": NUL}}),
        ("post", "/api/work-orders", {"description": "leak", "location": loc, "category": NUL}),
        ("post", "/api/billing/payments", {"unit_id": "A201", "amount": "1.00", "reference": NUL}),
        ("post", "/api/billing/payments", {"unit_id": NUL, "amount": "1.00", "reference": "r"}),
        ("post", "/api/billing/payments", {"unit_id": "A201", "amount": "1.00\u0000", "reference": "r"}),
        ("post", "/api/billing/payment-intents", {"unit_id": NUL, "amount": "1.00"}),
        ("post", "/api/billing/runs", {"month": "2026-03\u0000"}),
    ]


def test_nul_in_text_is_422(ops):
    h = ops.headers("admin")
    for method, path, body in _nul_requests(ops):
        r = ops.client.request(method, path, headers=h, json=body)
        assert r.status_code == 422, (path, body, r.status_code, r.text)
        assert "NUL" in _detail(r) or "\\u0000" in _detail(r) or "month" in _detail(r), r.text
    # an order to transition / rate: NUL in a note or a comment
    wo = ops.client.post("/api/work-orders", headers=ops.headers("owner101"),
                         json={"description": "水管漏水", "location": {"unit_id": "A101"}})
    assert wo.status_code == 201, wo.text
    wid = wo.json()["id"]
    r = ops.client.post(f"/api/work-orders/{wid}/transitions", headers=h, json={"to": "assigned", "note": NUL})
    assert r.status_code == 422, r.text
    r = ops.client.post(f"/api/work-orders/{wid}/transitions", headers=h, json={"to": NUL})
    assert r.status_code == 422, r.text
    r = ops.client.post(f"/api/work-orders/{wid}/rating", headers=ops.headers("owner101"),
                        json={"rating": 5, "comment": NUL})
    assert r.status_code == 422, r.text
    assert _count(ops, WorkOrder) == 1 and _count(ops, Payment) == 0 and _count(ops, Bill) == 0


def test_nul_in_path_query_and_login_is_not_5xx(ops):
    h = ops.headers("admin")
    for path in ("/api/billing/bills/2026-03/A%0001", "/api/billing/units/A%0001/account",
                 "/api/billing/bills?unit_id=A%0001", "/api/billing/bills?month=2026-03%00",
                 "/api/billing/units?building=B%001", "/api/work-orders?status=open%00"):
        r = ops.client.get(path, headers=h)
        assert r.status_code < 500 and (r.status_code != 200 or r.json() == []), (path, r.status_code, r.text)
    r = ops.client.post("/api/auth/token", data={"username": "ad\u0000min", "password": "x"})
    assert r.status_code in (401, 422), r.text


def test_cli_refuses_bad_months_values_and_encoding(tmp_path):
    """The CLI uses the same parsers: one line on stderr naming the value, exit code 2."""
    from tests.conftest import run_cli

    env = {"TWIN_DB_URL": f"sqlite:///{tmp_path / 'twin.sqlite'}", "TWIN_DATA_DIR": str(tmp_path / "data")}
    r = run_cli("billing", "run", "--month", "２０２６-01", "--json", env=env)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "２０２６-01" in r.stderr, r.stderr
    bad_value = tmp_path / "readings.csv"
    bad_value.write_text("unit_id,kind,month,reading\nA101,electricity,2026-03,1_000\n", encoding="utf-8")
    r = run_cli("billing", "import-readings", str(bad_value), "--json", env=env)
    assert r.returncode == 2 and "line 2" in r.stderr and "1_000" in r.stderr, r.stderr
    latin = tmp_path / "latin.csv"
    latin.write_bytes("unit_id,kind,month,reading\n# Café\n".encode("latin-1"))
    r = run_cli("billing", "import-readings", str(latin), env=env)
    assert r.returncode == 2 and "UTF-8" in r.stderr and r.stderr.count("\n") == 1, r.stderr
    rules = tmp_path / "rules.yaml"
    rules.write_text('property_fee:\n  - {rate: "１.８"}\n', encoding="utf-8")
    r = run_cli("billing", "preview", "--month", "2026-01", "--rules", str(rules), env=env)
    assert r.returncode == 2 and "property_fee[0].rate" in r.stderr and "１.８" in r.stderr, r.stderr


@pytest.mark.parametrize("area, ok", [(89.5, "89.50"), (0.0, "0.00"), (9999999999.99, "9999999999.99"),
                                      (0.005, "0.01"), (float("nan"), None), (float("inf"), None), (-1.0, None),
                                      (1e10, None), (1e300, None)])
def test_unit_areas_from_the_twin_bounded(area, ok):
    from services.billing.units import unit_records
    from tests.ops.common import community

    c = community()
    c.billing_units[0].area_m2 = area
    if ok is None:
        with pytest.raises(InvalidInput, match="A101.*area_m2"):
            unit_records(c)
    else:
        assert str(unit_records(c)[0]["area_m2"]) == ok


def test_nul_in_upload_filename_is_422(ops):
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
    wo = ops.client.post("/api/work-orders", headers=ops.headers("owner101"),
                         json={"description": "门坏了", "location": {"unit_id": "A101"}})
    # a raw NUL byte in the part's filename (a client library would escape it)
    body = (b'--XX\r\nContent-Disposition: form-data; name="file"; filename="door\x00.png"\r\n'
            b"Content-Type: image/png\r\n\r\n" + png + b"\r\n--XX--\r\n")
    r = ops.client.post(f"/api/work-orders/{wo.json()['id']}/attachments", content=body,
                        headers={**ops.headers("owner101"), "Content-Type": "multipart/form-data; boundary=XX"})
    assert r.status_code == 422 and "NUL" in _detail(r), (r.status_code, r.text)


def test_every_request_body_refuses_nul_and_unknown_fields():
    """Each JSON body model of every route (nested ones too) is an InputModel."""
    from fastapi.routing import APIRoute
    from pydantic import BaseModel, ValidationError

    from services.api.inputs import InputModel
    from services.api.live import AckIn
    from services.app import _routers

    def models(tp) -> list[type]:
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            return [tp] + [m for f in tp.model_fields.values() for m in models(f.annotation)]
        return [m for arg in getattr(tp, "__args__", ()) for m in models(arg)]

    found = [m for router in _routers() for route in router.routes if isinstance(route, APIRoute)
             for p in route.dependant.body_params for m in models(p.field_info.annotation)]
    assert {m.__name__ for m in found} >= {"WorkOrderIn", "LocationIn", "PaymentIn", "RunIn", "AckIn"}
    assert [m.__name__ for m in found if not issubclass(m, InputModel)] == []
    with pytest.raises(ValidationError, match="NUL"):
        AckIn(by="operator\u0000", note="x")
    with pytest.raises(ValidationError):
        AckIn(by="operator", extra="x")
