"""Georeferencing: IfcMapConversion, anchors and plan transforms of a community fragment.

Plan coordinates of the reader are metres. A file with an ``IfcMapConversion`` is placed in
map coordinates (eastings, northings of ``IfcProjectedCRS``)::

    E = Eastings  + k * (cos(t) * x - sin(t) * y)
    N = Northings + k * (sin(t) * x + cos(t) * y)

with ``t = atan2(XAxisOrdinate, XAxisAbscissa)`` and ``k = Scale * (project unit -> map
unit)``: the conversion of project length units to the CRS's ``MapUnit`` (metre when absent)
is applied here, on top of ``Scale`` (``ifcopenshell.util.geolocation`` does not do it).
A file without map conversion keeps its local coordinates; :func:`apply_anchor` then places
it with an anchor (easting, northing, rotation) given by the site manifest.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely
from shapely import affinity
from shapely.geometry.base import BaseGeometry

from bim.errors import GeoreferenceError
from bim.transform import map_xy
from twin.model import Community

__all__ = ["Affine2D", "MapConversion", "apply_anchor", "footprint_iou", "read_map_conversion",
           "transform_community"]


@dataclass(frozen=True)
class Affine2D:
    """A plan transform ``(x, y) -> (a*x + b*y + xoff, d*x + e*y + yoff)`` (m)."""

    a: float = 1.0
    b: float = 0.0
    d: float = 0.0
    e: float = 1.0
    xoff: float = 0.0
    yoff: float = 0.0

    @classmethod
    def similarity(cls, easting: float, northing: float, theta_rad: float,
                   scale: float = 1.0, scale_y: float | None = None) -> "Affine2D":
        """Rotate by ``theta_rad`` (counter-clockwise), scale, then translate."""
        sy = scale if scale_y is None else scale_y
        c, s = math.cos(theta_rad), math.sin(theta_rad)
        return cls(scale * c, -sy * s, scale * s, sy * c, easting, northing)

    def xy(self, x: float, y: float) -> tuple[float, float]:
        """Transform one point."""
        return (self.a * x + self.b * y + self.xoff, self.d * x + self.e * y + self.yoff)

    def geom(self, g: BaseGeometry | None) -> BaseGeometry | None:
        """Transform a shapely geometry (``None`` stays ``None``)."""
        if g is None:
            return None
        return affinity.affine_transform(g, [self.a, self.b, self.d, self.e, self.xoff, self.yoff])


@dataclass
class MapConversion:
    """The numbers of an ``IfcMapConversion`` and the CRS it targets.

    ``factor`` multiplies metres of the project into map units (Scale and unit conversion).
    """

    crs: str | None
    eastings: float
    northings: float
    orthogonal_height: float
    x_axis_abscissa: float
    x_axis_ordinate: float
    scale: float
    map_unit_m: float
    factor: float
    factor_y: float | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def rotation_rad(self) -> float:
        """Angle of the project x axis from the map's east axis, counter-clockwise (rad)."""
        return math.atan2(self.x_axis_ordinate, self.x_axis_abscissa)

    def transform(self) -> Affine2D:
        """The plan transform from project metres to map coordinates."""
        return Affine2D.similarity(self.eastings, self.northings, self.rotation_rad,
                                   self.factor, self.factor_y)

    def as_dict(self) -> dict[str, Any]:
        """Plain-data form (for the model's attributes and JSON output)."""
        return {
            "crs": self.crs, "eastings": self.eastings, "northings": self.northings,
            "orthogonal_height": self.orthogonal_height,
            "x_axis_abscissa": self.x_axis_abscissa, "x_axis_ordinate": self.x_axis_ordinate,
            "scale": self.scale, "map_unit_m": self.map_unit_m, "factor": self.factor,
        }


