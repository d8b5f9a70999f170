"""Metering: cumulative meter readings from the live history → monthly readings per billing unit."""

from services.metering.compute import MAX_GAP_S, MeterMonth, meter_month
from services.metering.readings import MeteringConsumer, meter_specs, monthly_readings, reading_json

__all__ = ["MAX_GAP_S", "MeterMonth", "MeteringConsumer", "meter_month", "meter_specs", "monthly_readings",
           "reading_json"]
