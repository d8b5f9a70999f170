"""Metering tables: the cumulative meter points the metering consumer keeps.

``meter_points`` holds every cumulative register value a meter reported (kWh or m³ at an
epoch time), one row per device and time, whatever order the readings arrived in. The
monthly readings are computed from it (:mod:`services.metering.readings`), so a late
reading changes the month it belongs to and nothing counts twice (the primary key makes a
redelivered reading a no-op). It outlives the raw telemetry history (which is downsampled
after 7 days).
"""

from __future__ import annotations

from sqlalchemy import Float, String
from sqlalchemy.orm import Mapped, mapped_column

from services.db import Base

__all__ = ["MeterPoint"]


class MeterPoint(Base):
    """One cumulative register value of a meter (``value`` in the kind's unit, kWh or m³)."""

    __tablename__ = "meter_points"

    device_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    ts: Mapped[float] = mapped_column(Float(precision=53), primary_key=True)
    field: Mapped[str] = mapped_column(String(32))
    value: Mapped[float] = mapped_column(Float(precision=53))
    received_at: Mapped[float] = mapped_column(Float(precision=53))
