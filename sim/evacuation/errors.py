"""Exceptions of the evacuation engine (all derive from :class:`twin.errors.TwinError`)."""

from twin.errors import TwinError

__all__ = ["EvacuationError", "ScenarioError", "DrillError"]


class EvacuationError(TwinError):
    """Base class of the evacuation engine's user-facing errors."""


class ScenarioError(EvacuationError):
    """A scenario is invalid: bad JSON, unknown floor, agent outside the walkable area..."""


class DrillError(EvacuationError):
    """A drill record or run is missing or inconsistent."""
