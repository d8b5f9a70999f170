"""``/api/billing``: units, bills, bill runs, readings, payments, intents, callback, reports.

Owners see their own units only; names and phones are masked for roles that do not need
them (see :func:`services.auth.sees_personal_data`). Money is a decimal string in JSON.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import PlainTextResponse
from pydantic import Field
from sqlalchemy import select

from services.api.deps import ActorDep, SessionDep, TokenDep, caller_name, oauth2, run_read, run_write, to_http
from services.api.inputs import InputModel, MoneyText, Month
from services.auth import Actor, mask_name, mask_phone, payment_callback_key, require_role, sees_personal_data
from services.db import get_by_id
from services.billing import payments, reports
from services.billing.models import Bill, BillLine, Unit
from services.billing.readings import import_readings_csv
from services.billing.rules import FeeRules, load_rules
from services.billing.run import parse_month, run_bills
from services.errors import Forbidden, InvalidInput, UnknownEntity
from services.parsing import decode_utf8

from services.api.guard import allow, deferred
from services.policy import BILLING, OFFICE, OPERATORS, PAYERS, SIGNED, MiB

__all__ = ["router"]

router = APIRouter(prefix="/api/billing", tags=["billing"])
STAFF_ROLES = ("admin", "operator")
Limit = Annotated[int, Query(ge=1, le=5000)]

Offset = Annotated[int, Query(ge=0, le=10_000_000)]


def _rules(request: Request) -> FeeRules:
    rules = getattr(request.app.state, "fee_rules", None)
    if rules is None:
        settings = request.app.state.settings
        rules = load_rules(site=settings.site if settings.site and settings.site.is_dir() else None)
        request.app.state.fee_rules = rules
    return rules


def _money(v: Decimal) -> str:
    return str(v)


def _unit_json(u: Unit, actor: Actor) -> dict[str, Any]:
    see = sees_personal_data(actor, u.id)
    return {"id": u.id, "kind": u.kind, "building": u.building_id, "area_m2": str(u.area_m2), "floor": u.floor,
            "building_type": u.building_type, "owner": u.owner if see else mask_name(u.owner),
            "phone": u.phone if see else mask_phone(u.phone)}


#: The columns of a bill's JSON (a Core row of these reads like a :class:`Bill`).
_BILL_COLUMNS = (Bill.id, Bill.unit_id, Bill.month, Bill.issued_on, Bill.due_on, Bill.total, Bill.paid, Bill.status)


def _bill_json(b: Bill, lines: list[BillLine] | None = None) -> dict[str, Any]:
    body = {"id": b.id, "unit_id": b.unit_id, "month": b.month, "issued_on": b.issued_on.isoformat(),
            "due_on": b.due_on.isoformat(), "total": _money(b.total), "paid": _money(b.paid),
            "outstanding": _money(b.total - b.paid), "status": b.status}
    if lines is not None:
        body["lines"] = [{"item": ln.item, "description": ln.description, "quantity": str(ln.quantity),
                          "unit_price": None if ln.unit_price is None else str(ln.unit_price),
                          "amount": _money(ln.amount), "detail": ln.detail} for ln in lines]
    return body


def _check_unit_access(actor: Actor, unit_id: str) -> None:
    if actor.role == "owner" and unit_id not in actor.unit_ids:
        raise Forbidden(f"owners may see their own units only, not {unit_id!r}")
    if actor.role == "staff":
        raise Forbidden("staff have no access to billing")


@router.get("/units", dependencies=[allow(BILLING)])
def units(session: SessionDep, actor: ActorDep, building: str | None = None, limit: Limit = 500,
          offset: Offset = 0) -> list[dict[str, Any]]:
    """Billing units (owners: their own)."""
    query = select(Unit).order_by(Unit.id)
    if actor.role == "owner":
        query = query.where(Unit.id.in_(sorted(actor.unit_ids)))
    elif actor.role == "staff":
        raise Forbidden("staff have no access to billing")
    if building:
        query = query.where(Unit.building_id == building)
    return [_unit_json(u, actor) for u in session.scalars(query.limit(min(max(limit, 1), 5000)).offset(max(offset, 0)))]


@router.get("/units/{unit_id}/account", dependencies=[allow(BILLING)])
def unit_account(unit_id: str, request: Request, session: SessionDep, actor: ActorDep,
                 as_of: date | None = None) -> dict[str, Any]:
    """Billed, paid, outstanding, credit and accrued late fee of a unit; its ``payments``
    (newest first, at most 50)."""
    _check_unit_access(actor, unit_id)
    body = payments.account(session, unit_id)
    as_of = as_of or date.today()
    rows = reports.arrears(session, as_of, _rules(request).late_fee, unit_ids=[unit_id])
    body["late_fee"] = str(rows[0]["late_fee"]) if rows else "0.00"
    body["as_of"] = as_of.isoformat()
    body["payments"] = payments.history(session, unit_id)
    return body


@router.get("/bills", dependencies=[deferred(BILLING)])
async def bills(request: Request, token: TokenDep, month: str | None = None, unit_id: str | None = None,
                status: Literal["open", "partial", "paid"] | None = None, limit: Limit = 100,
                offset: Offset = 0, format: Literal["json", "csv"] = "json"):
    """Bills, newest month first (owners: their own units only); ``format=csv`` for a CSV file."""

    def work(session, actor: Actor) -> list[dict[str, Any]]:
        query = select(*_BILL_COLUMNS).order_by(Bill.month.desc(), Bill.id)
        if actor.role == "owner":
            query = query.where(Bill.unit_id.in_(sorted(actor.unit_ids)))
        elif actor.role == "staff":
            raise Forbidden("staff have no access to billing")
        if month:
            parse_month(month)
            query = query.where(Bill.month == month)
        if unit_id:
            query = query.where(Bill.unit_id == unit_id)
        if status:
            query = query.where(Bill.status == status)
        return [_bill_json(b) for b in session.execute(query.limit(limit).offset(offset))]

    # a frequent read: caller, query and commit in one worker-thread call (see run_read)
    rows = await run_read(request, token, work)
    return _csv_or_json(rows, format, ["id", "unit_id", "month", "issued_on", "due_on", "total", "paid",
                                       "outstanding", "status"], "bills")


@router.get("/bills/{month}/{unit_id}", dependencies=[allow(BILLING)])
def bill(month: str, unit_id: str, session: SessionDep, actor: ActorDep) -> dict[str, Any]:
    """One bill with its lines."""
    _check_unit_access(actor, unit_id)
    b = get_by_id(session, Bill, f"{month}/{unit_id}")
    if b is None:
        raise UnknownEntity(f"no bill for unit {unit_id!r} in {month}")
    lines = list(session.scalars(select(BillLine).where(BillLine.bill_id == b.id).order_by(BillLine.id)))
    return _bill_json(b, lines)


class RunIn(InputModel):
    month: Month
    preview: bool = False


@router.post("/runs", dependencies=[allow(OPERATORS)])
def run(body: RunIn, request: Request, session: SessionDep, actor: ActorDep) -> dict[str, Any]:
    """Run (or preview) the month's bills; idempotent: ``{"month", "bills", "total", ...}``."""
    require_role(actor, *STAFF_ROLES)
    result = run_bills(session, _rules(request), body.month, preview=body.preview,
                       community=request.app.state.community)
    if not body.preview:
        from services.auth import audit

        audit(session, actor, "billing.run", "bill_run", body.month, created=result.created, total=result.total)
    return result.as_json(with_drafts=20 if body.preview else 0)


