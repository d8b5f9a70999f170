"""Numba kernels of the evacuation engine (serial ``jit`` or parallel ``pjit`` from
:mod:`sim.numba_config`). Kernels take clean arrays and write into preallocated outputs; the
plain-Python twins live in ``tests/evacuation/naive.py``.

Agent states: ``ACTIVE`` (on a floor, walking once its pre-movement time is over),
``IN_STAIR`` (inside a stair link), ``EVACUATED``, ``UNREACHABLE`` (no usable exit).
"""

from __future__ import annotations

import math

import numpy as np
from numba import prange

from sim.numba_config import jit, named, pjit

__all__ = [
    "ACTIVE", "IN_STAIR", "EVACUATED", "UNREACHABLE", "REPULSION_RANGES",
    "hash_uniform", "point_segment", "segments_cross", "cell_of", "build_cells", "census",
    "place_disks", "move_agents", "move_agents_serial", "transfer_agents", "stair_speed",
    "ST_LEN", "ST_RATE", "ST_VFAC", "ST_VFIX", "ST_AREA", "ST_K",
]

ACTIVE, IN_STAIR, EVACUATED, UNREACHABLE = 0, 1, 2, 3

#: Neighbour repulsion is cut at contact distance + this many ranges: at 10 ranges it has
#: fallen to exp(-10) of its contact value (shorter cut-offs let dense crowds clog 1 m doors).
REPULSION_RANGES = 10.0


@jit
def hash_uniform(seed: int, step: int, i: int) -> float:
    """Counter-based uniform number in [0, 1) from (seed, step, agent): splitmix64 mixing."""
    z = (np.uint64(seed) * np.uint64(0x9E3779B97F4A7C15)
         + np.uint64(step) * np.uint64(0xBF58476D1CE4E5B9)
         + np.uint64(i) * np.uint64(0x94D049BB133111EB) + np.uint64(0x2545F4914F6CDD1D))
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z = z ^ (z >> np.uint64(31))
    return float(z >> np.uint64(11)) / 9007199254740992.0


@jit
def point_segment(px: float, py: float, x1: float, y1: float, x2: float, y2: float):
    """Closest point of segment (x1, y1)-(x2, y2) to (px, py) and its distance (m)."""
    dx = x2 - x1
    dy = y2 - y1
    ll = dx * dx + dy * dy
    t = 0.0
    if ll > 0.0:
        t = ((px - x1) * dx + (py - y1) * dy) / ll
        if t < 0.0:
            t = 0.0
        elif t > 1.0:
            t = 1.0
    qx = x1 + t * dx
    qy = y1 + t * dy
    return qx, qy, math.sqrt((px - qx) ** 2 + (py - qy) ** 2)


@jit
def _orient(ax, ay, bx, by, cx, cy):
    return (bx - ax) * (cy - ay) - (by - ay) * (cx - ax)


@jit
def segments_cross(px, py, qx, qy, ax, ay, bx, by) -> bool:
    """Whether the move p→q crosses or ends on wall a-b (p strictly off the wall line)."""
    o1 = _orient(ax, ay, bx, by, px, py)
    o2 = _orient(ax, ay, bx, by, qx, qy)
    if o1 == 0.0:
        return False
    if o1 * o2 > 0.0:
        return False
    o3 = _orient(px, py, qx, qy, ax, ay)
    o4 = _orient(px, py, qx, qy, bx, by)
    return o3 * o4 <= 0.0


@jit
def cell_of(x: float, y: float, x0: float, y0: float, nx: int, ny: int, h: float, off: int) -> int:
    """Flat index of the grid cell holding (x, y), clamped to the grid."""
    i = int(math.floor((x - x0) / h))
    j = int(math.floor((y - y0) / h))
    i = min(max(i, 0), nx - 1)
    j = min(max(j, 0), ny - 1)
    return off + j * nx + i


