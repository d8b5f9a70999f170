"""Exceptions of the elevator-risk package (all derive from :class:`twin.errors.TwinError`)."""

from twin.errors import TwinError

__all__ = ["ElevatorError", "TelemetryError", "ModelFileError", "ParameterError"]


class ElevatorError(TwinError):
    """Base class of the errors of :mod:`sim.elevators`."""


class TelemetryError(ElevatorError):
    """A telemetry or failures CSV breaks the contract (missing column, bad value...)."""


class ModelFileError(ElevatorError):
    """A model file cannot be read or was not written by this package."""


class ParameterError(ElevatorError):
    """A simulation or evaluation parameter is out of range (``fleet=0`` ...)."""
