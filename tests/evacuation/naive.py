"""Plain Python/NumPy twins of the numba kernels (slow, obviously correct; small inputs)."""

from __future__ import annotations

import math

import numpy as np


def point_segment(px, py, x1, y1, x2, y2):
    """Closest point on a segment by projection with clamping (textbook)."""
    a = np.array([x1, y1], float)
    b = np.array([x2, y2], float)
    p = np.array([px, py], float)
    ab = b - a
    if ab @ ab == 0:
        q = a
    else:
        q = a + np.clip((p - a) @ ab / (ab @ ab), 0, 1) * ab
    return q[0], q[1], float(np.linalg.norm(p - q))


def segments_cross(p, q, a, b) -> bool:
    """Move p→q crosses wall a-b: solve p + s (q-p) = a + u (b-a) with 0 ≤ s, u ≤ 1."""
    p, q, a, b = (np.asarray(v, float) for v in (p, q, a, b))
    d1, d2 = q - p, b - a
    m = np.array([[d1[0], -d2[0]], [d1[1], -d2[1]]])
    if abs(np.linalg.det(m)) < 1e-15:
        return False
    s, u = np.linalg.solve(m, a - p)
    return bool(0 < s <= 1 + 1e-12 and -1e-12 <= u <= 1 + 1e-12)


def neighbours_brute(x, y, i, radius):
    """Indices j != i within ``radius`` of agent i."""
    return [j for j in range(len(x)) if j != i and math.hypot(x[j] - x[i], y[j] - y[i]) <= radius]


def place_disks(cx, cy, dmin, fixed_x, fixed_y, want):
    """Random sequential adsorption by brute force: accept in order if ≥ dmin from all."""
    acc_x = list(fixed_x)
    acc_y = list(fixed_y)
    out = []
    for k in range(len(cx)):
        if len(out) >= want:
            break
        if all((ax - cx[k]) ** 2 + (ay - cy[k]) ** 2 >= dmin * dmin for ax, ay in zip(acc_x, acc_y)):
            acc_x.append(cx[k])
            acc_y.append(cy[k])
            out.append(k)
    return out