@jit
def build_cells(x, y, fl, state, n_x0, n_y0, n_nx, n_ny, n_off, cs, n_total,
                cell_start, cell_stop, cell_items, agent_cell, sx, sy):
    """Sort ACTIVE agents into neighbour cells (size ``cs`` m, per floor grids).

    ``cell_items[cell_start[c]:cell_stop[c]]`` are the agents of cell ``c`` in ascending
    index order (the agents not on a floor follow all of them, in index order), ``sx``/``sy`` their positions in the same order (contiguous reads for the
    neighbour loops); ``agent_cell`` gets each agent's cell (-1 when not on a floor). Costs
    O(n log n), not O(cells): only the entries of cells used by the previous call (read from
    ``agent_cell`` on entry) are reset, so ``cell_start``/``cell_stop`` must start as zeros
    and be passed back unchanged with the previous ``agent_cell``.
    """
    n = x.shape[0]
    for i in range(n):
        c = agent_cell[i]
        if c >= 0:
            cell_start[c] = 0
            cell_stop[c] = 0
    keys = np.empty(n, dtype=np.int64)
    m = 0
    for i in range(n):
        if state[i] != ACTIVE:
            agent_cell[i] = -1
            keys[i] = n_total + 1
            continue
        f = fl[i]
        c = cell_of(x[i], y[i], n_x0[f], n_y0[f], n_nx[f], n_ny[f], cs, n_off[f])
        agent_cell[i] = c
        keys[i] = c
        m += 1
    order = np.argsort(keys, kind="mergesort")
    k = 0
    while k < m:
        c = keys[order[k]]
        b = k
        while k < m and keys[order[k]] == c:
            j = order[k]
            cell_items[k] = j
            sx[k] = x[j]
            sy[k] = y[j]
            k += 1
        cell_start[c] = b
        cell_stop[c] = k
    for k in range(m, n):  # agents off the floors close the order (move_agents visits all)
        cell_items[k] = order[k]


@jit
def census(state, pre, t):
    """Return (agents on floors, agents in stairs, agents walking at ``t``, earliest end of
    pre-movement among those still waiting (inf when none))."""
    on = 0
    inside = 0
    walking = 0
    nxt = np.inf
    for i in range(state.shape[0]):
        if state[i] == ACTIVE:
            on += 1
            if pre[i] <= t:
                walking += 1
            elif pre[i] < nxt:
                nxt = pre[i]
        elif state[i] == IN_STAIR:
            inside += 1
    return on, inside, walking, nxt


@jit
def place_disks(cx, cy, dmin, x0, y0, nx, ny, fixed_x, fixed_y, want, out_idx) -> int:
    """Random sequential adsorption: accept candidates (in order) at least ``dmin`` m from
    every accepted point and every fixed point; stop after ``want``. Returns the count; the
    accepted candidates' indices go to ``out_idx``. Grid cells of side ``dmin`` hold ≤ 4."""
    cnt = np.zeros((ny, nx), dtype=np.int64)
    px = np.zeros((ny, nx, 6))
    py = np.zeros((ny, nx, 6))
    d2 = dmin * dmin
    for k in range(fixed_x.shape[0]):
        i = min(max(int((fixed_x[k] - x0) / dmin), 0), nx - 1)
        j = min(max(int((fixed_y[k] - y0) / dmin), 0), ny - 1)
        if cnt[j, i] < 6:
            px[j, i, cnt[j, i]] = fixed_x[k]
            py[j, i, cnt[j, i]] = fixed_y[k]
            cnt[j, i] += 1
    got = 0
    for k in range(cx.shape[0]):
        if got >= want:
            break
        i = min(max(int((cx[k] - x0) / dmin), 0), nx - 1)
        j = min(max(int((cy[k] - y0) / dmin), 0), ny - 1)
        ok = True
        for jj in range(max(j - 1, 0), min(j + 2, ny)):
            for ii in range(max(i - 1, 0), min(i + 2, nx)):
                for m in range(cnt[jj, ii]):
                    if (px[jj, ii, m] - cx[k]) ** 2 + (py[jj, ii, m] - cy[k]) ** 2 < d2:
                        ok = False
        if ok and cnt[j, i] < 6:
            px[j, i, cnt[j, i]] = cx[k]
            py[j, i, cnt[j, i]] = cy[k]
            cnt[j, i] += 1
            out_idx[got] = k
            got += 1
    return got


