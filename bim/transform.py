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


def _geom(fn: XYFunc):
    def apply(g):
        if g is None or g.is_empty:
            return g

        def coords(xy: np.ndarray) -> np.ndarray:
            x, y = fn(xy[:, 0], xy[:, 1])
            return np.column_stack([x, y])

        return shapely.transform(g, coords)

    return apply


def _point(fn: XYFunc, p):
    if p is None:
        return None
    x, y = fn(np.array([p[0]], dtype=float), np.array([p[1]], dtype=float))
    return (float(x[0]), float(y[0]), *p[2:])


def map_xy(c: Community, fn: XYFunc) -> None:
    """Apply ``fn`` to every plan geometry and position of ``c`` (in place)."""
    g = _geom(fn)
    for b in c.buildings:
        b.footprint = g(b.footprint)
        for s in b.storeys:
            s.walkable = g(s.walkable)
    for sp in c.spaces:
        sp.footprint = g(sp.footprint)
    for d in c.doors:
        d.position = _point(fn, d.position)
    for st in c.stairs:
        st.footprint = g(st.footprint)
        for f in st.flights:
            f.footprint = g(f.footprint)
    for el in c.elevators:
        el.footprint = g(el.footprint)
    for dev in c.devices:
        dev.position = _point(fn, dev.position)
    for f in c.features:
        f.geometry = g(f.geometry)


def shift_z(c: Community, dz_m: float) -> None:
    """Raise every elevation of ``c`` by ``dz_m`` metres (in place)."""
    if not dz_m:
        return
    for s in c.storeys:
        s.elevation_m += dz_m
    for dev in c.devices:
        if dev.position is not None and len(dev.position) > 2:
            dev.position = (dev.position[0], dev.position[1], dev.position[2] + dz_m)
