"""Load a site for the services: the full twin from ``bim.load``, with the settings' cache."""

from __future__ import annotations

from pathlib import Path

from services.settings import get_settings
from twin.model import Community

__all__ = ["load_site"]


def load_site(path: Path | str) -> Community:
    """Return the community of a site folder, an IFC file or a GIS file (cached)."""
    from bim import load

    return load(Path(path), cache_dir=get_settings().resolved_cache_dir)
