"""Read an IFC file into the twin: :func:`load_ifc` and :class:`IfcModel`.

What is read, how, and the IFC class -> twin element table: ``docs/ifc.md``.
"""

from __future__ import annotations

import gc
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from bim.cache import READER_VERSION, cache_key, read_cache, write_cache
from bim.errors import IfcError
from bim.georef import MapConversion, read_map_conversion, transform_community
from twin.model import Community

__all__ = ["IfcModel", "READER_VERSION", "load_ifc"]

log = logging.getLogger(__name__)

ProgressFn = Callable[[int, int, str], None]

_STEP_MAGIC = b"ISO-10303-21"
_STEP_END = b"END-ISO-10303-21"


@dataclass
class IfcModel:
    """A community fragment read from one IFC file, with what the file itself says.

    Attributes
    ----------
    community : Community
        Buildings (with storeys), spaces, doors, stairs, elevators, devices; ``crs`` and
        ``warnings``. Element ids are IFC GlobalIds.
    entity_counts : dict
        The file's own number of instances per mapped IFC class (subclasses included).
    site : dict
        IfcSite facts: ``id``, ``name``, ``long_name``, ``ref_latitude``/``ref_longitude``
        (degrees), ``ref_elevation_m``, ``origin_xy`` (the site placement's origin in the
        model's plan coordinates: map coordinates when georeferenced).
    schema : str
        ``IFC2X3``, ``IFC4``, ``IFC4X3``...
    source : str
        The path it was read from.
    sha256 : str
        Cache key (file bytes + reader version).
    unit_scale_m : float
        Metres per project length unit.
    map_conversion : dict or None
        The IfcMapConversion numbers applied (see :class:`bim.georef.MapConversion`).
    building_id : str or None
        The site manifest's building id this file was loaded for (no renaming).
    from_cache : bool
        Whether this load came from the cache.
    """

    community: Community
    entity_counts: dict[str, int]
    site: dict[str, Any]
    schema: str
    source: str
    sha256: str
    unit_scale_m: float
    map_conversion: dict[str, Any] | None = None
    building_id: str | None = None
    from_cache: bool = False
    load_s: float = 0.0
    attributes: dict[str, Any] = field(default_factory=dict)

    @property
    def crs(self) -> str | None:
        """Target CRS (``"EPSG:NNNN"``) when the file is georeferenced, else ``None``."""
        return self.community.crs

    @property
    def georeferenced(self) -> bool:
        """Whether coordinates are map coordinates from the file's IfcMapConversion."""
        return bool(self.community.attributes.get("georeferenced"))

    @property
    def warnings(self) -> list[str]:
        """What the reader could not interpret (the community's warning list)."""
        return self.community.warnings

    def summary(self) -> dict[str, Any]:
        """Plain-data summary: counts in the twin and in the file, crs, warnings."""
        return {"source": self.source, "schema": self.schema, "crs": self.crs,
                "building_id": self.building_id, "counts": self.community.counts(),
                "entity_counts": dict(self.entity_counts), "warnings": list(self.warnings)}


def _read_bytes(path: Path) -> bytes:
    if not path.exists():
        raise IfcError(f"IFC file not found: {path}")
    if path.is_dir():
        raise IfcError(f"IFC path is a directory, not a file: {path}")
    try:
        return path.read_bytes()
    except OSError as exc:
        raise IfcError(f"cannot read IFC file {path}: {exc.strerror or exc}") from exc


def _check_step(path: Path, data: bytes) -> None:
    """Reject what is not a complete STEP physical file (ifcopenshell opens truncated ones)."""
    suffix = path.suffix.lower()
    if suffix in (".ifczip", ".ifcxml") or data[:2] == b"PK" or data[:4096].lstrip()[:5] == b"<?xml":
        return  # ifcopenshell reads these containers itself
    head = data[:4096].lstrip(b"\xef\xbb\xbf \t\r\n")
    if not data or data.isspace():  # (no stripped copy of a large file)
        raise IfcError(f"{path.name} is empty, not an IFC file")
    if not head.startswith(_STEP_MAGIC):
        raise IfcError(f"{path.name} is not an IFC file (no ISO-10303-21 header)")
    if _STEP_END not in data[-4096:]:
        raise IfcError(f"{path.name} is truncated (no END-ISO-10303-21 at the end)")


