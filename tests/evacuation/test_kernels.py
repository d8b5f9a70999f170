"""Numba kernels against their plain twins in naive.py (small, empty, degenerate inputs)."""

from __future__ import annotations

import numpy as np
import pytest

from sim.evacuation import kernels as K
from tests.evacuation import naive


@pytest.mark.parametrize("seg", [(0, 0, 1, 0), (0, 0, 0, 0), (1, 1, -2, 3), (-1, -1, 2, 2)])
def test_point_segment_matches_naive(seg):
    rng = np.random.default_rng(0)
    for px, py in rng.uniform(-3, 3, (50, 2)):
        got = K.point_segment(px, py, *seg)
        exp = naive.point_segment(px, py, *seg)
        assert np.allclose(got, exp, atol=1e-12)


def test_segments_cross_matches_naive():
    rng = np.random.default_rng(1)
    wall = ((0.0, -1.0), (0.0, 1.0))
    for _ in range(400):
        p = rng.uniform(-1.5, 1.5, 2)
        q = rng.uniform(-1.5, 1.5, 2)
        if abs(p[0]) < 1e-9:
            continue
        assert K.segments_cross(*p, *q, *wall[0], *wall[1]) == naive.segments_cross(p, q, *wall)
    # hand cases: ending exactly on the wall counts as crossing; parallel moves do not
    assert K.segments_cross(-1, 0, 0, 0, 0, -1, 0, 1)
    assert not K.segments_cross(-1, 0, -1, 1, 0, -1, 0, 1)
    assert not K.segments_cross(-1, 0, -0.5, 0, 0, -1, 0, 1)


def test_hash_uniform_range_and_determinism():
    vals = np.array([K.hash_uniform(7, s, i) for s in range(20) for i in range(50)])
    assert vals.min() >= 0 and vals.max() < 1
    assert abs(vals.mean() - 0.5) < 0.05  # 1000 draws: sd of mean ~0.009
    assert K.hash_uniform(7, 3, 4) == K.hash_uniform(7, 3, 4)
    assert K.hash_uniform(7, 3, 4) != K.hash_uniform(8, 3, 4)


def _cells(x, y, cs, nx, ny, arrays=None):
    n = len(x)
    if arrays is None:
        arrays = (np.zeros(nx * ny + 1, dtype=np.int64), np.zeros(nx * ny + 1, dtype=np.int64),
                  np.zeros(max(n, 1), dtype=np.int64), np.full(n, -1, dtype=np.int64),
                  np.zeros(max(n, 1)), np.zeros(max(n, 1)))
    start, stop, items, ac, sx, sy = arrays
    K.build_cells(x, y, np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64), np.array([0.0]),
                  np.array([0.0]), np.array([nx]), np.array([ny]), np.array([0]), cs, nx * ny, start, stop,
                  items, ac, sx, sy)
    return arrays


@pytest.mark.parametrize("n", [0, 1, 2, 57])
def test_build_cells_groups_every_agent_in_its_cell(n):
    rng = np.random.default_rng(n)
    arrays = None
    for _ in range(3):  # reused buffers: cells of the previous call must not leak
        x, y = rng.uniform(0, 9.99, n), rng.uniform(0, 4.99, n)
        arrays = _cells(x, y, 1.0, 10, 5, arrays)
        start, stop, items, ac, sx, sy = arrays
        total = 0
        for c in range(50):
            members = items[start[c]:stop[c]].tolist()
            exp = [i for i in range(n) if int(x[i]) + 10 * int(y[i]) == c]
            assert members == exp  # ascending agent order
            assert all(ac[i] == c for i in exp)
            assert sx[start[c]:stop[c]].tolist() == x[exp].tolist()
            assert sy[start[c]:stop[c]].tolist() == y[exp].tolist()
            total += len(members)
        assert total == n