def cfsm_step(x, y, e0x, e0y, v0, segs, *, r=0.2, T=0.5, a_n=8.0, d_n=0.1, a_w=5.0, d_w=0.02, dt=0.05,
              buf=0.02, push=0.1, imp=2.0, stuck=None, side_deg=45.0):
    """One collision-free speed model step (Tordeux, Chraibi & Seyfried 2016) by brute force,
    with wall sliding (Xu, Chraibi & Seyfried 2021) and impatient pushing.

    Direction: e = normalise(e0 + Σ_j R_n(d_ij) n_ji + Σ_walls R_w(d_iw) n_wi) with
    R_n = a_n exp((2r − d)/d_n) (neighbours within 2r + 10 d_n, not behind a wall) and
    R_w = a_w exp((r − d)/d_w) (walls between r + buf and r + 20 d_w). Then, wall by wall,
    for each wall closer than r + buf the part of e pointing into it is projected out, and
    e is normalised again (zero when nothing is left). Speed: min(v0, max(0, s/T)) with s the
    smallest d_ij − 2r over neighbours ahead within the corridor |e⊥·(x_j − x_i)| ≤ 2r; an
    agent stuck for more than ``imp`` s walks at least ``push`` × v0. Keep right: if any
    neighbour j within max(2r + 10 d_n, 2r + v0 T), in front (e0_i · (x_j − x_i) > 0), not
    behind a wall, has e0_i · e0_j < 0, e0_i is first rotated clockwise by ``side_deg``. Hard walls (the step
    stops or slides instead of crossing) are not modelled here: the test geometry keeps
    steps clear of walls. Impatient turning is not modelled (``stuck`` must stay below
    ``imp`` unless the caller checks the pushing speed only).
    """
    n = len(x)
    stuck = np.zeros(n) if stuck is None else np.asarray(stuck, float)
    nx, ny = np.array(x, float), np.array(y, float)
    l = 2 * r
    th = math.radians(side_deg)
    rot = np.array([[math.cos(th), math.sin(th)], [-math.sin(th), math.cos(th)]])  # clockwise
    for i in range(n):
        rep = np.zeros(2)
        pi = np.array([x[i], y[i]])
        e0 = np.array([e0x[i], e0y[i]])
        look = max(l + 10 * d_n, l + v0[i] * T)
        for j in range(n):
            dv = np.array([x[j], y[j]]) - pi
            if (side_deg and j != i and np.linalg.norm(dv) <= look and e0 @ dv > 0
                    and e0 @ np.array([e0x[j], e0y[j]]) < 0
                    and not any(segments_cross(pi, (x[j], y[j]), s[:2], s[2:]) for s in segs)):
                e0 = rot @ e0
                break
        for j in range(n):
            if j == i:
                continue
            dv = np.array([x[j], y[j]]) - pi
            d = np.linalg.norm(dv)
            if d > l + 10 * d_n or d < 1e-9:
                continue
            if any(segments_cross(pi, (x[j], y[j]), s[:2], s[2:]) for s in segs):
                continue
            rep += -a_n * math.exp((l - d) / d_n) * dv / d
        near = []
        for s in segs:
            qx, qy, d = point_segment(x[i], y[i], *s)
            if d <= r + buf:
                if d >= 1e-9:
                    near.append((pi - np.array([qx, qy])) / d)
                continue
            if d > r + 20 * d_w:
                continue
            rep += -a_w * math.exp((r - d) / d_w) * (np.array([qx, qy]) - pi) / d
        e = e0 + rep
        e = e / np.linalg.norm(e) if np.linalg.norm(e) >= 1e-12 else e0
        for nrm in near:  # outward unit normals of the walls inside the buffer
            into = e @ nrm
            if into < 0:
                e = e - into * nrm
        e = e / np.linalg.norm(e) if np.linalg.norm(e) >= 1e-12 else np.zeros(2)
        spacing = np.inf
        for j in range(n):
            if j == i:
                continue
            dv = np.array([x[j], y[j]]) - pi
            if e @ dv < 0 or abs(-e[1] * dv[0] + e[0] * dv[1]) > l:
                continue
            d = np.linalg.norm(dv)
            if d > l + v0[i] * T:
                continue
            if d < 1e-9 and j > i:  # two agents on one spot: the lower index goes first
                continue
            spacing = min(spacing, d - l)
        v = min(max(spacing / T, 0.0), v0[i])
        if stuck[i] > imp:
            v = max(v, push * v0[i])
        nx[i] = x[i] + e[0] * v * dt
        ny[i] = y[i] + e[1] * v * dt
    return nx, ny


def weidmann_speed(density_p_m2: float, v0: float = 1.34) -> float:
    """Weidmann (1993) speed-density relation (m/s); jam density 5.4 P/m², gamma 1.913."""
    if density_p_m2 <= 0:
        return v0
    return max(0.0, v0 * (1 - math.exp(-1.913 * (1 / density_p_m2 - 1 / 5.4))))


def sfpe_stair_tower(persons_per_floor: int, floors: int, stair_width_m: float, flight_m: float,
                     specific_flow: float, stair_speed_mps: float, walk_m: float = 0.0,
                     walk_speed_mps: float = 1.34, boundary_layer_m: float = 0.15) -> float:
    """SFPE hydraulic hand calculation for a stair tower in the flow-limited case: every
    floor above the exit floor discharges into one stair whose calculated flow
    Fc = Fs × We (P/s) is the controlling element, We the effective width = nominal width
    less a boundary layer on each side (0.15 m for stairs; Nelson & Mowrer, SFPE Handbook,
    ch. 3-14). The lowest flight is saturated from the start, so the time is the whole
    population through Fc, plus one flight's travel for the last person and the walk from
    the stair to the exit."""
    total = persons_per_floor * floors
    fc = specific_flow * (stair_width_m - 2 * boundary_layer_m)
    return total / fc + flight_m / stair_speed_mps + walk_m / walk_speed_mps


