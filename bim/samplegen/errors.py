"""Exceptions of the sample-site generator."""

from twin.errors import TwinError

__all__ = ["SampleGenError"]


class SampleGenError(TwinError):
    """A sample site cannot be generated (unknown site name, bad output folder, bad plan)."""
