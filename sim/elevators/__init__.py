"""Elevator-failure prediction: fleet simulator, telemetry contract, 7-day risk model.

See docs/elevators.md.
"""

from sim.elevators.errors import ElevatorError, ModelFileError, ParameterError, TelemetryError
from sim.elevators.evaluate import evaluate_fleet
from sim.elevators.model import RiskModel, default_model
from sim.elevators.risk import Risk, RiskLog, attach_risks, score_day, work_order_requests
from sim.elevators.simulator import Fleet, FleetParams, simulate_fleet
from sim.elevators.telemetry import (FAILURE_COLUMNS, TELEMETRY_COLUMNS, read_failures,
                                     read_telemetry)

__all__ = [
    "ElevatorError", "FAILURE_COLUMNS", "Fleet", "FleetParams", "ModelFileError",
    "ParameterError", "Risk", "RiskLog", "attach_risks", "RiskModel", "TELEMETRY_COLUMNS", "TelemetryError",
    "default_model", "evaluate_fleet", "read_failures", "read_telemetry", "score_day",
    "simulate_fleet", "work_order_requests",
]