def _named_unit_m(unit) -> float:
    """Return metres per one ``unit`` (IfcSIUnit or IfcConversionBasedUnit of length)."""
    import ifcopenshell.util.unit as U

    if unit is None:
        return 1.0
    if unit.is_a("IfcSIUnit"):
        return float(U.get_prefix_multiplier(unit.Prefix)) if unit.Prefix else 1.0
    if unit.is_a("IfcConversionBasedUnit"):
        factor = unit.ConversionFactor
        value = factor.ValueComponent.wrappedValue
        return float(value) * _named_unit_m(factor.UnitComponent)
    return 1.0


def normalise_crs(name: str | None) -> str | None:
    """Return ``"EPSG:NNNN"`` for names like ``EPSG:4547``, ``epsg 4547`` or ``4547``."""
    if not name:
        return None
    text = str(name).strip()
    m = re.fullmatch(r"(?i)\s*(?:epsg)?\s*[:_ ]?\s*(\d{4,6})\s*", text)
    if m:
        return f"EPSG:{m.group(1)}"
    m = re.search(r"(?i)epsg\D{0,3}(\d{4,6})", text)
    return f"EPSG:{m.group(1)}" if m else text


def read_map_conversion(ifc_file, unit_scale_m: float) -> MapConversion | None:
    """Return the file's map conversion, or ``None`` when it has none.

    IFC4/IFC4X3 ``IfcMapConversion`` (and ``IfcMapConversionScaled``) are read; for IFC2X3
    the ``ePSet_MapConversion`` / ``ePSet_ProjectedCRS`` property sets of the IFC2x3
    georeferencing guide are used.

    Parameters
    ----------
    ifc_file : ifcopenshell.file
    unit_scale_m : float
        Metres per project length unit.
    """
    try:
        conversions = ifc_file.by_type("IfcMapConversion")
    except RuntimeError:  # IFC2X3 has no such class
        conversions = []
    if conversions:
        return _from_entity(conversions[0], unit_scale_m)
    return _from_psets(ifc_file, unit_scale_m)


def _finish(crs, e, n, h, xa, xo, scale, map_unit_m, unit_scale_m, scale_y=None) -> MapConversion:
    warnings: list[str] = []
    units = unit_scale_m / map_unit_m  # project units -> map units
    if abs(units - 1.0) > 1e-12 and math.isclose(scale, units, rel_tol=1e-9):
        # the author put the unit conversion into Scale (IFC4 wording); do not apply it twice
        factor = scale / unit_scale_m
        warnings.append(f"IfcMapConversion Scale={scale:g} equals the project-to-map unit "
                        "factor; treated as including the unit conversion")
    else:
        factor = scale / map_unit_m
    factor_y = None if scale_y is None else scale_y / map_unit_m
    if not math.isclose(map_unit_m, 1.0):
        warnings.append(f"map unit is {map_unit_m:g} m; coordinates are in map units")
    if xa == 0 and xo == 0:
        warnings.append("IfcMapConversion has XAxisAbscissa=XAxisOrdinate=0; rotation 0 used")
        xa = 1.0
    return MapConversion(normalise_crs(crs), e, n, h, xa, xo, scale, map_unit_m, factor,
                         factor_y, warnings)


def _from_entity(conv, unit_scale_m: float) -> MapConversion:
    target = conv.TargetCRS
    crs = getattr(target, "Name", None)
    map_unit_m = _named_unit_m(getattr(target, "MapUnit", None))
    scale = conv.Scale if conv.Scale is not None else 1.0
    fx = getattr(conv, "FactorX", None) if conv.is_a("IfcMapConversionScaled") else None
    fy = getattr(conv, "FactorY", None) if conv.is_a("IfcMapConversionScaled") else None
    sx = scale * (fx if fx is not None else 1.0)
    sy = None if fy is None else scale * fy
    return _finish(crs, float(conv.Eastings), float(conv.Northings),
                   float(conv.OrthogonalHeight or 0.0),
                   float(conv.XAxisAbscissa if conv.XAxisAbscissa is not None else 1.0),
                   float(conv.XAxisOrdinate if conv.XAxisOrdinate is not None else 0.0),
                   float(sx), map_unit_m, unit_scale_m, sy)


