"""Agents: explicit ones and groups spawned at random, with their speed and pre-movement
time distributions, and the demographic speed table of RiMEA (test 7) / Weidmann.

Every draw comes from one ``numpy.random.Generator(PCG64(seed))`` in scenario order (the
run's seed: the scenario's unless a run overrides it), so the same scenario and seed give
the same agents, bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely

from sim.evacuation.errors import ScenarioError
from sim.evacuation.kernels import place_disks
from sim.evacuation.scenario import Scenario

__all__ = ["AgentTable", "DEMOGRAPHIC_SPEEDS_MPS", "draw", "spawn_agents"]

#: RiMEA 3.0 test 7 (after Weidmann 1993): walking speed ranges (m/s) per adult group.
DEMOGRAPHIC_SPEEDS_MPS: dict[str, tuple[float, float]] = {
    "under_30": (0.58, 1.61),
    "30_to_50": (1.41, 1.54),
    "over_50": (0.68, 1.41),
    "limited_mobility": (0.46, 0.76),
}


@dataclass
class AgentTable:
    """Plain arrays of every agent (index = agent number)."""

    ids: list[str]
    floor: np.ndarray  # int64 floor index
    x: np.ndarray
    y: np.ndarray
    speed_mps: np.ndarray
    premovement_s: np.ndarray
    exit: list[str | None]
    impaired: np.ndarray  # bool: mobility impaired (may use elevators when enabled)

    def __len__(self) -> int:
        return len(self.ids)


def draw(spec: Any, n: int, rng: np.random.Generator) -> np.ndarray:
    """Draw ``n`` values from a number, ``{"uniform": [a, b]}`` or
    ``{"normal": [mean, sd, min, max]}`` (truncated by redrawing, then clipped)."""
    if isinstance(spec, dict) and "uniform" in spec:
        a, b = spec["uniform"]
        return rng.uniform(a, b, n)
    if isinstance(spec, dict) and "normal" in spec:
        mean, sd, lo, hi = spec["normal"]
        out = rng.normal(mean, sd, n)
        for _ in range(20):
            bad = (out < lo) | (out > hi)
            if not bad.any():
                break
            out[bad] = rng.normal(mean, sd, int(bad.sum()))
        return np.clip(out, lo, hi)
    return np.full(n, float(spec))


def spawn_agents(sc: Scenario, seed: int | None = None) -> AgentTable:
    """Return every agent of the scenario: explicit agents first, then each group's.

    ``seed`` (default: the scenario's) seeds every draw: group positions, speeds and
    pre-movement times. The agents' order, ids, exits and flags do not depend on it.

    Group members are placed by random sequential adsorption at least one body diameter
    (2 × radius) apart and from other agents, inside the group's area ∩ the floor's
    navigable area shrunk by the radius. Raises :class:`ScenarioError` when the area is too
    small for the count.
    """
    rng = np.random.Generator(np.random.PCG64(sc.seed if seed is None else int(seed)))
    fidx = {f.id: k for k, f in enumerate(sc.floors)}
    ids = [a.id for a in sc.agents]
    fl = [fidx[a.floor] for a in sc.agents]
    xs = [a.x for a in sc.agents]
    ys = [a.y for a in sc.agents]
    sp = [a.speed_mps for a in sc.agents]
    pm = [a.premovement_s for a in sc.agents]
    ex = [a.exit for a in sc.agents]
    imp = [a.mobility_impaired for a in sc.agents]
    r = sc.model.radius_m
    eroded: dict[str, object] = {}
    for g in sc.groups:
        if g.count == 0:
            continue
        nav = sc.navigable(g.floor)
        if g.floor not in eroded:
            eroded[g.floor] = nav.buffer(-r * 1.05)
        area = g.area.intersection(eroded[g.floor])
        if area.is_empty or area.area <= 0:
            area = g.area.intersection(nav)
        f = fidx[g.floor]
        same = np.array([k for k in range(len(fl)) if fl[k] == f], dtype=np.int64)
        fx = np.array(xs, dtype=float)[same] if same.size else np.zeros(0)
        fy = np.array(ys, dtype=float)[same] if same.size else np.zeros(0)
        px, py = _place(area, g.count, 2 * r + 0.01, fx, fy, rng, g.id)
        ids += [f"{g.id}-{k}" for k in range(g.count)]
        fl += [f] * g.count
        xs += px.tolist()
        ys += py.tolist()
        sp += draw(g.speed_mps, g.count, rng).tolist()
        pm += draw(g.premovement_s, g.count, rng).tolist()
        ex += [g.exit] * g.count
        imp += [g.mobility_impaired] * g.count
    return AgentTable(ids, np.array(fl, dtype=np.int64), np.array(xs, dtype=float), np.array(ys, dtype=float),
                      np.array(sp, dtype=float), np.array(pm, dtype=float), ex, np.array(imp, dtype=bool))


def _place(area, count: int, dmin: float, fx, fy, rng, gid: str) -> tuple[np.ndarray, np.ndarray]:
    minx, miny, maxx, maxy = area.bounds
    shapely.prepare(area)
    nx = max(int((maxx - minx) / dmin) + 1, 1)
    ny = max(int((maxy - miny) / dmin) + 1, 1)
    cands_x: list[np.ndarray] = []
    cands_y: list[np.ndarray] = []
    total = 0
    for d in (dmin, 0.8 * dmin):
        for _ in range(30):
            m = max(4 * count, 256)
            cx = rng.uniform(minx, maxx, m)
            cy = rng.uniform(miny, maxy, m)
            inside = shapely.contains_xy(area, cx, cy)
            cands_x.append(cx[inside])
            cands_y.append(cy[inside])
            total += int(inside.sum())
            if total < count:
                continue
            ax = np.concatenate(cands_x)
            ay = np.concatenate(cands_y)
            out = np.zeros(count, dtype=np.int64)
            got = place_disks(ax, ay, d, minx, miny, max(int((maxx - minx) / d) + 1, 1),
                              max(int((maxy - miny) / d) + 1, 1), fx, fy, count, out)
            if got == count:
                return ax[out], ay[out]
    del nx, ny
    raise ScenarioError(
        f"group {gid!r}: cannot place {count} agents {dmin:.2f} m apart in an area of {area.area:.1f} m²"
    )
