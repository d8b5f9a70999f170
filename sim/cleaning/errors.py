"""Exceptions of the cleaning package (all derive from :class:`twin.errors.TwinError`)."""

from twin.errors import TwinError

__all__ = ["CleaningError", "TrafficError", "SiteLayoutError", "CleaningParameterError"]


class CleaningError(TwinError):
    """Base class of the errors of :mod:`sim.cleaning`."""


class TrafficError(CleaningError):
    """A foot-traffic CSV breaks the contract (missing column, bad timestamp or count)."""


class SiteLayoutError(CleaningError):
    """The community has nothing to clean or no one to clean it (no public area...)."""


class CleaningParameterError(CleaningError):
    """A parameter of the cleaning model is out of range (``days=0``, bad shift...)."""