@router.post("/readings", dependencies=[deferred(OPERATORS.with_body(16 * MiB))])
async def readings(request: Request) -> dict[str, Any]:
    """Import meter readings: CSV body (``text/csv``, UTF-8) ``unit_id,kind,month,reading``; all or nothing."""
    token = await oauth2(request)
    caller_name(request, token)  # 401 before the body is decoded (the guard already checked it)
    try:
        text = decode_utf8(await request.body(), "the body")
    except InvalidInput as exc:
        raise to_http(exc) from None
    return await run_write(request, lambda s, a: import_readings_csv(s, a, text), token=token)


class PaymentIn(InputModel):
    unit_id: str = Field(min_length=1, max_length=128)
    amount: MoneyText
    reference: str = Field(min_length=1, max_length=128)
    received_on: date | None = None
    method: Literal["cash", "bank", "wechat", "alipay", "card"] = "cash"


@router.post("/payments", status_code=201, dependencies=[allow(OPERATORS)])
def payment(body: PaymentIn, session: SessionDep, actor: ActorDep) -> dict[str, Any]:
    """Record a payment (front desk); allocated oldest bill first, the rest is credit."""
    require_role(actor, *STAFF_ROLES)
    p, created = payments.record_payment(session, actor, unit_id=body.unit_id, amount=body.amount,
                                         reference=body.reference, received_on=body.received_on, method=body.method)
    return {"id": p.id, "created": created, "unit_id": p.unit_id, "amount": str(p.amount),
            "account": payments.account(session, p.unit_id)}