@pytest.mark.parametrize("n,want", [(0, 5), (40, 10), (300, 300), (300, 0)])
def test_place_disks_matches_naive(n, want):
    rng = np.random.default_rng(n + want)
    cx, cy = rng.uniform(0, 5, n), rng.uniform(0, 5, n)
    fx, fy = np.array([2.5]), np.array([2.5])
    out = np.zeros(max(want, 1), dtype=np.int64)
    got = K.place_disks(cx, cy, 0.41, 0.0, 0.0, 13, 13, fx, fy, want, out)
    exp = naive.place_disks(cx, cy, 0.41, fx, fy, want)
    assert out[:got].tolist() == exp


def _move(x, y, e0x, e0y, v0, segs, cs, T=0.5, stuck=None, buf=0.02, push=0.1, side=45.0):
    """Call move_agents on one floor with per-agent desired directions (one class each)."""
    n = len(x)
    stuck = np.zeros(n) if stuck is None else np.array(stuck, float)
    nx = max(int(np.ceil(12 / cs)), 1)
    start, stop, items, _, sx, sy = _cells(x, y, cs, nx, nx)
    segs = np.asarray(segs, float).reshape(-1, 4)
    w_start = np.array([0, len(segs)], dtype=np.int64)
    w_idx = np.arange(len(segs), dtype=np.int64)
    new_x, new_y, speed = np.zeros(n), np.zeros(n), np.zeros(n)
    params = np.array([0.2, T, 8.0, 0.1, 5.0, 0.02, 2.0, 0.6, buf, push, side])
    K.move_agents(x, y, np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64), v0, np.zeros(n),
                  np.arange(n, dtype=np.int64), stuck, 0.0, 0.05, 1, 0,
                  start, stop, items, sx, sy, np.array([0.0]), np.array([0.0]), np.array([nx]), np.array([nx]),
                  np.array([0]), cs, np.array([0.0]), np.array([0.0]), np.array([1]), np.array([1]),
                  np.array([0]), 100.0, e0x.reshape(n, 1), e0y.reshape(n, 1), segs, np.array([1]),
                  np.array([1]), np.array([0]), w_start, w_idx, 100.0, params, new_x, new_y, speed)
    return new_x, new_y


@pytest.mark.parametrize("n", [1, 2, 30])
@pytest.mark.parametrize("cs", [1.2, 20.0])
def test_move_agents_matches_naive_cfsm(n, cs):
    rng = np.random.default_rng(10 + n)
    # agents at least 0.45 m apart in a 10 m box, walls far enough not to be crossed
    pts = []
    while len(pts) < n:
        p = rng.uniform(2, 10, 2)
        if all(np.hypot(*(p - q)) > 0.45 for q in pts):
            pts.append(p)
    x, y = np.array([p[0] for p in pts]), np.array([p[1] for p in pts])
    ang = rng.uniform(0, 2 * np.pi, n)
    e0x, e0y = np.cos(ang), np.sin(ang)
    v0 = rng.uniform(0.8, 1.6, n)
    segs = [(1.9, 1.0, 1.9, 11.0), (1.0, 10.25, 11.0, 10.25)]
    gx, gy = _move(x, y, e0x, e0y, v0, segs, cs)
    ex, ey = naive.cfsm_step(x, y, e0x, e0y, v0, np.array(segs, float))
    assert np.allclose(gx, ex, atol=1e-12) and np.allclose(gy, ey, atol=1e-12)