@jit
def _unit_or(dx: float, dy: float, fx: float, fy: float):
    """(dx, dy) normalised, or (fx, fy) when it has no length."""
    nrm = math.sqrt(dx * dx + dy * dy)
    if nrm < 1e-12:
        return fx, fy
    return dx / nrm, dy / nrm


@jit
def _cell_gap2(px: float, py: float, cx0: float, cy0: float, cs: float) -> float:
    """Squared distance (m²) from (px, py) to the square cell [cx0, cx0 + cs] × [cy0, cy0 + cs]."""
    dx = max(cx0 - px, 0.0, px - cx0 - cs)
    dy = max(cy0 - py, 0.0, py - cy0 - cs)
    return dx * dx + dy * dy


@jit
def _wall_between(ax, ay, bx, by, seg, w_idx, s0, s1) -> bool:
    for k in range(s0, s1):
        s = w_idx[k]
        if segments_cross(ax, ay, bx, by, seg[s, 0], seg[s, 1], seg[s, 2], seg[s, 3]):
            return True
    return False


#: Neighbours kept per agent by the single neighbour scan of ``move_agents`` (a crowd at
#: 8 P/m² has ~80 within the 1.8 m reach); beyond it the spacing pass scans the cells again.
NEIGHBOUR_BUFFER = 256
#: Agents per task of the parallel driver (each task owns one neighbour buffer).
MOVE_CHUNK = 512


@jit
def _spacing_scan(i, xi, yi, dx, dy, reach, ll, gi, gj, f, cs, n_x0, n_y0, n_nx, n_ny, n_off,
                  cell_start, cell_stop, cell_items, sx, sy, seg, w_idx, s0, s1) -> float:
    """Free spacing (m) to the nearest neighbour ahead in the corridor of width 2 ``ll``,
    scanning the neighbour cells (used when the neighbour buffer overflowed)."""
    spacing = 1e300
    rr = int(math.ceil(reach / cs))
    for dj in range(-rr, rr + 1):
        jj = gj + dj
        if jj < 0 or jj >= n_ny[f] or spacing <= 0.0:
            continue
        for di in range(-rr, rr + 1):
            ii = gi + di
            if ii < 0 or ii >= n_nx[f] or spacing <= 0.0:
                continue
            if _cell_gap2(xi, yi, n_x0[f] + ii * cs, n_y0[f] + jj * cs, cs) > reach * reach:
                continue
            cc = n_off[f] + jj * n_nx[f] + ii
            for k in range(cell_start[cc], cell_stop[cc]):
                if cell_items[k] == i:
                    continue
                dxj = sx[k] - xi
                dyj = sy[k] - yi
                along = dx * dxj + dy * dyj
                if along < 0.0:
                    continue
                if abs(-dy * dxj + dx * dyj) > ll:
                    continue
                d = math.sqrt(dxj * dxj + dyj * dyj)
                if d > reach or d - ll >= spacing:
                    continue
                if d < 1e-9 and cell_items[k] > i:
                    continue  # same spot: the lower index goes first
                if _wall_between(xi, yi, sx[k], sy[k], seg, w_idx, s0, s1):
                    continue
                spacing = d - ll
                if spacing <= 0.0:
                    break
    return spacing


