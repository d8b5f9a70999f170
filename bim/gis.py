"""GIS site layers: reading (GeoJSON, GeoPackage, Shapefile), CRS choice and reprojection.

Every layer must carry a CRS; the site is reprojected to one local metric CRS (the
manifest's, else a CRS chosen by :func:`choose_crs`). Buildings become
:class:`Footprint` records, every other layer :class:`twin.model.SiteFeature` records.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pyproj
import shapely
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

from bim.errors import GisError
from twin.model import SiteFeature

__all__ = [
    "GIS_SUFFIXES", "Footprint", "choose_crs", "crs_name", "features_from_layer",
    "footprints_from_layer", "read_layer", "reproject", "utm_crs",
]

#: File suffixes read as GIS layers.
GIS_SUFFIXES = (".geojson", ".json", ".gpkg", ".shp", ".fgb")

#: Feature kind of each site layer (``public_areas`` take the feature's own ``kind``).
_LAYER_FEATURE_KIND = {
    "roads": "road", "footpaths": "footpath", "green": "green", "parking": "parking",
    "gates": "gate", "public_areas": "public",
}


@dataclass
class Footprint:
    """A building footprint of the buildings layer, in site coordinates (m).

    ``floors`` and ``height_m`` (m above ground, roof) may be ``None`` when the layer does
    not state them; ``ifc`` is the IFC file named by the feature, relative to the site.
    """

    id: str
    name: str
    geometry: Polygon
    floors: int | None = None
    height_m: float | None = None
    ifc: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)


def read_layer(path: Path, *, layer: str | None = None) -> gpd.GeoDataFrame:
    """Read one GIS layer with pyogrio and check that it is usable.

    Parameters
    ----------
    path : Path
        A GeoJSON, GeoPackage, Shapefile or FlatGeobuf file.
    layer : str, optional
        Layer name inside a multi-layer file (GeoPackage); default its first layer.

    Raises
    ------
    GisError
        The file is missing or unreadable, has no CRS, or geographic coordinates out of
        range (projected coordinates in a GeoJSON without a ``crs`` member).
    """
    path = Path(path)
    if not path.is_file():
        raise GisError(f"{path}: GIS file not found")
    try:
        gdf = gpd.read_file(path, layer=layer, engine="pyogrio")
    except Exception as exc:  # pyogrio raises DataSourceError, DataLayerError, ...
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise GisError(f"{path}: cannot read GIS layer ({msg})") from None
    where = f"{path}" + (f" layer {layer!r}" if layer else "")
    if gdf.crs is None:
        raise GisError(f"{where}: has no CRS (declare one: a .prj file, a GeoPackage srs, a GeoJSON crs)")
    if gdf.crs.is_geographic and len(gdf) and not gdf.geometry.is_empty.all():
        minx, miny, maxx, maxy = gdf.total_bounds
        if minx < -180 or maxx > 180 or miny < -90 or maxy > 90:
            raise GisError(
                f"{where}: coordinates ({minx:.0f}, {miny:.0f}) are out of range for "
                f"{crs_name(gdf.crs)}; is the CRS missing (projected coordinates)?"
            )
    return gdf


def crs_name(crs: pyproj.CRS | str) -> str:
    """Return ``EPSG:NNNN`` for a CRS with an EPSG code, else its WKT name."""
    crs = pyproj.CRS.from_user_input(crs)
    code = crs.to_epsg()
    return f"EPSG:{code}" if code else crs.name


def utm_crs(lon_deg: float, lat_deg: float) -> str:
    """Return the WGS 84 UTM zone CRS (``EPSG:326NN`` north, ``EPSG:327NN`` south) of a point.

    Zones are 6° wide from 180°W (zone 1); the Norway/Svalbard exceptions are ignored.

    >>> utm_crs(121.47, 31.23)  # Shanghai
    'EPSG:32651'
    """
    if not (-180 <= lon_deg <= 180 and -90 <= lat_deg <= 90):
        raise GisError(f"lon={lon_deg}, lat={lat_deg} is not a geographic position")
    zone = min(int(math.floor((lon_deg + 180.0) / 6.0)) + 1, 60)
    return f"EPSG:{32600 + zone if lat_deg >= 0 else 32700 + zone}"


def _is_metric_projected(crs: pyproj.CRS) -> bool:
    if not crs.is_projected:
        return False
    return all((ax.unit_name or "").lower() in ("metre", "meter") for ax in crs.axis_info[:2])


def choose_crs(manifest_crs: str | None, layers: list[gpd.GeoDataFrame]) -> str:
    """Return the local metric CRS of a site.

    The manifest's CRS when given; else, when every layer already shares one projected CRS
    in metres, that CRS; else the UTM zone (:func:`utm_crs`) of the centroid of all layers.

    Raises
    ------
    GisError
        The manifest CRS is unknown or not projected in metres, or there is nothing to
        locate the site with.
    """
    if manifest_crs:
        try:
            crs = pyproj.CRS.from_user_input(manifest_crs)
        except pyproj.exceptions.CRSError:
            raise GisError(f"crs={manifest_crs!r} is not a known CRS") from None
        if not _is_metric_projected(crs):
            raise GisError(f"crs={manifest_crs!r} must be a projected CRS in metres")
        return crs_name(crs)
    used = [g for g in layers if len(g)]
    if not used:
        raise GisError("no GIS feature to choose a site CRS from; give 'crs' in site.json")
    crss = {crs_name(g.crs) for g in used}
    if len(crss) == 1 and _is_metric_projected(used[0].crs):
        return crss.pop()
    bounds = np.array([g.to_crs("EPSG:4326").total_bounds for g in used])
    lon = (bounds[:, 0].min() + bounds[:, 2].max()) / 2.0
    lat = (bounds[:, 1].min() + bounds[:, 3].max()) / 2.0
    return utm_crs(float(lon), float(lat))


def reproject(gdf: gpd.GeoDataFrame, crs: str) -> gpd.GeoDataFrame:
    """Return the layer in ``crs`` (a copy; unchanged when already there)."""
    if pyproj.CRS.from_user_input(crs) == gdf.crs:
        return gdf
    return gdf.to_crs(crs)


def _clean(value: Any) -> Any:
    """Turn pandas/numpy scalars into plain Python, NaN/NaT into ``None``."""
    if value is None:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def _feature_id(raw: Any, fallback: str) -> str:
    raw = _clean(raw)
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return fallback
    if isinstance(raw, float) and raw.is_integer():
        raw = int(raw)
    return str(raw).strip()


def _records(gdf: gpd.GeoDataFrame, where: str, prefix: str):
    """Yield ``(id, geometry, properties)`` per non-empty feature; ids unique."""
    seen: set[str] = set()
    columns = [c for c in gdf.columns if c != gdf.geometry.name]
    for n, (geom, row) in enumerate(zip(gdf.geometry, gdf[columns].itertuples(index=False)), 1):
        props = {c: _clean(v) for c, v in zip(columns, row)}
        fid = _feature_id(props.pop("id", None), f"{prefix}{n}")
        if geom is None or geom.is_empty:
            raise GisError(f"{where}: feature {fid!r} has no geometry")
        if fid in seen:
            raise GisError(f"{where}: feature id {fid!r} appears twice")
        seen.add(fid)
        if not geom.is_valid:
            geom = shapely.make_valid(geom)
        yield fid, geom, props


def _number(props: dict, key: str, fid: str, where: str, *, integer: bool = False):
    value = props.pop(key, None)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        num = float(value)
    except (TypeError, ValueError):
        raise GisError(f"{where}: building {fid!r}: {key}={value!r} is not a number") from None
    if not math.isfinite(num) or num <= 0:
        raise GisError(f"{where}: building {fid!r}: {key}={value!r} must be > 0")
    if integer:
        if not num.is_integer():
            raise GisError(f"{where}: building {fid!r}: {key}={value!r} must be a whole number")
        return int(num)
    return num


def _polygon(geom: BaseGeometry, fid: str, where: str, warnings: list[str]) -> Polygon:
    if isinstance(geom, Polygon):
        return geom
    polys = [g for g in getattr(geom, "geoms", []) if isinstance(g, (Polygon, MultiPolygon))]
    parts = [p for g in polys for p in (g.geoms if isinstance(g, MultiPolygon) else [g])]
    if not parts:
        raise GisError(f"{where}: building {fid!r} must be a polygon, got {geom.geom_type}")
    parts.sort(key=lambda p: p.area, reverse=True)
    if len(parts) > 1:
        warnings.append(f"{where}: building {fid!r} has {len(parts)} parts; using the largest")
    return parts[0]


def footprints_from_layer(gdf: gpd.GeoDataFrame, where: str,
                          warnings: list[str] | None = None) -> list[Footprint]:
    """Return the building footprints of a buildings layer already in the site CRS.

    Properties read: ``id``, ``name``, ``floors``, ``height_m`` (also ``height``), ``ifc``;
    the others are kept in ``attributes``.
    """
    warnings = warnings if warnings is not None else []
    result = []
    for fid, geom, props in _records(gdf, where, "B"):
        floors = _number(props, "floors", fid, where, integer=True)
        height = _number(props, "height_m", fid, where)
        alt = _number(props, "height", fid, where)
        height = height if height is not None else alt
        ifc = props.pop("ifc", None)
        name = props.pop("name", None) or fid
        result.append(Footprint(
            id=fid, name=str(name), geometry=_polygon(geom, fid, where, warnings),
            floors=floors, height_m=height, ifc=str(ifc) if ifc else None,
            attributes={k: v for k, v in props.items() if v is not None},
        ))
    return result


def features_from_layer(gdf: gpd.GeoDataFrame, layer_kind: str, where: str) -> list[SiteFeature]:
    """Return the site features of a non-building layer already in the site CRS.

    The feature kind is the layer's (``road``, ``footpath``, ``green``, ``parking``,
    ``gate``); ``public_areas`` features keep their own ``kind`` (``plaza``,
    ``playground``...; default ``public``). Ids default to ``<layer>-<n>``.
    """
    kind = _LAYER_FEATURE_KIND.get(layer_kind, layer_kind)
    result = []
    for fid, geom, props in _records(gdf, where, f"{layer_kind}-"):
        own_kind = props.pop("kind", None) if layer_kind == "public_areas" else None
        name = props.pop("name", None) or fid
        result.append(SiteFeature(
            id=fid, kind=str(own_kind or kind), name=str(name), geometry=geom,
            attributes={"layer": layer_kind, **{k: v for k, v in props.items() if v is not None}},
        ))
    return result