def test_move_agents_crowd_beyond_the_neighbour_buffer_matches_naive():
    # agent 0 at (5, 5) heading +x with one agent 0.7 m ahead (spacing 0.3 m: 0.6 m/s) and,
    # 1 m behind it, a knot of 300 more (all within its reach 2r + v0 T, more than the
    # kernel's buffer K.NEIGHBOUR_BUFFER holds; their cells are scanned first): it must
    # still see the one ahead, through the spacing pass that scans the cells again
    rng = np.random.default_rng(7)
    knot = 300
    assert knot > K.NEIGHBOUR_BUFFER
    x = np.concatenate([[5.0, 5.7], 4.0 + rng.uniform(-0.05, 0.05, knot)])
    y = np.concatenate([[5.0, 5.0], 5.0 + rng.uniform(-0.05, 0.05, knot)])
    n = x.size
    e0x, e0y = np.concatenate([[1.0, 1.0], -np.ones(knot)]), np.zeros(n)
    v0 = np.concatenate([[1.3, 0.0], np.full(knot, 1.0)])
    segs = [(1.0, 1.0, 1.0, 11.0)]
    for cs in (0.7, 3.0):
        gx, gy = _move(x, y, e0x, e0y, v0, segs, cs)
        ex, ey = naive.cfsm_step(x, y, e0x, e0y, v0, np.array(segs, float))
        assert gx[0] - 5.0 == pytest.approx(0.3 / 0.5 * 0.05, rel=0.05)
        assert np.allclose(gx, ex, atol=1e-12) and np.allclose(gy, ey, atol=1e-12)


@pytest.mark.parametrize("buf", [0.0, 0.02, 0.1])
def test_move_agents_near_walls_matches_naive(buf):
    # agents in a strip 0.15-0.45 m from two walls: repulsion outside the buffer, sliding inside
    rng = np.random.default_rng(int(buf * 100))
    x = np.concatenate([2.0 + rng.uniform(0.15, 0.45, 6), rng.uniform(3, 9, 6)])
    y = np.concatenate([np.arange(6) * 1.3 + 2.5, 10.0 - rng.uniform(0.15, 0.45, 6)])
    x[6:] = np.arange(6) * 1.1 + 3.0
    ang = rng.uniform(0, 2 * np.pi, 12)
    v0 = rng.uniform(0.8, 1.6, 12)
    segs = [(2.0, 1.0, 2.0, 11.0), (1.0, 10.0, 11.0, 10.0)]
    gx, gy = _move(x, y, np.cos(ang), np.sin(ang), v0, segs, 1.2, buf=buf)
    ex, ey = naive.cfsm_step(x, y, np.cos(ang), np.sin(ang), v0, np.array(segs, float), buf=buf)
    assert np.allclose(gx, ex, atol=1e-12) and np.allclose(gy, ey, atol=1e-12)


def test_move_agents_slides_along_a_wall_inside_the_buffer():
    # 0.21 m from the wall x = 6 (inside r + buffer = 0.22 m), heading 45 degrees into it:
    # the normal part is removed, the agent walks along the wall at its full speed
    s2 = np.sqrt(0.5)
    gx, gy = _move(np.array([5.79]), np.array([5.0]), np.array([s2]), np.array([s2]), np.array([1.2]),
                   [(6.0, 0.0, 6.0, 10.0)], 1.2)
    assert gx[0] == pytest.approx(5.79, abs=1e-12) and gy[0] == pytest.approx(5.0 + 1.2 * 0.05)
    # outside the buffer the same heading keeps its normal part
    gx, _ = _move(np.array([5.5]), np.array([5.0]), np.array([s2]), np.array([s2]), np.array([1.2]),
                  [(6.0, 0.0, 6.0, 10.0)], 1.2)
    assert gx[0] > 5.5 + 0.5 * 1.2 * 0.05


def test_impatient_agent_pushes_at_creep_speed():
    # a walker in contact with one agent ahead and one behind (repulsions cancel): spacing 0,
    # so speed 0 while patient and push x v0 once stuck longer than impatience_s (2 s)
    x, y = np.array([5.0, 5.4, 4.6]), np.array([5.0, 5.0, 5.0])
    e0x, e0y, v0 = np.array([1.0, 0.0, 0.0]), np.array([0.0, 1.0, -1.0]), np.array([1.3, 0.0, 0.0])
    gx, gy = _move(x, y, e0x, e0y, v0, [], 1.2, stuck=[1.9, 0, 0])
    assert (gx[0], gy[0]) == (5.0, 5.0)
    for push in (0.1, 0.25):
        gx, gy = _move(x, y, e0x, e0y, v0, [], 1.2, stuck=[2.1, 0, 0], push=push)
        assert np.hypot(gx[0] - 5.0, gy[0] - 5.0) == pytest.approx(push * 1.3 * 0.05, rel=1e-9)