def _move_agents(x, y, fl, state, v0, pre, cls, stuck, t, dt, seed, step,
                cell_start, cell_stop, cell_items, sx, sy, n_x0, n_y0, n_nx, n_ny, n_off, cs,
                g_x0, g_y0, g_nx, g_ny, g_off, h, dirx, diry,
                seg, w_nx, w_ny, w_off, w_start, w_idx, wb, params,
                new_x, new_y, speed):
    """One step of the collision-free speed model (Tordeux et al. 2016) for every agent,
    with wall sliding inside ``radius + wall_buffer`` (Xu, Chraibi & Seyfried 2021) and
    impatient agents (stuck > ``impatience_s``) turning by up to ±60° and pushing on at
    ``push_speed_frac × v0``.

    Counterflow: an agent with an oncoming neighbour ahead (desired directions more than
    90° apart, within the neighbour cut-off max(2 r + 10 range, 2 r + v0 T), in the half
    plane ahead, not behind a wall) turns its desired direction by ``side_step_deg`` to its right
    before the repulsion is added: the right-hand preference that makes opposing streams
    form lanes (Helbing & Molnár 1995; observed by Moussaïd et al. 2009). A crowd walking
    one way meets it only where desired directions converge (beside a door).

    ``params`` = [radius_m, time_gap_s, strength_neighbor, range_neighbor_m, strength_wall,
    range_wall_m, impatience_s, max_step_m, wall_buffer_m, push_speed_frac, side_step_deg]. Neighbour
    cells (side ``cs``) may be smaller than the cut-offs: every cell within reach is
    scanned. Reads the old state only, writes ``new_x``/``new_y``/``speed``/``stuck`` of its
    own agent: the result does not depend on the number of threads.
    """
    n = x.shape[0]
    r = params[0]
    T = params[1]
    a_n = params[2]
    d_n = params[3]
    a_w = params[4]
    d_w = params[5]
    imp = params[6]
    max_step = params[7]
    buf = params[8]
    push = params[9]
    side = params[10] * math.pi / 180.0
    cs_side = math.cos(side)
    sn_side = math.sin(side)
    ll = 2.0 * r
    rep_cut = ll + REPULSION_RANGES * d_n
    rep_cut2 = rep_cut * rep_cut
    # visit agents in cell order (``cell_items`` holds every agent, those on floors first):
    # neighbours and field cells are then read from nearby memory; each chunk of
    # MOVE_CHUNK agents owns one neighbour buffer (offsets, slot in the cell order, wall flag)
    n_chunks = (n + MOVE_CHUNK - 1) // MOVE_CHUNK
    # desired directions in cell order, for the oncoming test of the keep-right side-step
    sex = np.zeros(n)
    sey = np.zeros(n)
    if side != 0.0:
        for kk in prange(n):
            j = cell_items[kk]
            if state[j] == ACTIVE:
                fj = fl[j]
                cj = cell_of(sx[kk], sy[kk], g_x0[fj], g_y0[fj], g_nx[fj], g_ny[fj], h, g_off[fj])
                sex[kk] = dirx[cls[j], cj]
                sey[kk] = diry[cls[j], cj]
    for ch in prange(n_chunks):
        nb_f = np.empty((NEIGHBOUR_BUFFER, 2))
        nb_k = np.empty(NEIGHBOUR_BUFFER, dtype=np.int64)
        nb_w = np.empty(NEIGHBOUR_BUFFER, dtype=np.int64)
        for kk in range(ch * MOVE_CHUNK, min(n, (ch + 1) * MOVE_CHUNK)):
            i = cell_items[kk]
            xi = x[i]
            yi = y[i]
            new_x[i] = xi
            new_y[i] = yi
            speed[i] = 0.0
            if state[i] != ACTIVE or t < pre[i]:
                continue
            f = fl[i]
            c = cell_of(xi, yi, g_x0[f], g_y0[f], g_nx[f], g_ny[f], h, g_off[f])
            ex = dirx[cls[i], c]
            ey = diry[cls[i], c]
            b = cell_of(xi, yi, g_x0[f], g_y0[f], w_nx[f], w_ny[f], wb, w_off[f])
            s0 = w_start[b]
            s1 = w_start[b + 1]
            rx = 0.0
            ry = 0.0
            reach = ll + v0[i] * T
            # one scan of the neighbour cells: repulsion now, neighbours within reach kept for the
            # spacing pass below (same cells, same order as two separate scans)
            cut = max(rep_cut, reach)
            cut2 = cut * cut
            reach2 = reach * reach
            cap = nb_k.shape[0]
            m = 0
            overflow = False
            oncoming = False
            gi = int(math.floor((xi - n_x0[f]) / cs))
            gj = int(math.floor((yi - n_y0[f]) / cs))
            rr = int(math.ceil(cut / cs))
            for dj in range(-rr, rr + 1):
                jj = gj + dj
                if jj < 0 or jj >= n_ny[f]:
                    continue
                for di in range(-rr, rr + 1):
                    ii = gi + di
                    if ii < 0 or ii >= n_nx[f]:
                        continue
                    if _cell_gap2(xi, yi, n_x0[f] + ii * cs, n_y0[f] + jj * cs, cs) > cut2:
                        continue
                    cc = n_off[f] + jj * n_nx[f] + ii
                    for k in range(cell_start[cc], cell_stop[cc]):
                        if cell_items[k] == i:
                            continue
                        dxj = sx[k] - xi
                        dyj = sy[k] - yi
                        d2 = dxj * dxj + dyj * dyj
                        if d2 > cut2:
                            continue
                        wall = -1
                        if d2 <= rep_cut2 and d2 >= 1e-18:
                            d = math.sqrt(d2)
                            wall = 1 if _wall_between(xi, yi, sx[k], sy[k], seg, w_idx, s0, s1) else 0
                            if wall == 0:
                                rep = -a_n * math.exp((ll - d) / d_n)
                                rx += rep * dxj / d
                                ry += rep * dyj / d
                        if (side != 0.0 and not oncoming and ex * dxj + ey * dyj > 0.0
                                and ex * sex[k] + ey * sey[k] < 0.0):
                            if wall < 0:
                                wall = 1 if _wall_between(xi, yi, sx[k], sy[k], seg, w_idx, s0, s1) else 0
                            oncoming = wall == 0
                        if d2 <= reach2 * 1.0000001 + 1e-12:
                            if m < cap:
                                nb_f[m, 0] = dxj
                                nb_f[m, 1] = dyj
                                nb_k[m] = k
                                nb_w[m] = wall
                                m += 1
                            else:
                                overflow = True
            # walls: Tordeux repulsion beyond the buffer r + wall_buffer; inside it no repulsion
            # (at overlap it would outweigh e0 fifty-fold and turn people at a door jamb back
            # into the crowd: the arch that never breaks) but sliding, below
            crit = r + buf
            for k in range(s0, s1):
                s = w_idx[k]
                qx, qy, d = point_segment(xi, yi, seg[s, 0], seg[s, 1], seg[s, 2], seg[s, 3])
                if d <= crit or d > r + 20.0 * d_w:
                    continue
                rep = -a_w * math.exp((r - d) / d_w)
                rx += rep * (qx - xi) / d
                ry += rep * (qy - yi) / d
            if oncoming:  # keep right: turn the desired direction clockwise by side_step_deg
                ex, ey = cs_side * ex + sn_side * ey, -sn_side * ex + cs_side * ey
            dx, dy = _unit_or(ex + rx, ey + ry, ex, ey)
            if stuck[i] > imp:
                ang = (hash_uniform(seed, step, i) - 0.5) * 2.0 * math.pi / 3.0
                ca = math.cos(ang)
                sa = math.sin(ang)
                dx, dy = ca * dx - sa * dy, sa * dx + ca * dy
            # wall sliding (Xu, Chraibi & Seyfried 2021): within r + wall_buffer of a wall, the
            # component of the direction into that wall is removed, in wall order
            for k in range(s0, s1):
                s = w_idx[k]
                qx, qy, d = point_segment(xi, yi, seg[s, 0], seg[s, 1], seg[s, 2], seg[s, 3])
                if d > crit or d < 1e-9:
                    continue
                nx_ = (xi - qx) / d
                ny_ = (yi - qy) / d
                dot = dx * nx_ + dy * ny_
                if dot < 0.0:
                    dx -= dot * nx_
                    dy -= dot * ny_
            dx, dy = _unit_or(dx, dy, 0.0, 0.0)
            # spacing to the nearest neighbour ahead in the corridor of width 2 l
            if overflow:
                spacing = _spacing_scan(i, xi, yi, dx, dy, reach, ll, gi, gj, f, cs, n_x0, n_y0, n_nx, n_ny, n_off,
                                        cell_start, cell_stop, cell_items, sx, sy, seg, w_idx, s0, s1)
            else:
                spacing = 1e300
                for q in range(m):
                    dxj = nb_f[q, 0]
                    dyj = nb_f[q, 1]
                    along = dx * dxj + dy * dyj
                    if along < 0.0:
                        continue
                    if abs(-dy * dxj + dx * dyj) > ll:
                        continue
                    d = math.sqrt(dxj * dxj + dyj * dyj)
                    if d > reach or d - ll >= spacing:
                        continue
                    k = nb_k[q]
                    if d < 1e-9 and cell_items[k] > i:
                        continue  # same spot: the lower index goes first
                    wall = nb_w[q]
                    if wall < 0:
                        wall = 1 if _wall_between(xi, yi, sx[k], sy[k], seg, w_idx, s0, s1) else 0
                    if wall == 1:
                        continue
                    spacing = d - ll
                    if spacing <= 0.0:
                        break
            v_free = min(max(spacing / T, 0.0), v0[i])
            v = v_free
            if stuck[i] > imp and v < push * v0[i]:
                v = push * v0[i]  # an impatient agent pushes on at a creep speed
            step_m = min(v * dt, max_step)
            qx = xi + dx * step_m
            qy = yi + dy * step_m
            # walls are hard: slide along a wall that the step would cross, else stay
            for k in range(s0, s1):
                s = w_idx[k]
                if segments_cross(xi, yi, qx, qy, seg[s, 0], seg[s, 1], seg[s, 2], seg[s, 3]):
                    tx = seg[s, 2] - seg[s, 0]
                    ty = seg[s, 3] - seg[s, 1]
                    tl = math.sqrt(tx * tx + ty * ty)
                    tx /= tl
                    ty /= tl
                    p = (qx - xi) * tx + (qy - yi) * ty
                    qx = xi + 0.5 * p * tx
                    qy = yi + 0.5 * p * ty
                    break
            for k in range(s0, s1):
                s = w_idx[k]
                if segments_cross(xi, yi, qx, qy, seg[s, 0], seg[s, 1], seg[s, 2], seg[s, 3]):
                    qx = xi
                    qy = yi
                    break
            new_x[i] = qx
            new_y[i] = qy
            moved = math.sqrt((qx - xi) ** 2 + (qy - yi) ** 2) / dt
            speed[i] = moved
            if moved < 0.1 * v0[i] or v_free < 0.1 * v0[i]:
                stuck[i] += dt
            else:
                stuck[i] = 0.0


