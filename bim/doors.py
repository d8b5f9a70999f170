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

__all__ = ["DoorFrame", "SpaceLocator", "PROBE_OFFSETS_M", "connect_door", "door_frame",
           "probe_doors"]

#: Probe distances (m) beyond half the door depth, nearest first.
PROBE_OFFSETS_M = (0.15, 0.3, 0.5, 0.8, 1.2)


@dataclass
class DoorFrame:
    """Plan frame of a door: centre (m), unit normal, width and depth (m)."""

    centre: np.ndarray
    normal: np.ndarray
    width_m: float
    depth_m: float


def door_frame(verts_xy: np.ndarray | None, placement, overall_width_m: float | None,
               box: tuple | None = None) -> DoorFrame | None:
    """Return the door's plan frame from its mesh, else from its placement.

    Parameters
    ----------
    verts_xy : (n, 2) array or None
        Mesh vertices in plan (m, world).
    placement : (4, 4) array, None, or a callable returning one
        Object placement in metres (world); x axis along the width, y through the wall.
        A callable is only called when the mesh does not settle the frame.
    overall_width_m : float or None
        ``OverallWidth`` of the door in metres.
    box : tuple, optional
        ``oriented_box(verts_xy)`` when already computed (batched by the reader).
    """
    from bim.meshes import oriented_box

    get = placement if callable(placement) else (lambda: placement)
    if verts_xy is not None and len(verts_xy) >= 3:
        centre, axis, long_m, short_m = box if box is not None else oriented_box(verts_xy)
        if long_m > 0:
            normal = np.array([-axis[1], axis[0]])
            if short_m > 0.8 * long_m:  # squarish box: trust the IFC axes
                placement = get()
                if placement is not None and np.hypot(*placement[:2, 1]) > 0:
                    normal = _unit(placement[:2, 1])
            width = overall_width_m if overall_width_m and overall_width_m > 0 else long_m
            return DoorFrame(centre, normal, float(width), float(short_m))
    placement = get()
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
    """Find the spaces containing plan points among a fixed set of footprints.

    Points are matched against the footprints' bounding boxes in one NumPy comparison and
    the candidates tested with :func:`shapely.intersects_xy` (no point geometries made);
    large batches go through an STRtree.
    """

    #: above this many point x footprint pairs an STRtree narrows the candidates instead
    BOX_PAIRS_MAX = 1 << 20

    def __init__(self, ids: list[str], footprints: list) -> None:
        keep = [(i, f) for i, f in zip(ids, footprints) if f is not None and not f.is_empty]
        self.ids = [i for i, _ in keep]
        self.geoms = [f for _, f in keep]
        self._geoms = np.array(self.geoms, dtype=object)
        self._areas = shapely.area(self._geoms).tolist() if self.geoms else []
        self._bounds = shapely.bounds(self._geoms) if self.geoms else np.zeros((0, 4))
        self._tree = None

    @property
    def tree(self) -> STRtree | None:
        """STRtree of the footprints (built on first use), None without footprints."""
        if self._tree is None and self.geoms:
            self._tree = STRtree(self.geoms)
        return self._tree

    def at(self, x: float, y: float) -> str | None:
        """Return the id of the smallest space containing the point, or ``None``."""
        return self.at_many(np.array([[x, y]], dtype=float))[0]

    def at_many(self, xy: np.ndarray) -> list[str | None]:
        """Return, per plan point of ``xy`` (n, 2), the smallest space containing it
        (points on a boundary included; of equal areas the first footprint)."""
        out: list[str | None] = [None] * len(xy)
        if not self.geoms or len(xy) == 0:
            return out
        xy = np.asarray(xy, dtype=float).reshape(-1, 2)
        if len(xy) * len(self.geoms) <= self.BOX_PAIRS_MAX:
            b = self._bounds
            x, y = xy[:, :1], xy[:, 1:]
            pts, geoms = np.nonzero((x >= b[:, 0]) & (x <= b[:, 2]) & (y >= b[:, 1]) & (y <= b[:, 3]))
            hit = shapely.intersects_xy(self._geoms[geoms], xy[pts, 0], xy[pts, 1])
            pts, geoms = pts[hit], geoms[hit]
        else:
            pts, geoms = self.tree.query(shapely.points(xy), predicate="intersects")
        best: list[int | None] = [None] * len(xy)
        areas = self._areas
        for p, g in zip(pts.tolist(), geoms.tolist()):
            cur = best[p]
            if cur is None or areas[g] < areas[cur] or (areas[g] == areas[cur] and g < cur):
                best[p] = g
        return [self.ids[g] if g is not None else None for g in best]


def _distinct(ids) -> list[str]:
    out: list[str] = []
    for sid in ids:
        if sid is not None and sid not in out:
            out.append(sid)
    return out


def probe_doors(frames: list[DoorFrame | None], locator: SpaceLocator
                ) -> list[tuple[list[str], list[str]]]:
    """Return, per door, the spaces hit in front of and behind it (one batched query)."""
    k = len(PROBE_OFFSETS_M)
    live = [i for i, f in enumerate(frames) if f is not None]
    out: list[tuple[list[str], list[str]]] = [([], []) for _ in frames]
    if not live:
        return out
    centre = np.array([frames[i].centre for i in live], dtype=float).reshape(-1, 2)
    normal = np.array([frames[i].normal for i in live], dtype=float).reshape(-1, 2)
    depth = np.array([frames[i].depth_m for i in live], dtype=float)
    # per door: k points in front (+normal), then k behind, nearest first; all doors at once
    dist = depth[:, None] / 2.0 + np.asarray(PROBE_OFFSETS_M)[None, :]
    step = dist[:, :, None] * normal[:, None, :]
    hits = locator.at_many(np.concatenate([centre[:, None, :] + step, centre[:, None, :] - step],
                                          axis=1).reshape(-1, 2))
    for n, i in enumerate(live):
        chunk = hits[n * 2 * k:(n + 1) * 2 * k]
        out[i] = (_distinct(chunk[:k]), _distinct(chunk[k:]))
    return out


def connect_door(frame: DoorFrame | None, locator: SpaceLocator | None,
                 boundary_spaces: list[str] | None = None,
                 probes: tuple[list[str], list[str]] | None = None) -> tuple[str | None, str | None]:
    """Return the two spaces a door joins (``None`` = outside).

    Parameters
    ----------
    frame : DoorFrame or None
        Plan frame of the door (None: only boundaries are used).
    locator : SpaceLocator
        Space footprints of the door's storey.
    probes : (front, back) lists of space ids, optional
        Result of :func:`probe_doors` for this door (else probed here).
    boundary_spaces : list of str, optional
        Spaces whose ``IfcRelSpaceBoundary`` names the door: two are trusted as they are;
        with more, the two found by the plan probes are taken when both are among them;
        with one, the probes give the other side.
    """
    bounds = list(dict.fromkeys(boundary_spaces or []))
    if len(bounds) == 2:
        return bounds[0], bounds[1]
    if probes is None:
        probes = probe_doors([frame], locator)[0] if locator is not None else ([], [])
    front, back = probes
    a = front[0] if front else None
    b = next((s for s in back if s != a), None)
    if a is None and back:
        a, b = back[0], None
    if len(bounds) > 2:  # boundaries name more spaces than a door has sides: geometry picks
        if a in bounds and b in bounds:
            return a, b
        return bounds[0], bounds[1]
    if bounds:
        known = bounds[0]
        other = next((s for s in (a, b) if s is not None and s != known), None)
        return known, other
    return a, b
