"""Exceptions of the BIM readers.

Every error is a :class:`twin.errors.TwinError`, so the CLI prints one line and exits 2.
"""

from twin.errors import TwinError

__all__ = ["BimError", "IfcError", "GeoreferenceError"]


class BimError(TwinError):
    """Base class of the errors of :mod:`bim`."""


class IfcError(BimError):
    """An IFC file cannot be read: missing, truncated, not IFC, or without a building."""


class GeoreferenceError(BimError):
    """Georeferencing cannot be applied (bad anchor, already georeferenced model...)."""