#: Parallel (``prange`` over agents) and serial builds of the same step; the engine picks the
#: serial one for small crowds, where waking threads costs more than it saves.
#: (Each from its own named copy: numba's cache does not tell a serial from a parallel build.)
move_agents = pjit(named(_move_agents, "move_agents"))
move_agents_serial = jit(named(_move_agents, "move_agents_serial"))


#: Columns of the per-stair record ``st_f``: length along the slope (m), token rate (P/s),
#: stair factor of the agent speed, fixed speed (m/s, 0 = none), effective area (m²) and the
#: SFPE speed constant k (m/s, 0 = no density rule: elevator trips).
ST_LEN, ST_RATE, ST_VFAC, ST_VFIX, ST_AREA, ST_K = 0, 1, 2, 3, 4, 5
#: SFPE hydraulic model: S = k (1 - 0.266 D) from D = 0.54 P/m²; floored at 0.1 k.
SFPE_A = 0.266
SFPE_FREE_DENSITY = 0.54
SFPE_MIN_SPEED_FRAC = 0.1


@jit
def stair_speed(v0: float, rec, count: int) -> float:
    """Speed (m/s) along the slope of an agent entering a stair that then holds ``count``
    people: its own stair speed (fixed, or ``v0`` × factor), no faster than the SFPE
    speed at the density ``count / effective area`` (Nelson & Mowrer, SFPE Handbook)."""
    vs = rec[ST_VFIX] if rec[ST_VFIX] > 0.0 else v0 * rec[ST_VFAC]
    k = rec[ST_K]
    if k > 0.0 and rec[ST_AREA] > 0.0:
        d = count / rec[ST_AREA]
        if d >= SFPE_FREE_DENSITY:
            vs = min(vs, max(k * (1.0 - SFPE_A * d), SFPE_MIN_SPEED_FRAC * k))
    return vs


