"""Exceptions of the ``bim`` package (source readers: GIS, site folders, registers, IFC).

Every class derives from :class:`twin.errors.TwinError`, so the CLI prints one line and
exits with code 2.
"""

from twin.errors import TwinError

__all__ = ["BimError", "GisError", "SiteError", "RegisterError"]


class BimError(TwinError):
    """Base class of the errors of a source file or folder."""


class GisError(BimError):
    """A GIS layer cannot be read or is unusable (no CRS, wrong geometry, bad property)."""


class SiteError(BimError):
    """A site folder or its manifest ``site.json`` is invalid."""


class RegisterError(BimError):
    """A register CSV row is invalid; the message names the file, line and value."""