def test_move_agents_free_walker_and_head_on_pair():
    # a lone agent walks v0 * dt along its desired direction
    gx, gy = _move(np.array([5.0]), np.array([5.0]), np.array([1.0]), np.array([0.0]), np.array([1.3]), [], 1.2)
    assert gx[0] == pytest.approx(5.0 + 1.3 * 0.05) and gy[0] == pytest.approx(5.0)
    # a follower 0.8 m behind a leader: spacing 0.8 - 0.4 = 0.4 m, speed 0.4 / T(0.5) = 0.8 m/s;
    # the leader's repulsion 8 exp(-4) = 0.15 < 1 does not turn the follower around
    gx, gy = _move(np.array([5.0, 5.8]), np.array([5.0, 5.0]), np.array([1.0, 1.0]), np.array([0.0, 0.0]),
                   np.array([1.3, 1.3]), [], 1.2)
    assert gx[0] == pytest.approx(5.0 + 0.8 * 0.05, abs=1e-9)
    assert gy[0] == pytest.approx(5.0)
    # at 0.6 m the repulsion 8 exp(-2) = 1.08 > 1 reverses the direction: the follower backs
    # off at full speed (nobody behind it), as in the published model
    gx, _ = _move(np.array([5.0, 5.6]), np.array([5.0, 5.0]), np.array([1.0, 1.0]), np.array([0.0, 0.0]),
                  np.array([1.3, 1.3]), [], 1.2)
    assert gx[0] == pytest.approx(5.0 - 1.3 * 0.05, abs=1e-9)


@pytest.mark.parametrize("side", [0.0, 30.0, 45.0, 90.0])
def test_head_on_pair_keeps_right(side):
    # A at (5, 5) heading +x, B 1 m ahead heading -x (inside the 1.4 m cut-off): each turns
    # its desired direction by `side` degrees clockwise (to its right). Hand calculation for
    # A: e = normalise((cos s, -sin s) + 8 exp((0.4 - 1) / 0.1) (-1, 0)); B is then off A's
    # 2r corridor when |e_y| > 0.4 (spacing unlimited: v0), else spacing 0.6 m -> 1.2 m/s
    x, y = np.array([5.0, 6.0]), np.array([5.0, 5.0])
    e0x, e0y, v0 = np.array([1.0, -1.0]), np.array([0.0, 0.0]), np.array([1.0, 1.0])
    gx, gy = _move(x, y, e0x, e0y, v0, [], 1.2, side=side)
    s = np.radians(side)
    e = np.array([np.cos(s) - 8 * np.exp(-6.0), -np.sin(s)])
    e /= np.linalg.norm(e)
    v = 1.0 if abs(e[1]) > 0.4 else min(0.6 / 0.5, 1.0)
    assert gx[0] == pytest.approx(5.0 + e[0] * v * 0.05, abs=1e-12)
    assert gy[0] == pytest.approx(5.0 + e[1] * v * 0.05, abs=1e-12)
    # B mirrors A (its right is +y): the pair steps apart
    assert gy[1] - 5.0 == pytest.approx(-(gy[0] - 5.0), abs=1e-12)
    ex, ey = naive.cfsm_step(x, y, e0x, e0y, v0, np.zeros((0, 4)), side_deg=side)
    assert np.allclose(gx, ex, atol=1e-12) and np.allclose(gy, ey, atol=1e-12)


def test_behind_or_co_moving_neighbours_do_not_trigger_the_side_step():
    # oncoming but behind (B at x = 4 heading -x, walking away) and co-moving ahead: straight on
    gx, gy = _move(np.array([5.0, 4.0]), np.array([5.0, 5.0]), np.array([1.0, -1.0]), np.array([0.0, 0.0]),
                   np.array([1.0, 1.0]), [], 1.2)
    assert gy[0] == pytest.approx(5.0, abs=1e-12) and gx[0] > 5.0
    gx, gy = _move(np.array([5.0, 6.0]), np.array([5.0, 5.0]), np.array([1.0, 1.0]), np.array([0.0, 0.0]),
                   np.array([1.0, 1.0]), [], 1.2)
    assert gy[0] == pytest.approx(5.0, abs=1e-12)


