"""Exceptions of the BIM and GIS readers (IFC, GIS layers, site folders, registers).

Every error is a :class:`twin.errors.TwinError`, so the CLI prints one line and exits 2.
"""

from twin.errors import TwinError

__all__ = ["BimError", "IfcError", "GeoreferenceError", "GisError", "SiteError", "RegisterError"]


class BimError(TwinError):
    """Base class of the errors of :mod:`bim`."""


class IfcError(BimError):
    """An IFC file cannot be read: missing, truncated, not IFC, or without a building."""


class GeoreferenceError(BimError):
    """Georeferencing cannot be applied (bad anchor, already georeferenced model...)."""


class GisError(BimError):
    """A GIS layer cannot be read or is unusable (no CRS, wrong geometry, bad property)."""


class SiteError(BimError):
    """A site folder or its manifest ``site.json`` is invalid."""


class RegisterError(BimError):
    """A register CSV row is invalid; the message names the file, line and value."""
