"""GIS layers of a sample site, written as GeoJSON with an explicit projected CRS.

Files carry the (2008 GeoJSON) named ``crs`` member, ``urn:ogc:def:crs:EPSG::4547``, that
GDAL/pyogrio read back as the layer CRS; coordinates are metres (easting, northing)
rounded to the millimetre. One feature per line so diffs stay readable.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import shapely
from shapely.geometry import LineString, Point, mapping
from shapely.geometry.base import BaseGeometry
from shapely.ops import nearest_points, unary_union

__all__ = ["crs_urn", "footpath_connectors", "to_site", "write_layer"]


def crs_urn(crs: str) -> str:
    """Return the OGC URN of an ``EPSG:nnnn`` CRS string."""
    auth, code = crs.split(":")
    return f"urn:ogc:def:crs:{auth}::{code}"


def to_site(geom: BaseGeometry, origin: tuple[float, float], rotation_deg: float = 0.0,
            x: float = 0.0, y: float = 0.0) -> BaseGeometry:
    """Return ``geom`` (building-local metres) in the site CRS.

    The local frame's origin stands at site-local ``(x, y)`` (m from ``origin``, the site
    origin in the CRS) with its x axis turned ``rotation_deg`` counter-clockwise from east.
    """
    a = np.radians(rotation_deg)
    c, s = np.cos(a), np.sin(a)

    def fn(pts: np.ndarray) -> np.ndarray:
        px, py = pts[:, 0], pts[:, 1]
        return np.column_stack((origin[0] + x + c * px - s * py,
                                origin[1] + y + s * px + c * py))

    return shapely.transform(geom, fn)


def _round(obj):
    if isinstance(obj, float):
        return round(obj, 3) + 0.0
    if isinstance(obj, (list, tuple)):
        return [_round(v) for v in obj]
    if isinstance(obj, dict):
        return {k: _round(v) for k, v in obj.items()}
    return obj


def write_layer(path: Path, name: str, crs: str,
                features: list[tuple[dict, BaseGeometry]]) -> None:
    """Write ``features`` (properties, geometry in ``crs``) as one GeoJSON file."""
    head = {"type": "FeatureCollection", "name": name,
            "crs": {"type": "name", "properties": {"name": crs_urn(crs)}}}
    lines = []
    for props, geom in features:
        feat = {"type": "Feature", "properties": props, "geometry": _round(mapping(geom))}
        lines.append(json.dumps(feat, ensure_ascii=False, separators=(",", ":")))
    text = json.dumps(head, ensure_ascii=False)[:-1] + ',\n"features":[\n' + ",\n".join(lines) + "\n]}\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def footpath_connectors(points: list[tuple[str, Point]], network: list[BaseGeometry],
                        max_m: float = 60.0) -> list[tuple[str, LineString]]:
    """Return short paths from each exit point to the nearest road or footpath line.

    Points farther than ``max_m`` from the network get no connector.
    """
    net = unary_union(network)
    out = []
    for key, p in points:
        _, q = nearest_points(p, net)
        if 0.01 < p.distance(q) <= max_m:
            out.append((key, LineString([p, q])))
    return out
