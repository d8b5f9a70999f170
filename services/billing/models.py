"""Billing tables: units, meter readings, bills and lines, payments, allocations, intents.

Money columns are ``Numeric(14, 2)`` (yuan with fen), read and written as ``Decimal``.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import JSON, Date, ForeignKey, ForeignKeyConstraint, Index, Integer, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from services.db import Base, CommunityScoped, UTCDateTime, utcnow

__all__ = ["Allocation", "Bill", "BillLine", "MeterReading", "Payment", "PaymentIntent", "Unit"]

Money = Numeric(14, 2, asdecimal=True)


def _unit_fk(table: str) -> ForeignKeyConstraint:
    """``(community, unit_id)`` → the unit of the same community."""
    return ForeignKeyConstraint(["community", "unit_id"], ["billing_units.community", "billing_units.id"],
                                name=f"fk_{table}_unit_billing_units")


def _bill_fk(table: str, **kw) -> ForeignKeyConstraint:
    """``(community, bill_id)`` → the bill of the same community."""
    return ForeignKeyConstraint(["community", "bill_id"], ["bills.community", "bills.id"],
                                name=f"fk_{table}_bill_bills", **kw)


class Unit(CommunityScoped, Base):
    """A billing unit mirrored from the twin (``Community.billing_units``)."""

    __tablename__ = "billing_units"

    #: Unit ids are unique per community (two sites may both have a unit "1-1-101").
    community: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)
    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    building_id: Mapped[str | None] = mapped_column(String(128), nullable=True, index=True)
    storey_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    space_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    area_m2: Mapped[Decimal] = mapped_column(Numeric(12, 2, asdecimal=True))
    floor: Mapped[int | None] = mapped_column(Integer, nullable=True)
    building_type: Mapped[str | None] = mapped_column(String(32), nullable=True)
    level: Mapped[str | None] = mapped_column(String(16), nullable=True)
    owner: Mapped[str | None] = mapped_column(String(64), nullable=True)
    phone: Mapped[str | None] = mapped_column(String(32), nullable=True)
    email: Mapped[str | None] = mapped_column(String(255), nullable=True)


class MeterReading(CommunityScoped, Base):
    """A cumulative meter reading (kWh or m³) of a unit at the end of a month."""

    __tablename__ = "meter_readings"
    __table_args__ = (_unit_fk("meter_readings"),)

    community: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)
    unit_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    reading: Mapped[Decimal] = mapped_column(Numeric(14, 3, asdecimal=True))
    source: Mapped[str] = mapped_column(String(16), default="csv")


class Bill(CommunityScoped, Base):
    """A unit's bill for one month; ``id`` is ``"<month>/<unit id>"`` (one per unit-month)."""

    __tablename__ = "bills"
    __table_args__ = (Index("ix_bills_month", "month"), Index("ix_bills_unit", "unit_id", "month"), _unit_fk("bills"))

    #: Bill ids (``"<month>/<unit id>"``) are unique per community.
    community: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)
    id: Mapped[str] = mapped_column(String(160), primary_key=True)
    unit_id: Mapped[str] = mapped_column(String(128))
    month: Mapped[str] = mapped_column(String(7))
    issued_on: Mapped[date] = mapped_column(Date)
    due_on: Mapped[date] = mapped_column(Date)
    total: Mapped[Decimal] = mapped_column(Money)
    paid: Mapped[Decimal] = mapped_column(Money, default=Decimal("0.00"))
    status: Mapped[str] = mapped_column(String(8), default="open")
    rules_version: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class BillLine(CommunityScoped, Base):
    """One charge of a bill: item, quantity × unit price (or allocated share) = amount."""

    __tablename__ = "bill_lines"
    __table_args__ = (_bill_fk("bill_lines", ondelete="CASCADE"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    bill_id: Mapped[str] = mapped_column(String(160), index=True)
    item: Mapped[str] = mapped_column(String(32))
    description: Mapped[str] = mapped_column(String(255))
    quantity: Mapped[Decimal] = mapped_column(Numeric(14, 3, asdecimal=True))
    unit_price: Mapped[Decimal | None] = mapped_column(Numeric(14, 4, asdecimal=True), nullable=True)
    amount: Mapped[Decimal] = mapped_column(Money)
    detail: Mapped[dict | None] = mapped_column(JSON, nullable=True)


class Payment(CommunityScoped, Base):
    """Money received for a unit; ``reference`` is unique per community (idempotent import/callback)."""

    __tablename__ = "payments"
    __table_args__ = (_unit_fk("payments"),
                      UniqueConstraint("community", "reference", name="uq_payments_community_reference"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    unit_id: Mapped[str] = mapped_column(String(128), index=True)
    amount: Mapped[Decimal] = mapped_column(Money)
    received_on: Mapped[date] = mapped_column(Date)
    method: Mapped[str] = mapped_column(String(16))
    reference: Mapped[str] = mapped_column(String(128))
    recorded_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Allocation(CommunityScoped, Base):
    """The part of a payment applied to a bill (oldest bill first)."""

    __tablename__ = "payment_allocations"
    __table_args__ = (_bill_fk("payment_allocations"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("payments.id"), index=True)
    bill_id: Mapped[str] = mapped_column(String(160), index=True)
    amount: Mapped[Decimal] = mapped_column(Money)
    applied_on: Mapped[date] = mapped_column(Date)


class PaymentIntent(CommunityScoped, Base):
    """A payment started through a gateway; settled by the HMAC-signed callback."""

    __tablename__ = "payment_intents"
    __table_args__ = (_unit_fk("payment_intents"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    unit_id: Mapped[str] = mapped_column(String(128), index=True)
    amount: Mapped[Decimal] = mapped_column(Money)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    settled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payments.id"), nullable=True)
    gateway_ref: Mapped[str | None] = mapped_column(String(128), nullable=True)
