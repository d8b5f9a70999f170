"""Exceptions of the community twin.

Every error a user can cause (bad input file, bad scenario, unknown id) derives from
:class:`TwinError`; the CLI turns it into one line on stderr and exit code 2. Other
packages subclass these (``bim.errors``, ``sim.evacuation.errors``, ...).
"""

__all__ = ["TwinError", "ModelError", "GeometryError", "QueryError", "NotFoundError"]


class TwinError(Exception):
    """Base class of every user-facing error of the project."""


class ModelError(TwinError):
    """The model is inconsistent (dangling reference, duplicate id, empty model)."""


class GeometryError(TwinError):
    """A geometry is invalid or of the wrong kind."""


class QueryError(TwinError):
    """A query cannot be answered (no route, point outside every storey, ...)."""


class NotFoundError(QueryError):
    """An id is not in the model."""
