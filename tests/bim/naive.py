"""Slow, obviously correct twins of the reader's fast paths (STYLE 10).

- :func:`footprint_naive`: the union of every triangle of the mesh in plan, no snapping, no
  upward-face shortcut (the reader merges upward faces of closed meshes only).
- :func:`placement_naive`: ``ifcopenshell.util.placement.get_local_placement`` (the reader
  composes and memoises ``IfcLocalPlacement`` chains itself), in metres.
- :func:`prism_mesh`: a closed, outward-oriented triangle mesh of a polygon extruded from
  ``z0`` to ``z1`` (constrained Delaunay caps), to feed the footprint code known shapes.
"""

from __future__ import annotations

import numpy as np
import shapely
from shapely.geometry import Polygon

from bim.meshes import Mesh


def footprint_naive(mesh: Mesh):
    """Union of all triangles of ``mesh`` projected to plan (degenerate ones dropped)."""
    polys = []
    for a, b, c in mesh.faces:
        tri = Polygon([mesh.verts[a][:2], mesh.verts[b][:2], mesh.verts[c][:2]])
        if tri.area > 1e-10:
            polys.append(tri)
    return shapely.union_all(polys) if polys else Polygon()


def placement_naive(element, unit_scale_m: float) -> np.ndarray | None:
    """World placement of ``element`` (4x4, metres) by ifcopenshell's own utility."""
    import ifcopenshell.util.placement as P

    if getattr(element, "ObjectPlacement", None) is None:
        return None
    m = np.array(P.get_local_placement(element.ObjectPlacement), dtype=float)
    m[:3, 3] *= unit_scale_m
    return m


def prism_mesh(polygon: Polygon, z0: float, z1: float) -> Mesh:
    """Closed mesh of ``polygon`` extruded from ``z0`` to ``z1`` (outward normals)."""
    polygon = shapely.geometry.polygon.orient(polygon, 1.0)  # exterior counter-clockwise
    tris = shapely.constrained_delaunay_triangles(polygon)
    verts: list[tuple[float, float, float]] = []
    faces: list[tuple[int, int, int]] = []

    def add(points) -> None:
        base = len(verts)
        verts.extend(points)
        faces.append((base, base + 1, base + 2))

    for t in tris.geoms:
        (x0, y0), (x1, y1), (x2, y2) = list(shapely.geometry.polygon.orient(t, 1.0).exterior.coords)[:3]
        add([(x0, y0, z1), (x1, y1, z1), (x2, y2, z1)])  # top: counter-clockwise seen from above
        add([(x0, y0, z0), (x2, y2, z0), (x1, y1, z0)])  # bottom: reversed
    rings = [polygon.exterior] + list(polygon.interiors)
    for ring in rings:
        pts = list(ring.coords)
        for (xa, ya), (xb, yb) in zip(pts, pts[1:]):
            add([(xa, ya, z0), (xb, yb, z0), (xb, yb, z1)])
            add([(xa, ya, z0), (xb, yb, z1), (xa, ya, z1)])
    return Mesh(np.array(verts, dtype=float), np.array(faces, dtype=np.int64))
