"""The evacuation simulation: a facade that prepares grids, fields and agents, steps the
kernels and returns a plain result dict (the result contract of ``docs/evacuation.md``).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np
import shapely

from sim.evacuation import kernels as K
from sim.evacuation.agents import AgentTable, spawn_agents
from sim.evacuation.geometry import Layout, build_layout
from sim.evacuation.recording import Recorder
from sim.evacuation.routing import Fields, Target, build_fields
from sim.evacuation.scenario import SCHEMA_VERSION, Scenario

__all__ = ["Prepared", "prepare", "simulate"]

#: Below this many agents on floors a step runs serially (thread wake-up costs more).
PARALLEL_MIN_AGENTS = 4000
#: No-progress window (simulated s): ``max(STALL_MIN_S, STALL_WALK_FACTOR × the longest free
#: walk of any agent to its target)``. When, for that long, nobody is evacuated, enters a
#: stair or ends pre-movement while people remain who could leave, the run is ``stalled``
#: (and stops early: a jam that never clears must not run to a huge max_time_s).
STALL_MIN_S = 60.0
STALL_WALK_FACTOR = 2.0
#: SFPE boundary layer of a stair (m, each side; Nelson & Mowrer, SFPE Handbook ch. 3-14)
#: and the narrowest effective width kept for a very narrow stair (m).
STAIR_BOUNDARY_LAYER_M = 0.15
MIN_EFFECTIVE_WIDTH_M = 0.3
#: Density of maximum flow in the SFPE model, 1 / (2 × 0.266) P/m²: a stair admits people
#: up to it over its effective area.
SFPE_OPTIMAL_DENSITY_P_M2 = 1.0 / (2.0 * K.SFPE_A)
#: Neighbour cells are the interaction cut-off divided by this; the kernels scan the cells
#: within the cut-off (5 × 5 at 2, fewer corners): a dense crowd is scanned over ~0.6 of the
#: area of 3 × 3 cut-off-sized cells.
NEIGHBOUR_SPLIT = 2
#: Largest displacement of one step (m): keeps wall checks local whatever dt and speed.
MAX_STEP_M = 0.6


@dataclass
class Prepared:
    """Everything a run needs, built from a scenario (reusable for several seeds)."""

    scenario: Scenario
    layout: Layout
    fields: Fields
    zone: np.ndarray  # (n_cells,) int32 target id of open exits / stair entries
    agents: AgentTable
    agent_class: np.ndarray
    stair_arrays: dict
    ncs: float  # neighbour cell size (m)
    n_grid: tuple


def _floor_zones(sc: Scenario, fidx: dict) -> list[list]:
    zones: list[list] = [[] for _ in sc.floors]
    for e in sc.exits:
        zones[fidx[e.floor]].append(e.area)
    for s in sc.stairs:
        zones[fidx[s.from_floor]].append(s.entry)
        zones[fidx[s.to_floor]].append(s.exit)
    return zones


def prepare(sc: Scenario, *, progress: Callable[[str], None] | None = None) -> Prepared:
    """Rasterise floors, compute distance fields, spawn agents (see :func:`simulate`)."""
    say = progress or (lambda _m: None)
    fidx = {f.id: k for k, f in enumerate(sc.floors)}
    navs = [sc.navigable(f.id) for f in sc.floors]
    say(f"rasterising {len(sc.floors)} floor(s) at {sc.cell_m} m")
    layout = build_layout(navs, [f.id for f in sc.floors], _floor_zones(sc, fidx), sc.cell_m)
    n_exits = len(sc.exits)
    zone = np.full(layout.n_cells, -1, dtype=np.int32)
    targets: list[Target] = []
    cache: dict = {}
    for k, s in enumerate(sc.stairs):
        if s.id in sc.blocked:
            continue
        fa, fb = fidx[s.from_floor], fidx[s.to_floor]
        ga, gb = layout.grids[fa], layout.grids[fb]
        cells = _cells(ga, s.entry, cache)
        fac = _stair_factor(sc, s)
        vref = s.speed_mps / 1.34 if s.speed_mps else fac
        targets.append(Target("stair", k, fa, cells, s.length_m / vref, fb, _cells(gb, s.exit, cache),
                              elevator=s.elevator is not None))
        _paint(zone, ga, cells, n_exits + k)
    for k, e in enumerate(sc.exits):
        if e.id in sc.blocked:
            continue
        g = layout.grids[fidx[e.floor]]
        cells = _cells(g, e.area, cache)
        targets.append(Target("exit", k, fidx[e.floor], cells))
        _paint(zone, g, cells, k)
    agents = spawn_agents(sc)
    exit_index = {e.id: k for k, e in enumerate(sc.exits)}
    # route classes: (assigned exit or -1, may use elevators); class 0 = any exit, no elevator
    keys = [(exit_index[e] if e is not None else -1, bool(sc.use_elevators and imp))
            for e, imp in zip(agents.exit, agents.impaired)]
    classes = [(-1, False)] + sorted(set(keys) - {(-1, False)})
    cls_of = {key: c for c, key in enumerate(classes)}
    class_exits = [c[0] for c in classes]
    agent_class = np.array([cls_of[key] for key in keys], dtype=np.int64)
    say(f"distance fields: {len(targets)} target(s), {len(class_exits)} route class(es), {layout.n_cells} cells")
    fields = build_fields(layout, targets, n_exits, class_exits, [c[1] for c in classes])
    stair_arrays = _stair_arrays(sc, layout, fields, fidx)
    ncs, n_grid = _neighbour_cells(sc, layout, agents)
    return Prepared(sc, layout, fields, zone, agents, agent_class, stair_arrays, ncs, n_grid)


def _neighbour_cells(sc: Scenario, layout: Layout, agents: AgentTable) -> tuple[float, tuple]:
    """Neighbour cell size (m, the interaction cut-off for the fastest agent) and grids."""
    m = sc.model
    vmax = float(agents.speed_mps.max()) if len(agents) else 1.34
    ncs = (2 * m.radius_m + max(vmax * m.time_gap_s, K.REPULSION_RANGES * m.range_neighbor_m)) / NEIGHBOUR_SPLIT
    return ncs, _neighbour_grid(layout, ncs)


def _cells(grid, geom, cache: dict) -> np.ndarray:
    """Navigable cells of ``grid`` touched by ``geom`` (memoised per floor and geometry)."""
    key = (grid.floor_id, shapely.to_wkb(geom))
    if key not in cache:
        cache[key] = grid.cells_of(geom) & grid.mask
    return cache[key]


def _stair_factor(sc: Scenario, s) -> float:
    za = sc.floor(s.from_floor).elevation_m
    zb = sc.floor(s.to_floor).elevation_m
    if zb < za:
        return sc.model.stair_factor_down
    if zb > za:
        return sc.model.stair_factor_up
    return 1.0


def _paint(zone: np.ndarray, grid, cells: np.ndarray, value: int) -> None:
    flat = np.flatnonzero(cells.ravel()) + grid.offset
    zone[flat] = value


def effective_width(s) -> float:
    """SFPE effective width (m) of a stair link: nominal width less a boundary layer of
    :data:`STAIR_BOUNDARY_LAYER_M` on each side, at least :data:`MIN_EFFECTIVE_WIDTH_M`;
    an elevator trip's width is its car's (no boundary layer)."""
    if s.elevator is not None:
        return s.width_m
    return max(s.width_m - 2.0 * STAIR_BOUNDARY_LAYER_M, min(MIN_EFFECTIVE_WIDTH_M, s.width_m))


def _stair_arrays(sc: Scenario, layout: Layout, fields: Fields, fidx: dict) -> dict:
    n = len(sc.stairs)
    r = sc.model.radius_m
    cap = np.ones(n, dtype=np.int64)
    st_f = np.zeros((n, 6))
    st_to = np.zeros(n, dtype=np.int64)
    cand_x: list[np.ndarray] = []
    cand_y: list[np.ndarray] = []
    cand_start = np.zeros(n + 1, dtype=np.int64)
    for k, s in enumerate(sc.stairs):
        st_to[k] = fidx[s.to_floor]
        fs = s.specific_flow_pmps or sc.model.stair_specific_flow_pmps
        w_eff = effective_width(s)
        st_f[k, K.ST_LEN] = s.length_m
        st_f[k, K.ST_RATE] = fs * w_eff
        st_f[k, K.ST_VFAC] = _stair_factor(sc, s)
        st_f[k, K.ST_VFIX] = s.speed_mps or 0.0
        st_f[k, K.ST_AREA] = s.length_m * w_eff
        st_f[k, K.ST_K] = 0.0 if s.elevator is not None else sc.model.stair_sfpe_k_mps
        # people the flight admits: SFPE density of maximum flow over its effective area
        # (denser crowds wait at the foot: the hydraulic model's queue)
        cap[k] = s.capacity or max(1, int(math.floor(SFPE_OPTIMAL_DENSITY_P_M2 * s.length_m * w_eff)))
        g = layout.grids[st_to[k]]
        area = s.exit.intersection(sc.navigable(s.to_floor))
        inner = area.buffer(-r)
        if inner.is_empty:
            inner = area
        px, py = _lattice(inner if not inner.is_empty else s.exit, 2 * r + 0.02)
        if px.size == 0:
            c = (s.exit.representative_point().x, s.exit.representative_point().y)
            px, py = np.array([c[0]]), np.array([c[1]])
        # fill the landing from the side that leads on (lowest routing value first)
        cells = np.array([K.cell_of(a, b, g.x0, g.y0, g.nx, g.ny, g.h, g.offset) for a, b in zip(px, py)], dtype=np.int64)
        order = np.lexsort((py, px, fields.value[0, cells]))
        cand_x.append(px[order])
        cand_y.append(py[order])
        cand_start[k + 1] = cand_start[k] + px.size
    return dict(
        st_f=st_f, st_cap=cap, st_to=st_to,
        cand_start=cand_start,
        cand_x=np.concatenate(cand_x) if cand_x else np.zeros(0),
        cand_y=np.concatenate(cand_y) if cand_y else np.zeros(0),
    )


def _lattice(geom, d: float) -> tuple[np.ndarray, np.ndarray]:
    """Points of a hexagonal lattice (spacing ``d`` m) inside ``geom``."""
    minx, miny, maxx, maxy = geom.bounds
    ys = np.arange(miny + d / 2, maxy, d * 0.866)
    pts_x, pts_y = [], []
    for k, yv in enumerate(ys):
        xs = np.arange(minx + d / 2 + (d / 2 if k % 2 else 0.0), maxx, d)
        pts_x.append(xs)
        pts_y.append(np.full(xs.size, yv))
    if not pts_x:
        return np.zeros(0), np.zeros(0)
    px, py = np.concatenate(pts_x), np.concatenate(pts_y)
    inside = shapely.contains_xy(geom, px, py)
    return px[inside], py[inside]


def _neighbour_grid(layout: Layout, cs: float) -> tuple:
    nx = np.array([max(int(math.ceil(g.nx * g.h / cs)), 1) for g in layout.grids], dtype=np.int64)
    ny = np.array([max(int(math.ceil(g.ny * g.h / cs)), 1) for g in layout.grids], dtype=np.int64)
    off = np.zeros(len(layout.grids), dtype=np.int64)
    if len(off) > 1:
        off[1:] = np.cumsum(nx * ny)[:-1]
    return layout.g_x0, layout.g_y0, nx, ny, off, int((nx * ny).sum())


def simulate(sc: Scenario | Prepared, *, seed: int | None = None, trajectories: bool = False,
             progress: Callable[[str], None] | None = None) -> dict:
    """Run a scenario to the end and return the result dict.

    Parameters
    ----------
    sc : Scenario or Prepared
        The validated scenario (or one already prepared, to run several seeds).
    seed : int, optional
        Overrides the scenario's seed for every random draw of the run (group positions,
        speeds, pre-movement times, impatience, stair service order); the result's ``seed``
        is the one that ran.
    trajectories : bool
        Keep positions every ``record.trajectory_every_s`` seconds under ``"trajectories"``.
    progress : callable, optional
        Receives one-line progress messages (the CLI prints them on stderr).

    Returns
    -------
    dict
        ``evacuation_time_s`` (s, time the last evacuated agent left; 0 when nobody did;
        None when somebody who could leave did not), ``evacuated``, ``not_evacuated``,
        ``unreachable``, ``completed``, ``stalled``, ``stall_window_s``, ``seed``, ``agents`` (id, exit, exit_time_s), ``exits``
        (count, first_s, last_s), ``stairs`` (count; ``full_s``: seconds the flight held its
        capacity, so that newcomers queued at its foot), ``remaining`` ([t_s, n] every second),
        ``steps``, ``wall_time_s``, ``density`` (per floor rasters) and, when asked,
        ``trajectories``.

    Notes
    -----
    The run stops at ``max_time_s``, as soon as every agent is evacuated or unreachable, or
    once nobody has made progress for the no-progress window (``stalled``; see
    :data:`STALL_MIN_S`); agents with no route to a usable exit are reported as not
    evacuated.
    """
    t0 = time.perf_counter()
    say = progress or (lambda _m: None)
    prep = sc if isinstance(sc, Prepared) else prepare(sc, progress=progress)
    scn = prep.scenario
    run_seed = scn.seed if seed is None else int(seed)
    lay, fld, ag, st = prep.layout, prep.fields, prep.agents, prep.stair_arrays
    ncs, n_grid = prep.ncs, prep.n_grid
    if run_seed != scn.seed:  # every draw follows the run's seed (ids, exits, classes do not)
        ag = spawn_agents(scn, seed=run_seed)
        ncs, n_grid = _neighbour_cells(scn, lay, ag)
    n = len(ag)
    x, y = ag.x.copy(), ag.y.copy()
    fl = ag.floor.copy()
    v0 = ag.speed_mps.copy()
    pre = ag.premovement_s.copy()
    cls = prep.agent_class
    state = np.zeros(n, dtype=np.int64)
    cells = np.array([K.cell_of(x[i], y[i], lay.g_x0[fl[i]], lay.g_y0[fl[i]], lay.g_nx[fl[i]], lay.g_ny[fl[i]],
                                scn.cell_m, lay.g_off[fl[i]]) for i in range(n)], dtype=np.int64)
    if n:
        state[~np.isfinite(fld.value[cls, cells])] = K.UNREACHABLE
    stuck = np.zeros(n)
    exit_of = np.full(n, -1, dtype=np.int64)
    exit_time = np.full(n, np.nan)
    ready = np.zeros(n)
    new_x, new_y, speed = np.zeros(n), np.zeros(n), np.zeros(n)
    ns = len(scn.stairs)
    st_queue = np.zeros((ns, int(st["st_cap"].max()) if ns else 1), dtype=np.int64)
    st_head = np.zeros(ns, dtype=np.int64)
    st_count = np.zeros(ns, dtype=np.int64)
    st_tokens = np.ones(ns)
    stair_used = np.zeros(ns, dtype=np.int64)
    # seconds each flight held its capacity (newcomers wait at its foot: the hydraulic queue)
    stair_full_s = np.zeros(ns)
    st_cap = st["st_cap"]
    n_x0, n_y0, n_nx, n_ny, n_off, n_total = n_grid
    cell_start = np.zeros(n_total + 1, dtype=np.int64)
    cell_stop = np.zeros(n_total + 1, dtype=np.int64)
    cell_items = np.zeros(max(n, 1), dtype=np.int64)
    agent_cell = np.full(n, -1, dtype=np.int64)
    sx, sy = np.zeros(max(n, 1)), np.zeros(max(n, 1))
    spawn_x, spawn_y, spawn_f = np.zeros(256), np.zeros(256), np.zeros(256, dtype=np.int64)
    m = scn.model
    params = np.array([m.radius_m, m.time_gap_s, m.strength_neighbor, m.range_neighbor_m, m.strength_wall,
                       m.range_wall_m, m.impatience_s, MAX_STEP_M, m.wall_buffer_m, m.push_speed_frac,
                       m.side_step_deg])
    class_exit = np.array(fld.class_exit, dtype=np.int64)
    dt = scn.dt_s
    n_steps_max = int(math.ceil(scn.max_time_s / dt - 1e-9))
    rec = Recorder(scn, lay, ag, trajectories=trajectories)
    rec.sample(0.0, x, y, fl, state)
    step = 0
    t = 0.0
    last_say = time.perf_counter()
    on, inside, walking, nxt = K.census(state, pre, t)
    stalled = False
    evac_total = 0
    window = _stall_window(fld.value, cls, cells, v0, state)
    last_mark, last_progress_t = (0, 0, 0), 0.0
    while step < n_steps_max and on + inside > 0:
        if walking == 0 and inside == 0:  # nobody can move before ``nxt``: skip ahead
            step = min(max(int(math.floor(nxt / dt)), step + 1), n_steps_max)
            t = step * dt
            last_progress_t = t
            rec.sample(t, x, y, fl, state)
            on, inside, walking, nxt = K.census(state, pre, t)
            continue
        n_move = walking
        K.build_cells(x, y, fl, state, n_x0, n_y0, n_nx, n_ny, n_off, ncs, n_total,
                      cell_start, cell_stop, cell_items, agent_cell, sx, sy)
        mover = K.move_agents if n_move >= PARALLEL_MIN_AGENTS else K.move_agents_serial
        mover(x, y, fl, state, v0, pre, cls, stuck, t, dt, run_seed, step,
                      cell_start, cell_stop, cell_items, sx, sy, n_x0, n_y0, n_nx, n_ny, n_off, ncs,
                      lay.g_x0, lay.g_y0, lay.g_nx, lay.g_ny, lay.g_off, scn.cell_m, fld.dir_x, fld.dir_y,
                      lay.seg, lay.w_nx, lay.w_ny, lay.w_off, lay.w_start, lay.w_idx, 1.0, params,
                      new_x, new_y, speed)
        x, new_x = new_x, x
        y, new_y = new_y, y
        step += 1
        t = step * dt
        done = K.transfer_agents(x, y, fl, state, cls, stuck, pre, t, dt, step, run_seed,
                          lay.g_x0, lay.g_y0, lay.g_nx, lay.g_ny, lay.g_off, scn.cell_m, prep.zone, fld.target,
                          class_exit, len(scn.exits), cell_start, cell_stop, cell_items, n_x0, n_y0, n_nx, n_ny, n_off,
                          ncs, m.radius_m, st["st_f"], st["st_cap"], st["st_to"], v0, st_queue, st_head, st_count, st_tokens, ready,
                          st["cand_start"], st["cand_x"], st["cand_y"], exit_of, exit_time, stair_used,
                          spawn_x, spawn_y, spawn_f)
        evac_total += done
        if ns:
            stair_full_s[st_count >= st_cap] += dt
        on, inside, walking, nxt = K.census(state, pre, t)
        # progress: an exit, a stair entry or an agent done with pre-movement
        progress_mark = (evac_total, int(stair_used.sum()), walking + inside + evac_total)
        if progress_mark != last_mark:
            last_mark, last_progress_t = progress_mark, t
        elif t - last_progress_t >= window:
            stalled = True
            say(f"t={t:.1f} s: nobody evacuated or entered a stair for {window:.0f} s: stopping")
            rec.sample(t, x, y, fl, state)
            break
        rec.sample(t, x, y, fl, state)
        if progress is not None and time.perf_counter() - last_say > 2.0:
            last_say = time.perf_counter()
            say(f"t={t:7.1f} s  remaining {on + inside} of {n}")
    rec.close(t, state)
    if not stalled and on + inside > 0 and t - last_progress_t >= window:
        stalled = True  # ran into max_time_s inside a jam
    out = _result(scn, ag, state, exit_of, exit_time, stair_used, rec, step, t, time.perf_counter() - t0,
                  stair_full_s)
    out["seed"] = run_seed
    out["stalled"] = stalled
    out["stall_window_s"] = round(window, 4)
    return out


def _stall_window(value: np.ndarray, cls: np.ndarray, cells: np.ndarray, v0: np.ndarray, state) -> float:
    """The no-progress window (s) of a run: see :data:`STALL_MIN_S`."""
    ok = state == K.ACTIVE
    if not ok.any():
        return STALL_MIN_S
    walk = value[cls[ok], cells[ok]] / np.maximum(v0[ok], 1e-3)
    return max(STALL_MIN_S, STALL_WALK_FACTOR * float(walk.max()))


def _result(scn: Scenario, ag: AgentTable, state, exit_of, exit_time, stair_used, rec: Recorder,
            steps: int, t_end: float, wall: float, stair_full_s=None) -> dict:
    evac = state == K.EVACUATED
    times = np.where(evac, exit_time, np.nan)
    left_behind = bool(((state == K.ACTIVE) | (state == K.IN_STAIR)).any())
    # null when somebody who could leave did not: a partial run has no evacuation time
    ev_time = None if left_behind else (round(float(np.nanmax(times)), 4) if evac.any() else 0.0)
    agents = [
        {"id": ag.ids[i], "exit": scn.exits[exit_of[i]].id if evac[i] else None,
         "exit_time_s": round(float(exit_time[i]), 4) if evac[i] else None}
        for i in range(len(ag))
    ]
    exits = {}
    for k, e in enumerate(scn.exits):
        sel = evac & (exit_of == k)
        exits[e.id] = {"count": int(sel.sum()),
                       "first_s": round(float(exit_time[sel].min()), 4) if sel.any() else None,
                       "last_s": round(float(exit_time[sel].max()), 4) if sel.any() else None}
    out = {
        "schema_version": SCHEMA_VERSION,
        "name": scn.name,
        "seed": scn.seed,
        "evacuation_time_s": ev_time,
        "evacuated": int(evac.sum()),
        "not_evacuated": int(len(ag) - evac.sum()),
        "unreachable": int((state == K.UNREACHABLE).sum()),
        "completed": bool(evac.all()),
        "end_time_s": round(t_end, 4),
        "agents": agents,
        "exits": exits,
        "stairs": {s.id: {"count": int(stair_used[k]),
                          "full_s": round(float(stair_full_s[k]), 4) if stair_full_s is not None else 0.0}
                   for k, s in enumerate(scn.stairs) if s.elevator is None},
        "remaining": rec.remaining,
        "steps": int(steps),
        "wall_time_s": round(wall, 4),
    }
    if scn.use_elevators:
        out["elevators"] = {e: {"count": int(sum(stair_used[k] for k, s in enumerate(scn.stairs) if s.elevator == e))}
                            for e in scn.elevator_ids}
    out.update(rec.finish())
    return out
