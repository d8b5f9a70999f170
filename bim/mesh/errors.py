"""Errors of the scene builder."""

from twin.errors import TwinError

__all__ = ["SceneError"]


class SceneError(TwinError):
    """The scene cannot be built (unreadable IFC file, bad geometry, bad cache folder)."""
