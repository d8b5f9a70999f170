"""Routing: distance fields toward the nearest usable exit, across floors and stairs.

For every floor and every *target* on it (an open exit area, or the entry of an open stair)
we solve the eikonal equation ``|∇T| = 1 / s`` with scikit-fmm's fast marching
(``skfmm.travel_time``) on the floor's grid, where the speed ``s`` drops from 1 to
``WALL_SLOW`` near walls so that paths keep clear of door jambs (a pitfall seen with
first-order velocity models). A target's field is in "effective metres".

Floors are then joined by a Bellman-Ford pass: a stair costs its length divided by the stair
speed factor plus the best value on its landing on the next floor; a floor's combined field
is ``min_t(cost_t + T_t)``. One combined field is kept for "any exit" and one per exit that
agents are assigned to. From each combined field we keep the descent direction per cell and
which target it leads to, for the kernels.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import skfmm
from scipy import ndimage

from sim.evacuation.geometry import Layout

__all__ = ["Fields", "Target", "build_fields", "WALL_SLOW", "WALL_CLEAR_M"]

#: Relative speed at a wall in the routing field and the distance (m) where it reaches 1.
WALL_SLOW = 0.3
WALL_CLEAR_M = 0.6


@dataclass
class Target:
    """A routing target: exit ``k`` or stair ``k`` (index in the scenario), on a floor."""

    kind: str  # "exit" | "stair"
    index: int
    floor: int
    cells: np.ndarray  # (ny, nx) bool on its floor's grid
    stair_cost: float = 0.0  # effective metres inside the stair
    landing_floor: int = -1
    landing_cells: np.ndarray | None = None
    elevator: bool = False  # usable only by classes allowed to take elevators


@dataclass
class Fields:
    """Combined fields per class (class 0 = any exit, class k = the k-th assigned exit)."""

    value: np.ndarray  # (n_classes, n_cells) float64, inf = unreachable
    dir_x: np.ndarray  # (n_classes, n_cells) float64 unit descent direction
    dir_y: np.ndarray
    target: np.ndarray  # (n_classes, n_cells) int32 global target id (exit k / E + stair k), -1
    class_exit: list[int]  # exit index of each class (-1 = any)


def _speed_map(mask: np.ndarray, h: float) -> np.ndarray:
    wall_d = ndimage.distance_transform_edt(mask) * h - 0.5 * h
    return np.clip(WALL_SLOW + (1.0 - WALL_SLOW) * wall_d / WALL_CLEAR_M, WALL_SLOW, 1.0)


def target_field(mask: np.ndarray, cells: np.ndarray, h: float, speed: np.ndarray) -> np.ndarray:
    """Travel-time field (effective m) from ``cells`` over navigable ``mask``; inf where cut off."""
    cells = cells & mask
    out = np.full(mask.shape, np.inf)
    if not cells.any():
        return out
    # a stencil needs a neighbour outside the target: when the target fills the grid, 0
    if cells.sum() == mask.sum():
        out[cells] = 0.0
        return out
    phi = np.ma.MaskedArray(np.where(cells, -0.5 * h, 0.5 * h), mask=~mask)
    try:
        tt = skfmm.travel_time(phi, speed, dx=h)
    except ValueError:
        out[cells] = 0.0
        return out
    vals = np.ma.filled(tt.astype(float), np.inf)
    vals = np.where(cells, 0.0, np.maximum(vals, 0.0))
    vals[~mask] = np.inf
    return vals


def _descent(F: np.ndarray, mask: np.ndarray, h: float) -> tuple[np.ndarray, np.ndarray]:
    """Unit descent direction of ``F`` per cell: upwind differences per axis, else toward the
    lowest of the 8 neighbours."""
    ny, nx = F.shape
    P = np.pad(F, 1, constant_values=np.inf)
    c = P[1:-1, 1:-1]
    e, w, n, s = P[1:-1, 2:], P[1:-1, :-2], P[2:, 1:-1], P[:-2, 1:-1]
    # upwind differences: along each axis step toward the lower neighbour (ties go east /
    # north), so ridges between two exits are left instead of walked along
    with np.errstate(invalid="ignore"):
        down_e = np.where(np.isfinite(e), c - e, -np.inf)
        down_w = np.where(np.isfinite(w), c - w, -np.inf)
        down_n = np.where(np.isfinite(n), c - n, -np.inf)
        down_s = np.where(np.isfinite(s), c - s, -np.inf)
    mx = np.where((down_e >= down_w) & (down_e > 0), down_e, np.where(down_w > 0, -down_w, 0.0))
    my = np.where((down_n >= down_s) & (down_n > 0), down_n, np.where(down_s > 0, -down_s, 0.0))
    mx = np.where(np.isfinite(mx), mx, 0.0)
    my = np.where(np.isfinite(my), my, 0.0)
    norm = np.hypot(mx, my)
    dx = np.where(norm > 1e-12, mx / np.maximum(norm, 1e-300), 0.0)
    dy = np.where(norm > 1e-12, my / np.maximum(norm, 1e-300), 0.0)
    # steepest neighbour where the gradient vanished (plateaus, single-cell gaps)
    flat = (norm <= 1e-12) & np.isfinite(c)
    if flat.any():
        best = np.zeros_like(c)
        bx = np.zeros_like(c)
        by = np.zeros_like(c)
        for di, dj in ((1, 0), (-1, 0), (0, 1), (0, -1), (1, 1), (1, -1), (-1, 1), (-1, -1)):
            nb = P[1 + dj: 1 + dj + ny, 1 + di: 1 + di + nx]
            with np.errstate(invalid="ignore"):
                gain = (c - nb) / np.hypot(di, dj)
            gain = np.where(np.isfinite(gain), gain, -np.inf)
            better = flat & (gain > best)
            best = np.where(better, gain, best)
            bx = np.where(better, di / np.hypot(di, dj), bx)
            by = np.where(better, dj / np.hypot(di, dj), by)
        dx = np.where(flat, bx, dx)
        dy = np.where(flat, by, dy)
    return dx, dy


def build_fields(layout: Layout, targets: list[Target], n_exits: int,
                 class_exits: list[int], class_elevator: list[bool] | None = None) -> Fields:
    """Compute the combined field, directions and chosen target for every class.

    ``targets`` hold open exits (cost 0) and open stairs (``stair_cost`` plus the best value
    on ``landing_cells`` of ``landing_floor``). ``class_exits[k]`` is the exit a class must
    use (-1 = any exit).
    """
    grids = layout.grids
    speeds = [_speed_map(g.mask, g.h) for g in grids]
    # storeys of a high-rise repeat: identical (grid, target) pairs are marched once
    memo: dict[bytes, np.ndarray] = {}
    base = []
    for t in targets:
        g = grids[t.floor]
        key = hashlib.blake2b(g.mask.tobytes() + t.cells.tobytes() + repr((g.mask.shape, g.h)).encode(),
                              digest_size=16).digest()
        if key not in memo:
            memo[key] = target_field(g.mask, t.cells, g.h, speeds[t.floor])
        base.append(memo[key])
    n_cls = len(class_exits)
    value = np.full((n_cls, layout.n_cells), np.inf)
    dir_x = np.zeros((n_cls, layout.n_cells))
    dir_y = np.zeros((n_cls, layout.n_cells))
    target = np.full((n_cls, layout.n_cells), -1, dtype=np.int32)
    class_elevator = class_elevator or [False] * len(class_exits)
    for k, ex in enumerate(class_exits):
        cost = _stair_costs(grids, targets, base, ex, class_elevator[k])
        for fi, g in enumerate(grids):
            F = np.full((g.ny, g.nx), np.inf)
            T = np.full((g.ny, g.nx), -1, dtype=np.int32)
            for t, b, c in zip(targets, base, cost):
                if t.floor != fi or not np.isfinite(c):
                    continue
                cand = b + c
                better = cand < F
                F = np.where(better, cand, F)
                gid = t.index if t.kind == "exit" else n_exits + t.index
                T = np.where(better, gid, T)
            dx, dy = _descent(F, g.mask, g.h)
            # cells off the navigable area point at the nearest navigable cell
            if (~g.mask).any() and g.mask.any():
                _, (jj, ii) = ndimage.distance_transform_edt(~g.mask, return_indices=True)
                off = ~g.mask
                ox = (ii - np.arange(g.nx)[None, :]).astype(float)
                oy = (jj - np.arange(g.ny)[:, None]).astype(float)
                on = np.hypot(ox, oy)
                dx = np.where(off, np.divide(ox, on, out=np.zeros_like(ox), where=on > 0), dx)
                dy = np.where(off, np.divide(oy, on, out=np.zeros_like(oy), where=on > 0), dy)
                F = np.where(off, F[jj, ii], F)
                T = np.where(off, T[jj, ii], T)
            sl = slice(g.offset, g.offset + g.nx * g.ny)
            value[k, sl] = F.ravel()
            dir_x[k, sl] = dx.ravel()
            dir_y[k, sl] = dy.ravel()
            target[k, sl] = T.ravel()
    return Fields(value, dir_x, dir_y, target, list(class_exits))


def _stair_costs(grids, targets: list[Target], base: list[np.ndarray], exit_only: int,
                 elevators: bool = False) -> list[float]:
    """Bellman-Ford over floors: cost of entering each target (0 for allowed exits; elevator
    trips only when ``elevators``)."""
    cost = [0.0 if (t.kind == "exit" and (exit_only < 0 or t.index == exit_only)) else np.inf for t in targets]
    for _ in range(len(grids) + 1):
        changed = False
        for k, t in enumerate(targets):
            if t.kind != "stair" or (t.elevator and not elevators):
                continue
            lf = t.landing_floor
            best = np.inf
            for t2, b2, c2 in zip(targets, base, cost):
                if t2.floor != lf or not np.isfinite(c2):
                    continue
                vals = b2[t.landing_cells & grids[lf].mask]
                if vals.size:
                    best = min(best, float(vals.min()) + c2)
            new = t.stair_cost + best
            if new < cost[k] - 1e-9:
                cost[k] = new
                changed = True
        if not changed:
            break
    return cost
