"""Canonical site folders for the site-loader tests, written with geopandas to tmp folders.

Coordinates are CGCS2000 / 3-degree Gauss-Kruger CM 114E (EPSG:4547), metres, near
(E0, N0). ``write_site`` writes a manifest, GIS layers in three formats (GeoJSON, GeoPackage,
Shapefile) and registers; keyword arguments replace parts of it.
"""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
from shapely.geometry import LineString, Point, box

__all__ = ["E0", "N0", "SHARED", "write_csv", "write_site", "shared_ifc_or_skip"]

E0, N0 = 500000.0, 3380000.0
CRS = "EPSG:4547"

#: The shared folder beside the checkout (skipped when absent).
SHARED = Path(__file__).resolve().parents[2] / ".." / "shared"


def shared_ifc_or_skip(name: str) -> Path:
    """Return a shared IFC file, or skip the test when the shared folder is absent."""
    import os

    import pytest

    base = Path(os.environ["TWIN_SHARED_DIR"]) if os.environ.get("TWIN_SHARED_DIR") else SHARED
    path = base / "ifc" / name
    if not path.is_file():
        pytest.skip(f"shared IFC file {name} is absent")
    return path


def write_csv(path: Path, header: str, *rows: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def write_site(root: Path, *, name: str = "t", buildings: list[dict] | None = None,
               manifest: dict | None = None, registers: dict[str, list[str]] | None = None) -> Path:
    """Write a small site: two GIS-only slabs, two ground parking spaces, a road, a gate,
    a plaza; registers as given (kind -> CSV lines incl. header)."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "gis").mkdir(exist_ok=True)
    rows = buildings if buildings is not None else [
        {"id": "B1", "name": "Block 1", "floors": 6, "height_m": 17.4,
         "geometry": box(E0, N0, E0 + 40, N0 + 12)},
        {"id": "B2", "name": "Block 2", "floors": 18, "height_m": 54.0,
         "geometry": box(E0 + 60, N0, E0 + 100, N0 + 15)},
    ]
    gpd.GeoDataFrame(rows, crs=CRS).to_file(root / "gis" / "buildings.geojson")
    gpd.GeoDataFrame({"id": ["P1", "P2"], "level": ["ground", "ground"]},
                     geometry=[box(E0, N0 - 10, E0 + 2.5, N0 - 5), box(E0 + 2.5, N0 - 10, E0 + 5, N0 - 5)],
                     crs=CRS).to_file(root / "gis" / "parking.gpkg")
    gpd.GeoDataFrame({"id": ["R1"], "width_m": [6.0]},
                     geometry=[LineString([(E0 - 10, N0 - 20), (E0 + 110, N0 - 20)])],
                     crs=CRS).to_file(root / "gis" / "roads.shp")
    gpd.GeoDataFrame({"id": ["G1"], "name": ["North gate"]}, geometry=[Point(E0 - 10, N0 + 30)],
                     crs=CRS).to_file(root / "gis" / "gates.geojson")
    gpd.GeoDataFrame({"id": ["PL1"], "kind": ["plaza"], "name": ["Central plaza"]},
                     geometry=[box(E0 + 45, N0 + 20, E0 + 55, N0 + 30)],
                     crs=CRS).to_file(root / "gis" / "public_areas.geojson")
    data = {
        "name": name, "crs": CRS, "timezone": "Asia/Shanghai",
        "layers": {"buildings": "gis/buildings.geojson", "parking": "gis/parking.gpkg",
                   "roads": "gis/roads.shp", "gates": "gis/gates.geojson",
                   "public_areas": "gis/public_areas.geojson"},
        "buildings": [],
        "registers": {},
    }
    for kind, lines in (registers or {}).items():
        write_csv(root / "registers" / f"{kind}.csv", *lines)
        data["registers"][kind] = f"registers/{kind}.csv"
    data.update(manifest or {})
    (root / "site.json").write_text(json.dumps(data, indent=1), encoding="utf-8")
    return root