class IntentIn(InputModel):
    unit_id: str = Field(min_length=1, max_length=128)
    amount: MoneyText


@router.post("/payment-intents", status_code=201, dependencies=[deferred(PAYERS)])
async def intent(body: IntentIn, request: Request, token: TokenDep) -> dict[str, Any]:
    """Start a gateway payment; the gateway later calls ``/api/billing/payment-callback``.

    Under ``twin demo`` the sandbox gateway (:mod:`services.billing.sandbox`) confirms it
    (``"sandbox": true`` in the answer), once the intent is committed.
    """

    def work(session, actor: Actor) -> dict[str, Any]:
        it = payments.create_intent(session, actor, body.unit_id, body.amount)
        session.flush()
        return {"id": it.id, "unit_id": it.unit_id, "amount": str(it.amount), "status": it.status,
                "callback": "/api/billing/payment-callback"}

    # a month-end peak's busiest write: caller, intent and commit in one worker-thread call
    answer = await run_write(request, work, token=token)
    sandbox = getattr(request.app.state, "payment_sandbox", None)
    if sandbox is not None:
        sandbox.confirm(answer["id"], answer["amount"])
        answer["sandbox"] = True
    return answer


@router.post("/payment-callback", dependencies=[allow(SIGNED)])
async def callback(request: Request) -> dict[str, Any]:
    """Gateway callback, HMAC-SHA256 signed (header ``X-Twin-Signature: sha256=<hex>``); idempotent."""
    body = await request.body()
    signature = request.headers.get(payments.SIGNATURE_HEADER)
    key = payment_callback_key(request.app.state.settings)
    return await run_write(request, lambda session: payments.handle_callback(session, key, body, signature),
                           authenticated=False)


def _csv_or_json(rows: list[dict[str, Any]], fmt: str, columns: list[str], name: str):
    if fmt == "csv":
        return PlainTextResponse(reports.to_csv(rows, columns), media_type="text/csv",
                                 headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})
    return [{k: (str(v) if isinstance(v, (Decimal, date)) else v) for k, v in r.items()} for r in rows]


@router.get("/reports/collection", dependencies=[allow(OFFICE)])
def report_collection(session: SessionDep, actor: ActorDep, month: str | None = None,
                      format: Literal["json", "csv"] = "json"):
    """Collection rate (collected / billed) by building and month."""
    require_role(actor, "admin", "operator", "planner")
    if month:
        parse_month(month)
    return _csv_or_json(reports.collection_rate(session, month=month), format,
                        ["building_id", "month", "bills", "billed", "collected", "rate"], "collection")


@router.get("/reports/arrears", dependencies=[allow(OFFICE)])
def report_arrears(request: Request, session: SessionDep, actor: ActorDep, as_of: date | None = None,
                   format: Literal["json", "csv"] = "json"):
    """Arrears by unit with ageing buckets 1-30/31-60/61-90/90+ days and accrued late fee."""
    require_role(actor, "admin", "operator", "planner")
    rows = reports.arrears(session, as_of or date.today(), _rules(request).late_fee)
    if not sees_personal_data(actor):
        for r in rows:
            r["owner"], r["phone"] = mask_name(r["owner"]), mask_phone(r["phone"])
    cols = ["unit_id", "building_id", "owner", "phone", "bills", "outstanding", *reports.AGEING_BUCKETS,
            "late_fee", "oldest_due", "days_overdue"]
    return _csv_or_json(rows, format, cols, "arrears")


@router.get("/reports/reconciliation", dependencies=[allow(OPERATORS)])
def report_reconciliation(session: SessionDep, actor: ActorDep) -> dict[str, Any]:
    """Payments vs allocations vs bills; ``balanced`` with every mismatch listed."""
    require_role(actor, "admin", "operator")
    return reports.reconciliation(session)


class DunningIn(InputModel):
    as_of: date | None = None
    min_days: int = Field(30, ge=0, le=3650)


@router.post("/dunning", dependencies=[allow(OPERATORS)])
def dunning(body: DunningIn, request: Request, session: SessionDep, actor: ActorDep) -> dict[str, Any]:
    """Queue formal written reminders (in-app + email) for overdue units. No service is ever cut."""
    require_role(actor, *STAFF_ROLES)
    return reports.run_dunning(session, actor, body.as_of or date.today(), _rules(request).late_fee,
                               min_days=body.min_days)
