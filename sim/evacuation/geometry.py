"""Rasterise floors onto grids and collect their wall segments (metres, scenario plane).

Every floor gets its own grid of square cells (``cell_m``) covering its navigable area
(walkable ∪ exit and stair areas − obstacles) plus a margin; all floors' cells are laid end
to end in one flat index space (``offset`` + ``row * nx + col``) so numba kernels see plain
arrays. Walls are the boundary rings of the navigable area as segments, bucketed into a
coarse grid so an agent looks only at the segments near it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

__all__ = ["FloorGrid", "Layout", "build_layout", "cell_boxes_hit", "wall_segments"]

#: Side of a wall bucket (m) and how far around it segments are listed (m).
WALL_BUCKET_M = 1.0
WALL_REACH_M = 0.7


@dataclass
class FloorGrid:
    """Grid of one floor: origin (lower-left corner, m), size in cells, flat offset."""

    floor_id: str
    x0: float
    y0: float
    nx: int
    ny: int
    h: float
    offset: int
    mask: np.ndarray  # (ny, nx) bool: navigable cell

    def centres(self) -> tuple[np.ndarray, np.ndarray]:
        """Return x, y of every cell centre, shape (ny, nx)."""
        xs = self.x0 + (np.arange(self.nx) + 0.5) * self.h
        ys = self.y0 + (np.arange(self.ny) + 0.5) * self.h
        return np.meshgrid(xs, ys)

    def cells_of(self, geom: BaseGeometry) -> np.ndarray:
        """Return a (ny, nx) bool array of the cells whose square touches ``geom``."""
        return cell_boxes_hit(self, geom)


@dataclass
class Layout:
    """Grids and walls of every floor, as flat arrays for the kernels."""

    grids: list[FloorGrid]
    n_cells: int
    # per floor (index = floor position in the scenario)
    g_x0: np.ndarray
    g_y0: np.ndarray
    g_nx: np.ndarray
    g_ny: np.ndarray
    g_off: np.ndarray
    nav: np.ndarray  # (n_cells,) bool
    # walls
    seg: np.ndarray  # (n_seg, 4) x1, y1, x2, y2
    w_nx: np.ndarray
    w_ny: np.ndarray
    w_off: np.ndarray
    w_start: np.ndarray  # (n_buckets + 1,) CSR into w_idx
    w_idx: np.ndarray


def cell_boxes_hit(grid: FloorGrid, geom: BaseGeometry) -> np.ndarray:
    """Cells of ``grid`` whose square (closed) intersects ``geom``; (ny, nx) bool."""
    out = np.zeros((grid.ny, grid.nx), dtype=bool)
    if geom.is_empty:
        return out
    minx, miny, maxx, maxy = geom.bounds
    i0 = max(int(np.floor((minx - grid.x0) / grid.h)) - 1, 0)
    j0 = max(int(np.floor((miny - grid.y0) / grid.h)) - 1, 0)
    i1 = min(int(np.floor((maxx - grid.x0) / grid.h)) + 2, grid.nx)
    j1 = min(int(np.floor((maxy - grid.y0) / grid.h)) + 2, grid.ny)
    if i1 <= i0 or j1 <= j0:
        return out
    ii, jj = np.meshgrid(np.arange(i0, i1), np.arange(j0, j1))
    # boxes shrunk by a hair: a cell that merely touches the geometry (shares an edge or a
    # corner) does not count
    eps = 1e-6 * grid.h
    x = grid.x0 + ii * grid.h
    y = grid.y0 + jj * grid.h
    boxes = shapely.box(x + eps, y + eps, x + grid.h - eps, y + grid.h - eps)
    shapely.prepare(geom)
    hit = shapely.intersects(geom, boxes)
    out[j0:j1, i0:i1] = hit
    return out


def wall_segments(nav: BaseGeometry) -> np.ndarray:
    """Return the boundary segments of a (Multi)Polygon as an (n, 4) array (m)."""
    rings = []
    for poly in getattr(nav, "geoms", [nav]):
        if poly.is_empty:
            continue
        rings.append(np.asarray(poly.exterior.coords)[:, :2])
        rings.extend(np.asarray(r.coords)[:, :2] for r in poly.interiors)
    if not rings:
        return np.zeros((0, 4))
    segs = np.concatenate([np.hstack([r[:-1], r[1:]]) for r in rings])
    keep = np.hypot(segs[:, 2] - segs[:, 0], segs[:, 3] - segs[:, 1]) > 1e-9
    return segs[keep]


def _bucket_walls(segs: np.ndarray, x0: float, y0: float, nx: int, ny: int) -> list[list[int]]:
    buckets: list[list[int]] = [[] for _ in range(nx * ny)]
    b = WALL_BUCKET_M
    for k, (x1, y1, x2, y2) in enumerate(segs):
        i0 = max(int(np.floor((min(x1, x2) - WALL_REACH_M - x0) / b)), 0)
        i1 = min(int(np.floor((max(x1, x2) + WALL_REACH_M - x0) / b)), nx - 1)
        j0 = max(int(np.floor((min(y1, y2) - WALL_REACH_M - y0) / b)), 0)
        j1 = min(int(np.floor((max(y1, y2) + WALL_REACH_M - y0) / b)), ny - 1)
        if i1 - i0 > 2 and j1 - j0 > 2:
            # long diagonal segment: list it only in buckets it really passes near
            ii, jj = np.meshgrid(np.arange(i0, i1 + 1), np.arange(j0, j1 + 1))
            cx = x0 + (ii + 0.5) * b
            cy = y0 + (jj + 0.5) * b
            d = _point_segment_distance(cx, cy, x1, y1, x2, y2)
            near = d <= WALL_REACH_M + b * 0.7072
            for i, j in zip(ii[near], jj[near]):
                buckets[j * nx + i].append(k)
            continue
        for j in range(j0, j1 + 1):
            for i in range(i0, i1 + 1):
                buckets[j * nx + i].append(k)
    return buckets


def _point_segment_distance(px, py, x1, y1, x2, y2):
    dx, dy = x2 - x1, y2 - y1
    ll = dx * dx + dy * dy
    t = np.clip(((px - x1) * dx + (py - y1) * dy) / ll, 0.0, 1.0)
    return np.hypot(px - (x1 + t * dx), py - (y1 + t * dy))


def build_layout(navs: list[BaseGeometry], floor_ids: list[str], zones: list[list[BaseGeometry]],
                 cell_m: float) -> Layout:
    """Rasterise every floor's navigable area (cells whose centre lies inside, plus every cell
    touching one of the floor's ``zones`` so small exits and stair areas are never lost)."""
    grids: list[FloorGrid] = []
    off = 0
    seg_all, w_nx, w_ny, w_off, buckets_all = [], [], [], [], []
    woff = 0
    for fid, nav, fz in zip(floor_ids, navs, zones):
        minx, miny, maxx, maxy = nav.bounds
        pad = 2 * cell_m
        x0, y0 = minx - pad, miny - pad
        nx = int(np.ceil((maxx - minx + 2 * pad) / cell_m))
        ny = int(np.ceil((maxy - miny + 2 * pad) / cell_m))
        g = FloorGrid(fid, x0, y0, nx, ny, cell_m, off, np.zeros((ny, nx), dtype=bool))
        cx, cy = g.centres()
        shapely.prepare(nav)
        g.mask = shapely.contains_xy(nav, cx, cy)
        for z in fz:
            g.mask |= cell_boxes_hit(g, z.intersection(nav) if not z.within(nav) else z)
        grids.append(g)
        off += nx * ny
        segs = wall_segments(nav)
        bx = max(int(np.ceil((nx * cell_m) / WALL_BUCKET_M)), 1)
        by = max(int(np.ceil((ny * cell_m) / WALL_BUCKET_M)), 1)
        bk = _bucket_walls(segs, x0, y0, bx, by)
        base = sum(len(s) for s in seg_all)
        buckets_all.extend([[base + k for k in b] for b in bk])
        seg_all.append(segs)
        w_nx.append(bx)
        w_ny.append(by)
        w_off.append(woff)
        woff += bx * by
    counts = np.array([len(b) for b in buckets_all], dtype=np.int64)
    w_start = np.zeros(len(buckets_all) + 1, dtype=np.int64)
    np.cumsum(counts, out=w_start[1:])
    w_idx = np.array([k for b in buckets_all for k in b], dtype=np.int64)
    nav_flat = np.concatenate([g.mask.ravel() for g in grids])
    return Layout(
        grids=grids, n_cells=off,
        g_x0=np.array([g.x0 for g in grids]), g_y0=np.array([g.y0 for g in grids]),
        g_nx=np.array([g.nx for g in grids], dtype=np.int64), g_ny=np.array([g.ny for g in grids], dtype=np.int64),
        g_off=np.array([g.offset for g in grids], dtype=np.int64), nav=nav_flat,
        seg=np.concatenate(seg_all) if seg_all else np.zeros((0, 4)),
        w_nx=np.array(w_nx, dtype=np.int64), w_ny=np.array(w_ny, dtype=np.int64),
        w_off=np.array(w_off, dtype=np.int64), w_start=w_start, w_idx=w_idx,
    )
