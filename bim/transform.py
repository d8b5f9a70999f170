"""Moving a model fragment between CRSs (an IFC file mapped to another CRS than the site's).

:func:`map_xy` applies any (non-linear) plan transformation to every geometry and position
of a :class:`twin.model.Community` in place; :func:`crs_transform` builds one with pyproj.
Affine placements (anchors) are :func:`bim.georef.apply_anchor`.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import pyproj
import shapely

from twin.model import Community

__all__ = ["crs_transform", "map_xy", "shift_z"]

XYFunc = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


def crs_transform(src: str, dst: str) -> XYFunc:
    """Return the plan transform from CRS ``src`` to ``dst`` (x = easting/longitude)."""
    tr = pyproj.Transformer.from_crs(src, dst, always_xy=True)

    def fn(x: np.ndarray, y: np.ndarray):
        return tr.transform(np.asarray(x, dtype=float), np.asarray(y, dtype=float))

    return fn


def _geometry_slots(c: Community) -> list[tuple[object, str]]:
    """Every (record, attribute) of ``c`` that holds a plan geometry (None left out)."""
    slots: list[tuple[object, str]] = []
    for b in c.buildings:
        slots.append((b, "footprint"))
        slots += [(s, "walkable") for s in b.storeys]
    slots += [(sp, "footprint") for sp in c.spaces]
    for st in c.stairs:
        slots.append((st, "footprint"))
        slots += [(fl, "footprint") for fl in st.flights]
    slots += [(el, "footprint") for el in c.elevators]
    slots += [(f, "geometry") for f in c.features]
    return [(obj, name) for obj, name in slots if getattr(obj, name) is not None]


def _point(fn: XYFunc, p):
    if p is None:
        return None
    x, y = fn(np.array([p[0]], dtype=float), np.array([p[1]], dtype=float))
    return (float(x[0]), float(y[0]), *p[2:])


def map_xy(c: Community, fn: XYFunc) -> Community:
    """Apply ``fn`` to every plan geometry and position of ``c`` (in place); return ``c``.

    The one walker over a community's geometries: footprints, walkable areas, flights,
    features (all in one vectorised ``shapely.transform`` call), door, device and opening
    positions, building origins. z values (elevations) are not changed.
    """
    slots = _geometry_slots(c)
    if slots:
        def coords(xy: np.ndarray) -> np.ndarray:
            x, y = fn(xy[:, 0], xy[:, 1])
            return np.column_stack([x, y])

        geoms = np.array([getattr(obj, name) for obj, name in slots], dtype=object)
        for (obj, name), g in zip(slots, shapely.transform(geoms, coords)):
            setattr(obj, name, g)
    for d in c.doors:
        d.position = _point(fn, d.position)
    for dev in c.devices:
        dev.position = _point(fn, dev.position)
    for o in c.attributes.get("openings", []):
        o["position"] = list(_point(fn, tuple(o["position"])))
    for b in c.buildings:
        if b.attributes.get("origin_xy") is not None:
            b.attributes["origin_xy"] = list(_point(fn, tuple(b.attributes["origin_xy"])))
    return c


def shift_z(c: Community, dz_m: float) -> None:
    """Raise every elevation of ``c`` by ``dz_m`` metres (in place)."""
    if not dz_m:
        return
    for s in c.storeys:
        s.elevation_m += dz_m
    for dev in c.devices:
        if dev.position is not None and len(dev.position) > 2:
            dev.position = (dev.position[0], dev.position[1], dev.position[2] + dz_m)
