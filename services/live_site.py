"""Loading a site folder for the live commands (``twin serve``, ``twin devices``).

Uses :func:`bim.load` (the site reader). Until that reader is available in this checkout,
a minimal reader of the documented site format (``docs/site-format.md``) takes over: the
manifest, the GIS ``buildings`` layer (GeoJSON: ids and floors → storeys ``<id>-F<nn>``)
and ``registers/devices.csv`` — everything the live layer needs to place devices.
"""

from __future__ import annotations

import csv
import json
import logging
from pathlib import Path

from twin.errors import TwinError
from twin.model import Building, Community, Device, Storey

__all__ = ["load_site"]

log = logging.getLogger(__name__)


def load_site(path: str | Path) -> Community:
    """Return the community of a site folder (raises TwinError / FileNotFoundError)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"site folder {str(path)!r} does not exist")
    try:
        import bim

        loader = getattr(bim, "load", None)
    except ImportError:  # pragma: no cover
        loader = None
    if loader is not None:
        return loader(path)
    log.warning("bim.load is not available: reading only buildings and the device register")
    return _load_minimal(path)


def _load_minimal(path: Path) -> Community:
    manifest_path = path / "site.json"
    if not manifest_path.is_file():
        raise TwinError(f"site folder {path.name!r} has no site.json")
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    name = manifest.get("name") or path.name
    c = Community(name=name, crs=manifest.get("crs"))
    layer = (manifest.get("layers") or {}).get("buildings")
    if layer and (path / layer).suffix.lower() in (".geojson", ".json"):
        gj = json.loads((path / layer).read_text(encoding="utf-8"))
        for feat in gj.get("features", []):
            props = feat.get("properties") or {}
            bid = str(props.get("id"))
            floors = int(props.get("floors") or 1)
            height = float(props.get("height_m") or 3.0 * floors)
            b = Building(bid, str(props.get("name") or bid), "gis", floors=floors, height_m=height)
            h = height / floors
            b.storeys = [Storey(f"{bid}-F{i:02d}", f"F{i}", bid, h * (i - 1), h) for i in range(1, floors + 1)]
            c.buildings.append(b)
    reg = (manifest.get("registers") or {}).get("devices")
    if reg:
        with open(path / reg, newline="", encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                feeds = [f for f in (row.get("feeds") or "").split(";") if f]
                c.devices.append(Device(row["id"], row["kind"], row.get("name") or row["id"],
                                        row.get("building") or None, row.get("storey") or None,
                                        row.get("space") or None))
    return c