def _from_psets(ifc_file, unit_scale_m: float) -> MapConversion | None:
    import ifcopenshell.util.element as E

    for owner in list(ifc_file.by_type("IfcSite")) + list(ifc_file.by_type("IfcProject")):
        psets = E.get_psets(owner)
        mc = psets.get("ePSet_MapConversion")
        if not mc or mc.get("Eastings") is None:
            continue
        crs_pset = psets.get("ePSet_ProjectedCRS", {})
        unit = str(crs_pset.get("MapUnit") or "").upper()
        map_unit_m = {"MILLIMETRE": 1e-3, "CENTIMETRE": 1e-2, "FOOT": 0.3048}.get(unit, 1.0)
        return _finish(crs_pset.get("Name"), float(mc["Eastings"]), float(mc.get("Northings") or 0),
                       float(mc.get("OrthogonalHeight") or 0.0),
                       float(mc.get("XAxisAbscissa") if mc.get("XAxisAbscissa") is not None else 1.0),
                       float(mc.get("XAxisOrdinate") or 0.0), float(mc.get("Scale") or 1.0),
                       map_unit_m, unit_scale_m)
    return None


def transform_community(c: Community, t: Affine2D) -> Community:
    """Apply the plan transform ``t`` to every geometry and position of ``c`` (in place).

    z values (elevations) are not changed (:func:`bim.transform.map_xy` walks the model).
    Returns ``c``.
    """
    return map_xy(c, lambda x, y: (t.a * x + t.b * y + t.xoff, t.d * x + t.e * y + t.yoff))


def apply_anchor(model_or_community, easting: float, northing: float, rotation_deg: float,
                 *, force: bool = False):
    """Place a local (not georeferenced) model in site coordinates, in place.

    The project origin goes to ``(easting, northing)`` and the project x axis is turned
    ``rotation_deg`` counter-clockwise from east. Returns the object it was given.

    Parameters
    ----------
    model_or_community : bim.ifc.IfcModel or twin.model.Community
    easting, northing : float
        Site coordinates (m) of the project origin.
    rotation_deg : float
        Rotation of the project x axis from east, counter-clockwise (degrees).
    force : bool
        Apply even when the model is already in map coordinates (IfcMapConversion).

    Raises
    ------
    GeoreferenceError
        When a number is not finite, or the model is already georeferenced and not ``force``.

    Examples
    --------
    >>> from twin.model import Community
    >>> c = apply_anchor(Community("x"), 500000.0, 3380000.0, 90.0)
    >>> c.attributes["anchor"]["rotation_deg"]
    90.0
    """
    for name, value in (("easting", easting), ("northing", northing), ("rotation_deg", rotation_deg)):
        try:
            ok = math.isfinite(float(value))
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise GeoreferenceError(f"anchor {name}={value!r} must be a finite number")
    c: Community = getattr(model_or_community, "community", model_or_community)
    if c.attributes.get("georeferenced") and not force:
        raise GeoreferenceError(
            f"model {c.name!r} is already in map coordinates ({c.crs}); an anchor applies "
            "only to files without IfcMapConversion")
    transform_community(c, Affine2D.similarity(float(easting), float(northing),
                                               math.radians(float(rotation_deg))))
    c.attributes["anchor"] = {"easting": float(easting), "northing": float(northing),
                              "rotation_deg": float(rotation_deg)}
    return model_or_community


def footprint_iou(a: BaseGeometry | None, b: BaseGeometry | None) -> float:
    """Return the intersection over union of two plan footprints (0 when either is empty).

    Examples
    --------
    >>> from shapely.geometry import box
    >>> round(footprint_iou(box(0, 0, 2, 1), box(1, 0, 3, 1)), 4)
    0.3333
    """
    if a is None or b is None or a.is_empty or b.is_empty:
        return 0.0
    a = a if a.is_valid else shapely.make_valid(a)
    b = b if b.is_valid else shapely.make_valid(b)
    union = shapely.union(a, b).area
    if not np.isfinite(union) or union <= 0:
        return 0.0
    return float(shapely.intersection(a, b).area / union)