def test_move_agents_never_crosses_a_wall():
    # agent 0.25 m from a wall walking straight at it at 10 m/s: stays on its side
    segs = [(6.0, 0.0, 6.0, 10.0)]
    gx, _ = _move(np.array([5.75]), np.array([5.0]), np.array([1.0]), np.array([0.0]), np.array([10.0]), segs, 1.2)
    assert gx[0] < 6.0


def test_serial_and_parallel_builds_have_their_own_cache_entries():
    # numba's on-disk cache is named after the function and not keyed on parallel=True: one
    # shared entry made new processes load whichever build was saved last (a parallel
    # build in the serial slot cost 15x the CPU of a 500-agent run)
    par, ser = K.move_agents._cache._cache_file, K.move_agents_serial._cache._cache_file
    assert K.move_agents.targetoptions.get("parallel") and not K.move_agents_serial.targetoptions.get("parallel")
    assert par._index_name != ser._index_name


def test_move_agents_empty():
    gx, gy = _move(np.zeros(0), np.zeros(0), np.zeros(0), np.zeros(0), np.zeros(0), [], 1.2)
    assert gx.size == 0 and gy.size == 0


def test_whole_run_without_jit_is_bit_identical(tmp_path):
    """The kernels run as plain Python (NUMBA_DISABLE_JIT=1) give the very same result."""
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    from sim.evacuation import parse_scenario, simulate
    from tests.evacuation.common import exit_, floor, rect, room_with_door, scenario

    walk, ex = room_with_door(6.0, 1.0)
    sc = scenario([floor("F", walk)], [exit_("E", "F", ex)],
                  groups=[{"floor": "F", "area": rect(0, 0, 5, 6), "count": 8, "speed_mps": 1.3}], max_time_s=60)
    p = tmp_path / "s.json"
    p.write_text(json.dumps(sc))
    code = ("import json,sys;from sim.evacuation import load_scenario,simulate;"
            "r=simulate(load_scenario(sys.argv[1]));print(json.dumps(r['agents']))")
    repo = Path(__file__).resolve().parents[2]
    env = dict(os.environ, NUMBA_DISABLE_JIT="1", PYTHONPATH=str(repo))
    out = subprocess.run([sys.executable, "-W", "ignore", "-c", code, str(p)], capture_output=True, text=True,
                         env=env, cwd=repo, timeout=300)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == simulate(parse_scenario(sc))["agents"]


@pytest.mark.parametrize("count", [0, 1, 3, 4, 8, 13, 14, 20, 40, 1000])
@pytest.mark.parametrize("v0,vfix", [(1.34, 0.0), (0.5, 0.0), (2.0, 0.0), (1.34, 0.3)])
def test_stair_speed_follows_sfpe_density_rule(count, v0, vfix):
    # 8 m x 0.9 m effective (7.2 m²), k = 1.08 m/s, down factor 0.6: the agent's own stair
    # speed, capped from D = 0.54 P/m² by the SFPE speed k (1 - 0.266 D), floored at 0.1 k
    rec = np.zeros(6)
    rec[K.ST_LEN], rec[K.ST_VFAC], rec[K.ST_VFIX], rec[K.ST_AREA], rec[K.ST_K] = 8.0, 0.6, vfix, 7.2, 1.08
    own = vfix if vfix > 0 else v0 * 0.6
    # below 0.54 P/m² nobody is slowed (a fast walker keeps its own speed above k)
    cap = max(naive.sfpe_speed(1.08, count / 7.2), 0.108) if count / 7.2 >= 0.54 else np.inf
    assert K.stair_speed(v0, rec, count) == pytest.approx(min(own, cap), rel=1e-12)
    # elevator trips (k = 0) keep their own speed at any count
    rec[K.ST_K] = 0.0
    assert K.stair_speed(v0, rec, count) == pytest.approx(own, rel=1e-12)


