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

        # a geometry shared by several slots (storeys of one plan) is transformed once
        index: dict[int, int] = {}
        unique: list = []
        where = []
        for obj, name in slots:
            g = getattr(obj, name)
            k = index.get(id(g))
            if k is None:
                k = index[id(g)] = len(unique)
                unique.append(g)
            where.append(k)
        moved = shapely.transform(np.array(unique, dtype=object), coords)
        for (obj, name), k in zip(slots, where):
            setattr(obj, name, moved[k])
    # every position in one call of fn: (setter, position) pairs
    points: list[tuple[Callable, tuple]] = []
    for d in c.doors:
        if d.position is not None:
            points.append((lambda p, d=d: setattr(d, "position", p), d.position))
    for dev in c.devices:
        if dev.position is not None:
            points.append((lambda p, dev=dev: setattr(dev, "position", p), dev.position))
    for o in c.attributes.get("openings", []):
        points.append((lambda p, o=o: o.__setitem__("position", list(p)), tuple(o["position"])))
    for b in c.buildings:
        if b.attributes.get("origin_xy") is not None:
            points.append((lambda p, b=b: b.attributes.__setitem__("origin_xy", list(p)),
                           tuple(b.attributes["origin_xy"])))
    if points:
        xy = np.array([p[:2] for _, p in points], dtype=float).reshape(-1, 2)
        x, y = fn(xy[:, 0], xy[:, 1])
        for (put, p), xi, yi in zip(points, np.asarray(x, dtype=float).tolist(),
                                    np.asarray(y, dtype=float).tolist()):
            put((xi, yi, *p[2:]))
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
