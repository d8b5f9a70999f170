"""Which spaces a door joins: space boundaries when the file has them, else plan probes.

A door's plan box (minimum rotated rectangle of its mesh) gives its centre, width axis and
depth; the normal is perpendicular to the width axis. Points are probed on both sides of the
door along the normal, at increasing distances beyond half the door's depth, against the
space footprints of the door's storey; the first space hit on each side wins. A side where
no space is found is the outside (``None``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from shapely import STRtree

__all__ = ["DoorFrame", "SpaceLocator", "PROBE_OFFSETS_M", "connect_door", "door_frame"]

#: Probe distances (m) beyond half the door depth, nearest first.
PROBE_OFFSETS_M = (0.15, 0.3, 0.5, 0.8, 1.2)


@dataclass
class DoorFrame:
    """Plan frame of a door: centre (m), unit normal, width and depth (m)."""

    centre: np.ndarray
    normal: np.ndarray
    width_m: float
    depth_m: float


def door_frame(verts_xy: np.ndarray | None, placement: np.ndarray | None,
               overall_width_m: float | None) -> DoorFrame | None:
    """Return the door's plan frame from its mesh, else from its placement.

    Parameters
    ----------
    verts_xy : (n, 2) array or None
        Mesh vertices in plan (m, world).
    placement : (4, 4) array or None
        Object placement in metres (world); x axis along the width, y through the wall.
    overall_width_m : float or None
        ``OverallWidth`` of the door in metres.
    """
    from bim.meshes import oriented_box

    if verts_xy is not None and len(verts_xy) >= 3:
        centre, axis, long_m, short_m = oriented_box(verts_xy)
        if long_m > 0:
            normal = np.array([-axis[1], axis[0]])
            if placement is not None and short_m > 0.8 * long_m:  # squarish box: trust IFC axes
                normal = _unit(placement[:2, 1]) if np.hypot(*placement[:2, 1]) > 0 else normal
            width = overall_width_m if overall_width_m and overall_width_m > 0 else long_m
            return DoorFrame(centre, normal, float(width), float(short_m))
    if placement is None:
        return None
    x_axis = _unit(placement[:2, 0]) if np.hypot(*placement[:2, 0]) > 0 else np.array([1.0, 0.0])
    width = overall_width_m if overall_width_m and overall_width_m > 0 else 0.9
    centre = placement[:2, 3] + x_axis * width / 2.0
    return DoorFrame(centre, np.array([-x_axis[1], x_axis[0]]), float(width), 0.0)


def _unit(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, dtype=float)
    n = float(np.hypot(v[0], v[1]))
    return v[:2] / n if n > 0 else np.array([1.0, 0.0])


class SpaceLocator:
    """Find the spaces containing plan points among a fixed set of footprints (STRtree)."""

    def __init__(self, ids: list[str], footprints: list) -> None:
        keep = [(i, f) for i, f in zip(ids, footprints) if f is not None and not f.is_empty]
        self.ids = [i for i, _ in keep]
        self.geoms = [f for _, f in keep]
        self.tree = STRtree(self.geoms) if self.geoms else None

    def at(self, x: float, y: float) -> str | None:
        """Return the id of the smallest space containing the point, or ``None``."""
        if self.tree is None:
            return None
        hits = self.tree.query(shapely.points(x, y), predicate="intersects")
        if len(hits) == 0:
            return None
        best = min(hits, key=lambda k: self.geoms[k].area)
        return self.ids[best]


def _probe(frame: DoorFrame, locator: SpaceLocator, side: float) -> list[str]:
    hits: list[str] = []
    for off in PROBE_OFFSETS_M:
        p = frame.centre + side * (frame.depth_m / 2.0 + off) * frame.normal
        sid = locator.at(float(p[0]), float(p[1]))
        if sid is not None and sid not in hits:
            hits.append(sid)
    return hits


def connect_door(frame: DoorFrame | None, locator: SpaceLocator,
                 boundary_spaces: list[str] | None = None) -> tuple[str | None, str | None]:
    """Return the two spaces a door joins (``None`` = outside).

    Parameters
    ----------
    frame : DoorFrame or None
        Plan frame of the door (None: only boundaries are used).
    locator : SpaceLocator
        Space footprints of the door's storey.
    boundary_spaces : list of str, optional
        Spaces whose ``IfcRelSpaceBoundary`` names the door (trusted first).
    """
    bounds = list(dict.fromkeys(boundary_spaces or []))
    if len(bounds) >= 2:
        return bounds[0], bounds[1]
    front = _probe(frame, locator, 1.0) if frame is not None else []
    back = _probe(frame, locator, -1.0) if frame is not None else []
    a = front[0] if front else None
    b = next((s for s in back if s != a), None)
    if a is None and back:
        a, b = back[0], None
    if bounds:
        known = bounds[0]
        other = next((s for s in (a, b) if s is not None and s != known), None)
        return known, other
    return a, b