@jit
def transfer_agents(x, y, fl, state, cls, stuck, pre, t_new, dt, step, seed,
                    g_x0, g_y0, g_nx, g_ny, g_off, h, zone, target, class_exit, n_exits,
                    cell_start, cell_stop, cell_items, n_x0, n_y0, n_nx, n_ny, n_off, cs, radius,
                    st_f, st_cap, st_to, v0,
                    st_queue, st_head, st_count, st_tokens, ready,
                    cand_start, cand_x, cand_y,
                    exit_of, exit_time, stair_used, spawn_x, spawn_y, spawn_f):
    """Serial bookkeeping after a move: evacuate agents in their exit area, move agents in a
    chosen stair's entry into its FIFO link (room permitting), release agents at the stair's
    far end (time, capacity tokens and a clear spot on the landing permitting).
    ``st_f`` holds one record per stair (columns ``ST_*``). Returns the number of agents
    evacuated in this step."""
    n = x.shape[0]
    done = 0
    start = 0
    if n > 0:
        start = int(hash_uniform(seed, step, 0x7FFFFFFF) * n) % n
    for kk in range(n):
        i = (start + kk) % n
        if state[i] != ACTIVE or t_new < pre[i]:
            continue
        f = fl[i]
        c = cell_of(x[i], y[i], g_x0[f], g_y0[f], g_nx[f], g_ny[f], h, g_off[f])
        z = zone[c]
        if z < 0:
            continue
        if z < n_exits:
            ce = class_exit[cls[i]]
            if ce < 0 or ce == z:
                state[i] = EVACUATED
                exit_of[i] = z
                exit_time[i] = t_new
                done += 1
            continue
        s = z - n_exits
        if target[cls[i], c] != z or st_count[s] >= st_cap[s]:
            continue
        st_queue[s, (st_head[s] + st_count[s]) % st_cap[s]] = i
        st_count[s] += 1
        state[i] = IN_STAIR
        stair_used[s] += 1
        ready[i] = t_new + st_f[s, ST_LEN] / stair_speed(v0[i], st_f[s], st_count[s])
    n_sp = 0
    d2 = 4.0 * radius * radius
    for s in range(st_f.shape[0]):
        rate = st_f[s, ST_RATE]
        st_tokens[s] = min(st_tokens[s] + rate * dt, 1.0 + rate * dt)
        while st_count[s] > 0 and st_tokens[s] >= 1.0:
            i = st_queue[s, st_head[s]]
            if ready[i] > t_new:
                break
            f = st_to[s]
            found = -1
            for k in range(cand_start[s], cand_start[s + 1]):
                px = cand_x[k]
                py = cand_y[k]
                ok = True
                gi = int(math.floor((px - n_x0[f]) / cs))
                gj = int(math.floor((py - n_y0[f]) / cs))
                for jj in range(max(gj - 1, 0), min(gj + 2, n_ny[f])):
                    for ii in range(max(gi - 1, 0), min(gi + 2, n_nx[f])):
                        cc = n_off[f] + jj * n_nx[f] + ii
                        for m in range(cell_start[cc], cell_stop[cc]):
                            j = cell_items[m]
                            if state[j] == ACTIVE and (x[j] - px) ** 2 + (y[j] - py) ** 2 < d2:
                                ok = False
                for m in range(n_sp):
                    if spawn_f[m] == f and (spawn_x[m] - px) ** 2 + (spawn_y[m] - py) ** 2 < d2:
                        ok = False
                if ok:
                    found = k
                    break
            if found < 0:
                break
            x[i] = cand_x[found]
            y[i] = cand_y[found]
            fl[i] = f
            state[i] = ACTIVE
            stuck[i] = 0.0
            if n_sp < spawn_x.shape[0]:
                spawn_x[n_sp] = x[i]
                spawn_y[n_sp] = y[i]
                spawn_f[n_sp] = f
                n_sp += 1
            st_head[s] = (st_head[s] + 1) % st_cap[s]
            st_count[s] -= 1
            st_tokens[s] -= 1.0
    return done