def sfpe_speed(k_mps: float, density_p_m2: float) -> float:
    """SFPE speed (m/s) at a density (P/m²): k below 0.54 P/m², k (1 − 0.266 D) above."""
    if density_p_m2 < 0.54:
        return k_mps
    return k_mps * (1 - 0.266 * density_p_m2)


def cell_of(x, y, x0, y0, nx, ny, h, off):
    """Flat cell index by counting the grid lines at or left of / below the point."""
    i = int(np.searchsorted(x0 + h * np.arange(1, nx), x, side="right"))
    j = int(np.searchsorted(y0 + h * np.arange(1, ny), y, side="right"))
    return off + j * nx + i


def census(state, pre, t):
    """(on floors, in stairs, walking at t, earliest pending pre-movement end or inf)."""
    state, pre = np.asarray(state), np.asarray(pre, float)
    on = state == 0
    waiting = pre[on & (pre > t)]
    return (int(on.sum()), int((state == 1).sum()), int((on & (pre <= t)).sum()),
            float(waiting.min()) if waiting.size else math.inf)


def transfer(agents, stairs, *, t, dt, order, zone, target, class_exit, n_exits, radius):
    """Exit and stair bookkeeping of one step, written from the rules in docs/evacuation.md.

    ``agents``: list of dicts (x, y, f, state 0 on floor / 1 in stair / 2 out, cls, pre, v0,
    ready, exit, exit_time) changed in place; ``stairs``: list of dicts (len, rate, vfac,
    vfix, area, k, cap, to, queue (list), tokens, used, spots [(x, y)]); ``zone(f, x, y)`` and
    ``target(cls, f, x, y)`` give the area id under a point (-1 none; exits first, then
    stairs); ``order``: the agents' visiting order. Returns the number evacuated.
    """
    done = 0
    for i in order:
        a = agents[i]
        if a["state"] != 0 or t < a["pre"]:
            continue
        z = zone(a["f"], a["x"], a["y"])
        if z < 0:
            continue
        if z < n_exits:
            if class_exit[a["cls"]] in (-1, z):
                a.update(state=2, exit=z, exit_time=t)
                done += 1
            continue
        st = stairs[z - n_exits]
        if target(a["cls"], a["f"], a["x"], a["y"]) != z or len(st["queue"]) >= st["cap"]:
            continue
        st["queue"].append(i)
        st["used"] += 1
        a["state"] = 1
        own = st["vfix"] or a["v0"] * st["vfac"]
        dens = len(st["queue"]) / st["area"]
        if st["k"] > 0 and dens >= 0.54:
            own = min(own, max(sfpe_speed(st["k"], dens), 0.1 * st["k"]))
        a["ready"] = t + st["len"] / own
    placed = []
    for st in stairs:
        st["tokens"] = min(st["tokens"] + st["rate"] * dt, 1 + st["rate"] * dt)
        while st["queue"] and st["tokens"] >= 1:
            a = agents[st["queue"][0]]
            if a["ready"] > t:
                break
            free = [p for p in st["spots"]
                    if all(math.hypot(p[0] - b["x"], p[1] - b["y"]) >= 2 * radius
                           for b in agents if b["state"] == 0 and b["f"] == st["to"])
                    and all(math.hypot(p[0] - q[0], p[1] - q[1]) >= 2 * radius for q, g in placed if g == st["to"])]
            if not free:
                break
            a.update(x=free[0][0], y=free[0][1], f=st["to"], state=0)
            placed.append((free[0], st["to"]))
            st["queue"].pop(0)
            st["tokens"] -= 1
    return done
