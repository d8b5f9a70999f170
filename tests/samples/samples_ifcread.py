"""Read the sample sites back for tests, with ifcopenshell and the csv module only.

Deliberately independent of the generator (no import of ``bim.samplegen``) and of the
site loader: footprints come from the IFC geometry (extrusion profiles through mapped
items and placements), site coordinates from the IFC georeferencing or the manifest.
"""

from __future__ import annotations

import csv
import json
import math
from functools import lru_cache
from pathlib import Path

import ifcopenshell
import ifcopenshell.util.element as ue
import ifcopenshell.util.placement as up
import numpy as np
from shapely.geometry import Polygon

SAMPLE_SITES = Path(__file__).resolve().parents[2] / "sample_sites"


def site_dir(name: str) -> Path:
    return SAMPLE_SITES / name


def manifest(name: str) -> dict:
    return json.loads((site_dir(name) / "site.json").read_text(encoding="utf-8"))


def read_csv(name: str, register: str) -> list[dict]:
    path = site_dir(name) / manifest(name)["registers"][register]
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


@lru_cache(maxsize=None)
def open_ifc(path: str) -> ifcopenshell.file:
    return ifcopenshell.open(path)


def building_ifcs(name: str) -> dict[str, ifcopenshell.file]:
    """Building id (manifest) -> opened IFC file, for every building with an IFC."""
    out = {}
    for b in manifest(name)["buildings"]:
        if "ifc" in b:
            out[b["id"]] = open_ifc(str(site_dir(name) / b["ifc"]))
    return out


def _matrix_of_solid(solid) -> np.ndarray:
    return up.get_axis2placement(solid.Position) if solid.Position else np.eye(4)


def space_footprint(space) -> Polygon:
    """Plan polygon of an extruded space in building-local metres (project coordinates)."""
    placement = up.get_local_placement(space.ObjectPlacement)
    rep = next(r for r in space.Representation.Representations if r.RepresentationIdentifier == "Body")
    item = rep.Items[0]
    if item.is_a("IfcMappedItem"):
        origin = up.get_axis2placement(item.MappingSource.MappingOrigin)
        target = item.MappingTarget
        assert target is None or tuple(target.LocalOrigin.Coordinates) == (0.0, 0.0, 0.0)
        placement = placement @ origin
        item = item.MappingSource.MappedRepresentation.Items[0]
    assert item.is_a("IfcExtrudedAreaSolid"), item.is_a()
    m = placement @ _matrix_of_solid(item)
    pts = [p.Coordinates for p in item.SweptArea.OuterCurve.Points]
    xy = [tuple((m @ np.array([x, y, 0.0, 1.0]))[:2]) for x, y in pts]
    return Polygon(xy)


def point_of(element) -> tuple[float, float, float]:
    """Origin of an element's placement in building-local metres."""
    m = up.get_local_placement(element.ObjectPlacement)
    return float(m[0, 3]), float(m[1, 3]), float(m[2, 3])


def storey_of(element):
    """Storey that contains (or aggregates) an element, via spaces if needed."""
    parent = ue.get_container(element) or ue.get_aggregate(element)
    while parent is not None and not parent.is_a("IfcBuildingStorey"):
        parent = ue.get_container(parent) or ue.get_aggregate(parent)
    return parent


def local_to_site(f: ifcopenshell.file, entry: dict, x: float, y: float) -> tuple[float, float]:
    """Site (E, N) of a building-local point: IfcMapConversion, else the manifest anchor."""
    conv = f.by_type("IfcMapConversion")
    if conv:
        c = conv[0]
        a = math.atan2(c.XAxisOrdinate, c.XAxisAbscissa)
        s = c.Scale or 1.0
        return (c.Eastings + s * (math.cos(a) * x - math.sin(a) * y),
                c.Northings + s * (math.sin(a) * x + math.cos(a) * y))
    anc = entry["anchor"]
    a = math.radians(anc["rotation_deg"])
    return (anc["easting"] + math.cos(a) * x - math.sin(a) * y,
            anc["northing"] + math.sin(a) * x + math.cos(a) * y)