def test_sfpe_speed_reference_values():
    # SFPE Handbook: at the density of maximum flow (1.88 P/m²) the speed is k / 2 and the
    # specific flow k / (4 x 0.266): 1.01 P/(m s) for 7/11 stairs (k = 1.08)
    assert naive.sfpe_speed(1.08, 1 / (2 * 0.266)) == pytest.approx(0.54)
    assert naive.sfpe_speed(1.08, 1 / (2 * 0.266)) / (2 * 0.266) == pytest.approx(1.015, abs=0.005)
    assert naive.sfpe_speed(1.08, 3.76) == pytest.approx(0.0, abs=0.002)


@pytest.mark.parametrize("x0,h,nx", [(0.0, 0.5, 20), (-3.7, 0.2, 7), (1e6, 0.25, 3), (0.0, 1.0, 1)])
def test_cell_of_matches_naive(x0, h, nx):
    rng = np.random.default_rng(nx)
    pts = rng.uniform(x0 - 2 * h, x0 + (nx + 2) * h, (300, 2))  # inside and outside the grid
    for px, py in pts:
        assert K.cell_of(px, py, x0, x0, nx, nx + 1, h, 7) == naive.cell_of(px, py, x0, x0, nx, nx + 1, h, 7)
    if x0 == 0.0 and h == 0.5:  # exact grid lines belong to the cell above / right of them
        for k in range(nx + 1):
            assert K.cell_of(k * h, k * h, x0, x0, nx, nx + 1, h, 0) == naive.cell_of(k * h, k * h, x0, x0, nx, nx + 1, h, 0)


@pytest.mark.parametrize("n", [0, 1, 2, 50])
@pytest.mark.parametrize("t", [0.0, 5.0, 1e9])
def test_census_matches_naive(n, t):
    rng = np.random.default_rng(n)
    state = rng.integers(0, 4, n).astype(np.int64)
    pre = np.where(rng.random(n) < 0.5, 0.0, rng.uniform(0, 10, n))
    assert K.census(state, pre, t) == naive.census(state, pre, t)


def _transfer_world(n, seed):
    """Two 10 x 6 m floors (0.5 m routing cells, 1 m neighbour cells): floor 0 drains into a
    stair entry (x >= 9) leading to floor 1, whose exit is x >= 9; agents anywhere."""
    rng = np.random.default_rng(seed)
    h, gx, gy = 0.5, 20, 12
    zone = np.full(2 * gx * gy, -1, dtype=np.int32)
    target = np.full((1, 2 * gx * gy), -1, dtype=np.int32)
    for f, z in ((0, 1), (1, 0)):
        for j in range(gy):
            for i in range(gx):
                target[0, f * gx * gy + j * gx + i] = z
                if i >= 18:
                    zone[f * gx * gy + j * gx + i] = z
    agents = [dict(x=float(rng.uniform(6.0, 9.8)), y=float(rng.uniform(0.2, 5.8)), f=int(rng.integers(0, 2)),
                   state=0, cls=0, pre=float(rng.choice([0.0, 2.0])), v0=float(rng.uniform(0.5, 1.5)),
                   ready=0.0, exit=-1, exit_time=np.nan) for _ in range(n)]
    spots = [(float(0.5 + 0.45 * k), 3.0) for k in range(4)]
    stair = dict(len=2.0, rate=1.5, vfac=0.6, vfix=0.0, area=2.0 * 0.9, k=1.08, cap=3, to=1, queue=[],
                 tokens=1.0, used=0, spots=spots)
    return agents, stair, zone, target


