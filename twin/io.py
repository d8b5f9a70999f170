"""The model as JSON and GeoJSON: a lossless JSON form and GeoJSON layers per storey/site.

The JSON form (``community_to_dict``) carries a ``schema_version``; geometries are GeoJSON
geometry objects in the community's CRS (metres). ``community_from_dict`` gives back a model
equal to the one written (float coordinates survive JSON exactly).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from shapely.geometry import mapping, shape
from shapely.geometry.base import BaseGeometry

from twin.errors import ModelError
from twin.model import (
    BillingUnit, Building, Community, Device, Door, Elevator, Household, SiteFeature, Space,
    Staff, Stair, StairFlight, Storey,
)

__all__ = ["SCHEMA_VERSION", "community_from_dict", "community_to_dict", "site_geojson",
           "storey_geojson"]

#: Version of the JSON form; bumped when a field changes meaning.
SCHEMA_VERSION = 1

_LISTS: dict[str, type] = {
    "spaces": Space, "doors": Door, "stairs": Stair, "elevators": Elevator,
    "devices": Device, "billing_units": BillingUnit, "households": Household,
    "staff": Staff, "features": SiteFeature,
}
_GEOMETRY_FIELDS = {"footprint", "walkable", "geometry"}


def _encode(value: Any) -> Any:
    if isinstance(value, BaseGeometry):
        return mapping(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (list, tuple)):
        return [_encode(v) for v in value]
    if isinstance(value, dict):
        return {k: _encode(v) for k, v in value.items()}
    return value


def _decode(cls: type, data: dict[str, Any]):
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.name not in data:
            continue
        value = data[f.name]
        if f.name in _GEOMETRY_FIELDS and value is not None:
            value = shape(value)
        elif f.name == "flights":
            value = [_decode(StairFlight, v) for v in value]
        elif f.name == "storeys" and cls is Building:
            value = [_decode(Storey, v) for v in value]
        elif isinstance(value, list) and str(f.type).startswith("tuple"):
            value = tuple(value)
        kwargs[f.name] = value
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise ModelError(f"bad {cls.__name__} record: {exc}") from None


def community_to_dict(community: Community) -> dict[str, Any]:
    """Return the JSON-ready form of the whole model."""
    out = _encode(community)
    out["schema_version"] = SCHEMA_VERSION
    return out


def community_from_dict(data: dict[str, Any]) -> Community:
    """Rebuild a model from :func:`community_to_dict` output.

    Raises
    ------
    ModelError
        The data is not a model of a supported schema version.
    """
    if not isinstance(data, dict) or "name" not in data:
        raise ModelError("not a community model: expected an object with a 'name'")
    version = data.get("schema_version", SCHEMA_VERSION)
    if version != SCHEMA_VERSION:
        raise ModelError(f"schema_version={version!r} is not supported (expected {SCHEMA_VERSION})")
    community = Community(
        name=data["name"], crs=data.get("crs"),
        buildings=[_decode(Building, b) for b in data.get("buildings", [])],
        warnings=list(data.get("warnings", [])), attributes=dict(data.get("attributes", {})),
    )
    for key, cls in _LISTS.items():
        setattr(community, key, [_decode(cls, item) for item in data.get(key, [])])
    return community


def _feature(geometry: BaseGeometry | None, props: dict[str, Any]) -> dict[str, Any]:
    return {"type": "Feature", "geometry": mapping(geometry) if geometry is not None else None,
            "properties": props}


def _collection(community: Community, features: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "FeatureCollection", "features": features}
    if community.crs:
        # RFC 7946 drops "crs"; GDAL and geopandas still read this named form.
        out["crs"] = {"type": "name", "properties": {"name": _crs_urn(community.crs)}}
    return out


def _crs_urn(crs: str) -> str:
    if crs.upper().startswith("EPSG:"):
        return f"urn:ogc:def:crs:EPSG::{crs.split(':', 1)[1]}"
    return crs


def storey_geojson(community: Community, storey_id: str) -> dict[str, Any]:
    """Return a FeatureCollection of a storey: its spaces, doors, stairs, elevators, devices."""
    storey = community.storey(storey_id)
    feats = [_feature(storey.walkable, {"id": storey.id, "layer": "walkable", "name": storey.name,
                                         "elevation_m": storey.elevation_m})]
    for s in community.spaces:
        if s.storey_id == storey_id:
            feats.append(_feature(s.footprint, {
                "id": s.id, "layer": "space", "name": s.name, "long_name": s.long_name,
                "usage": s.usage, "area_m2": s.area_m2, "public": s.is_public}))
    from shapely.geometry import Point

    for d in community.doors:
        if d.storey_id == storey_id:
            feats.append(_feature(Point(d.position), {
                "id": d.id, "layer": "door", "name": d.name, "width_m": d.width_m,
                "space_a": d.spaces[0], "space_b": d.spaces[1], "is_exit": d.is_exit}))
    for kind, items in (("stair", community.stairs), ("elevator", community.elevators)):
        for e in items:
            if storey_id in e.storey_ids:
                feats.append(_feature(e.footprint, {"id": e.id, "layer": kind, "name": e.name}))
    for dev in community.devices:
        if dev.storey_id == storey_id and dev.position is not None:
            feats.append(_feature(Point(dev.position[:2]), {
                "id": dev.id, "layer": "device", "kind": dev.kind, "space": dev.space_id}))
    return _collection(community, feats)


def site_geojson(community: Community) -> dict[str, Any]:
    """Return a FeatureCollection of the grounds: building footprints and site features."""
    feats = [
        _feature(b.footprint, {"id": b.id, "layer": "building", "name": b.name, "source": b.source,
                               "floors": b.floors or len(b.storeys), "height_m": b.height_m})
        for b in community.buildings if b.footprint is not None
    ]
    feats += [_feature(f.geometry, {"id": f.id, "layer": f.kind, "name": f.name})
              for f in community.features]
    return _collection(community, feats)