def _open(path: Path):
    import ifcopenshell

    try:
        return ifcopenshell.open(str(path))
    except Exception as exc:  # ifcopenshell.Error, SchemaError, RuntimeError...
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise IfcError(f"{path.name} cannot be read as IFC: {msg}") from exc


def load_ifc(path: str | os.PathLike, *, cache_dir: str | os.PathLike | None = None,
             progress: ProgressFn | None = None, building_id: str | None = None,
             georeference: bool = True) -> IfcModel:
    """Read an IFC file into a community fragment, in metres, georeferenced when possible.

    Parameters
    ----------
    path : path-like
        An IFC2X3 / IFC4 / IFC4X3 file (STEP; ``.ifczip``/``.ifcxml`` are passed to
        ifcopenshell as they are).
    cache_dir : path-like, optional
        Folder of the derived-model cache, keyed by the sha256 of the file bytes and the
        reader version. A repeated load of the same bytes is read from there.
    progress : callable, optional
        ``progress(done, total, message)`` during the load (geometry is the long part).
    building_id : str, optional
        The site manifest's id of this building, stored on the result (ids stay GlobalIds).
    georeference : bool
        Apply the file's IfcMapConversion (default). ``False`` keeps project coordinates
        (metres) and reports ``crs`` None, e.g. to compare with a manifest anchor.

    Returns
    -------
    IfcModel

    Raises
    ------
    IfcError
        Missing file, not an IFC file, truncated file, or a model without IfcBuilding.

    Examples
    --------
    >>> m = load_ifc("AC20-FZK-Haus.ifc", cache_dir=".cache")  # doctest: +SKIP
    >>> m.community.counts()["spaces"]  # doctest: +SKIP
    7
    """
    t0 = time.perf_counter()
    path = Path(path)
    data = _read_bytes(path)
    key = cache_key(data) + ("" if georeference else "-local")
    if cache_dir is not None:
        cached = read_cache(cache_dir, key)
        if isinstance(cached, IfcModel):
            cached.source, cached.building_id, cached.from_cache = str(path), building_id, True
            cached.load_s = time.perf_counter() - t0
            if progress is not None:
                progress(1, 1, "cached")
            return cached
    _check_step(path, data)
    del data
    enabled = gc.isenabled()
    gc.disable()  # the read makes many objects and no garbage cycles: no collector passes
    try:
        model = _build(path, key, progress, georeference)
        if cache_dir is not None:
            write_cache(cache_dir, key, model)
    finally:
        if enabled:
            gc.enable()
    model.building_id = building_id
    model.load_s = time.perf_counter() - t0
    return model


def _build(path: Path, key: str, progress: ProgressFn | None, georeference: bool) -> IfcModel:
    from bim.extract import extract

    if progress is not None:
        progress(0, 1, f"opening {path.name}")
    f = _open(path)
    ex = extract(f, progress=progress)
    c = ex.community
    conv: MapConversion | None = read_map_conversion(f, ex.unit_scale_m) if georeference else None
    c.attributes["georeferenced"] = conv is not None
    c.attributes["ifc_file"] = path.name
    if conv is not None:
        transform_community(c, conv.transform())
        if ex.site.get("origin_xy") is not None:
            ex.site["origin_xy"] = list(conv.transform().xy(*ex.site["origin_xy"]))
        c.crs = conv.crs
        c.warnings.extend(conv.warnings)
        if conv.crs is None:
            c.warnings.append("IfcMapConversion without a named target CRS")
    for b in c.buildings:
        b.ifc_file = path.name
    if progress is not None:
        progress(1, 1, "done")
    return IfcModel(community=c, entity_counts=ex.entity_counts, site=ex.site, schema=f.schema,
                    source=str(path), sha256=key, unit_scale_m=ex.unit_scale_m,
                    map_conversion=conv.as_dict() if conv else None)