@pytest.mark.parametrize("n,seed", [(0, 0), (1, 1), (12, 2), (40, 3)])
def test_transfer_agents_matches_naive(n, seed):
    agents, stair, zone, target = _transfer_world(n, seed)
    h, gx, gy, cs = 0.5, 20, 12, 1.0
    g = (np.array([0.0, 0.0]), np.array([0.0, 0.0]), np.array([gx, gx]), np.array([gy, gy]),
         np.array([0, gx * gy]))
    ng = (np.array([0.0, 0.0]), np.array([0.0, 0.0]), np.array([10, 10]), np.array([6, 6]), np.array([0, 60]))
    arr = {k: np.array([a[k] for a in agents], dtype=float) for k in ("x", "y", "pre", "v0")}
    fl = np.array([a["f"] for a in agents], dtype=np.int64)
    state = np.zeros(n, dtype=np.int64)
    cls, stuck, ready = np.zeros(n, dtype=np.int64), np.ones(n), np.zeros(n)
    st_f = np.array([[2.0, 1.5, 0.6, 0.0, 1.8, 1.08]])
    st_queue, st_head, st_count = np.zeros((1, 3), dtype=np.int64), np.zeros(1, dtype=np.int64), np.zeros(1, dtype=np.int64)
    st_tokens, used = np.ones(1), np.zeros(1, dtype=np.int64)
    exit_of, exit_time = np.full(n, -1, dtype=np.int64), np.full(n, np.nan)
    cand_x = np.array([p[0] for p in stair["spots"]])
    cand_y = np.array([p[1] for p in stair["spots"]])
    zone_fn = lambda f, x, y: int(zone[naive.cell_of(x, y, 0.0, 0.0, gx, gy, h, f * gx * gy)])  # noqa: E731
    target_fn = lambda c, f, x, y: int(target[c, naive.cell_of(x, y, 0.0, 0.0, gx, gy, h, f * gx * gy)])  # noqa: E731
    dt = 0.25
    for step in range(1, 41):
        t = step * dt
        cell_start, cell_stop = np.zeros(121, dtype=np.int64), np.zeros(121, dtype=np.int64)
        items, ac, sx, sy = (np.zeros(max(n, 1), dtype=np.int64), np.full(n, -1, dtype=np.int64),
                             np.zeros(max(n, 1)), np.zeros(max(n, 1)))
        K.build_cells(arr["x"], arr["y"], fl, state, *ng, cs, 120, cell_start, cell_stop, items, ac, sx, sy)
        done = K.transfer_agents(arr["x"], arr["y"], fl, state, cls, stuck, arr["pre"], t, dt, step, 9,
                                 *g, h, zone, target, np.array([-1]), 1, cell_start, cell_stop, items, *ng, cs,
                                 0.2, st_f, np.array([3]), np.array([1]), arr["v0"], st_queue, st_head, st_count,
                                 st_tokens, ready, np.array([0, 4]), cand_x, cand_y, exit_of, exit_time, used,
                                 np.zeros(8), np.zeros(8), np.zeros(8, dtype=np.int64))
        start = int(K.hash_uniform(9, step, 0x7FFFFFFF) * n) % n if n else 0
        exp = naive.transfer(agents, [stair], t=t, dt=dt, order=[(start + k) % n for k in range(n)], zone=zone_fn,
                             target=target_fn, class_exit=[-1], n_exits=1, radius=0.2)
        assert done == exp
        assert state.tolist() == [a["state"] for a in agents]
        assert fl.tolist() == [a["f"] for a in agents]
        assert np.allclose(arr["x"], [a["x"] for a in agents]) and np.allclose(arr["y"], [a["y"] for a in agents])
        assert exit_of.tolist() == [a["exit"] for a in agents]
        assert np.allclose(ready[state == 1], [a["ready"] for a in agents if a["state"] == 1])
        assert used[0] == stair["used"] and st_count[0] == len(stair["queue"])
        assert st_tokens[0] == pytest.approx(stair["tokens"])
    if n >= 40:  # the case exercised exits, a full stair and releases onto the landing
        assert (state == 2).any() and stair["used"] >= 3 and (stuck == 0.0).any()
