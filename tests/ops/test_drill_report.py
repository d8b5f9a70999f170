"""The drill report (services/drill_report): queueing per storey, people out per exit and the
colour of a storey against hand counts; the off-screen render's pixels; the PDF's pages.

Rendering needs an off-screen OpenGL (EGL or OSMesa, see dev.sh): without it these tests
fail under CI with the reason, and skip elsewhere.
"""

from __future__ import annotations

import os
import re

import numpy as np
import pytest
from shapely.geometry import box, mapping

from services.drill_report import (NO_DATA_RGB, RenderError, exit_flow, queue_colour, render_towers, slabs_of,
                                   storey_queueing, write_report)

#: YlOrRd's end colours (ColorBrewer): no queueing and the longest queueing.
LIGHT_YELLOW = (0xFF, 0xFF, 0xCC)
DARK_RED = (0x80, 0x00, 0x26)


def _render_or_fail(*args, **kwargs):
    try:
        return render_towers(*args, **kwargs)
    except RenderError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"off-screen rendering is unavailable under CI ({exc}); dev.sh installs libegl1 "
                        "libegl-mesa0 libgl1-mesa-dri")
        pytest.skip(f"no off-screen rendering here: {exc}")


def _rgb255(c):
    return tuple(int(round(v * 255)) for v in c)


# -- colours ------------------------------------------------------------------------------------

def test_the_longest_queue_gets_the_top_colour_and_none_is_grey():
    assert _rgb255(queue_colour(42.0, 42.0)) == DARK_RED       # the storey with the longest queue
    assert _rgb255(queue_colour(0.0, 42.0)) == LIGHT_YELLOW    # nobody queued
    assert _rgb255(queue_colour(99.0, 42.0)) == DARK_RED       # above the scale: clipped
    assert _rgb255(queue_colour(-1.0, 42.0)) == LIGHT_YELLOW
    assert queue_colour(None, 42.0) == NO_DATA_RGB
    assert queue_colour(float("nan"), 42.0) == NO_DATA_RGB
    assert _rgb255(queue_colour(0.0, 0.0)) == LIGHT_YELLOW     # no queue anywhere: no division by 0
    # darker (lower luminance) as the queue grows: 0 < 10.5 < 21 < 31.5 < 42 s
    lum = [0.2126 * r + 0.7152 * g + 0.0722 * b for r, g, b in (queue_colour(v, 42.0) for v in (0, 10.5, 21, 31.5, 42))]
    assert lum == sorted(lum, reverse=True) and len(set(lum)) == 5


# -- queueing per storey: a hand-made trajectory ----------------------------------------------

def _frame(t, rows):
    """rows: (agent index, floor index, x, y)."""
    return {"t": t, "i": [r[0] for r in rows], "f": [r[1] for r in rows],
            "x": [r[2] for r in rows], "y": [r[3] for r in rows]}


def tiny_trajectories():
    """Floors A (0), B (1), C (2, nobody); every 0.5 s.

    - p0 on A: still at t 0–0.5 (pre-movement, not queueing), walks 1 m by 1.0 (2 m/s), creeps
      0.05 m by 1.5 (0.1 m/s: queueing 0.5 s), stands by 2.0 (queueing 0.5 s), walks on by 2.5.
      → A: 1.0 s.
    - p1 on A walks (1 m/s), is in a stair at 1.0–1.5, arrives on B at 2.0 and stands by 2.5:
      arrived by stair, so on the move → B: 0.5 s.
    - p2 on B never moves (pre-movement all along) → 0 s.
    """
    return {"schema_version": 1, "every_s": 0.5, "agents": ["p0", "p1", "p2"], "floors": ["A", "B", "C"],
            "frames": [
                _frame(0.0, [(0, 0, 0.0, 0.0), (1, 0, 5.0, 5.0), (2, 1, 0.0, 0.0)]),
                _frame(0.5, [(0, 0, 0.0, 0.0), (1, 0, 5.5, 5.0), (2, 1, 0.0, 0.0)]),
                _frame(1.0, [(0, 0, 1.0, 0.0), (2, 1, 0.0, 0.0)]),
                _frame(1.5, [(0, 0, 1.05, 0.0), (2, 1, 0.0, 0.0)]),
                _frame(2.0, [(0, 0, 1.05, 0.0), (1, 1, 5.0, 5.0), (2, 1, 0.0, 0.0)]),
                _frame(2.5, [(0, 0, 1.5, 0.0), (1, 1, 5.0, 5.0), (2, 1, 0.0, 0.0)]),
            ]}


def test_queueing_per_storey_equals_the_hand_count():
    q = storey_queueing(tiny_trajectories())
    assert q["A"] == {"people": 2, "queue_person_s": 1.0, "mean_s": 0.5, "max_s": 1.0}
    assert q["B"] == {"people": 2, "queue_person_s": 0.5, "mean_s": 0.25, "max_s": 0.5}
    assert q["C"] == {"people": 0, "queue_person_s": 0.0, "mean_s": None, "max_s": None}


def test_a_gap_in_the_frames_is_not_queueing_and_bad_input_is_refused():
    tr = {"every_s": 0.5, "agents": ["p"], "floors": ["A"], "frames": [
        _frame(0.0, [(0, 0, 0.0, 0.0)]), _frame(0.5, [(0, 0, 1.0, 0.0)]),   # walks: started
        _frame(3.0, [(0, 0, 1.0, 0.0)])]}                                   # 2.5 s later: not consecutive
    assert storey_queueing(tr)["A"]["queue_person_s"] == 0.0
    assert storey_queueing({"every_s": 0.5, "agents": [], "floors": ["A"], "frames": []})["A"]["people"] == 0
    with pytest.raises(ValueError, match="every_s"):
        storey_queueing({"every_s": 0, "agents": [], "floors": [], "frames": []})


def naive_queueing(tr, slow_mps=0.2):
    """Plain per-person loop of the documented rule (the slow, obvious twin)."""
    every = tr["every_s"]
    last, started, q, seen = {}, set(), {}, {}
    for fr in tr["frames"]:
        for i, f, x, y in zip(fr["i"], fr["f"], fr["x"], fr["y"]):
            seen.setdefault(f, set()).add(i)
            if i in last:
                pf, pt, px_, py_ = last[i]
                dt = fr["t"] - pt
                if pf == f and 0 < dt <= 1.5 * every:
                    v = ((x - px_) ** 2 + (y - py_) ** 2) ** 0.5 / dt
                    if v < slow_mps and i in started:
                        q[(f, i)] = q.get((f, i), 0.0) + dt
                    elif v >= slow_mps:
                        started.add(i)
                elif pf != f:
                    started.add(i)
            last[i] = (f, fr["t"], x, y)
    out = {}
    for k, fid in enumerate(tr["floors"]):
        people = len(seen.get(k, ()))
        per = [v for (f, _i), v in q.items() if f == k]
        out[fid] = (people, sum(per), max(per, default=0.0))
    return out


def test_queueing_equals_a_plain_loop_on_random_walks():
    rng = np.random.default_rng(5)
    for _ in range(20):
        n, nf, frames = int(rng.integers(1, 12)), int(rng.integers(1, 4)), []
        pos = {i: (int(rng.integers(nf)), rng.uniform(0, 10, 2)) for i in range(n)}
        for k in range(int(rng.integers(1, 40))):
            rows = []
            for i in range(n):
                f, xy = pos[i]
                r = rng.random()
                if r < 0.1:
                    continue                      # in a stair for this frame
                if r < 0.2:
                    f = int(rng.integers(nf))     # changed floor
                step = rng.choice([0.0, 0.02, 0.5])  # stand, creep, walk (m per 0.5 s)
                xy = xy + step * rng.standard_normal(2)
                pos[i] = (f, xy)
                rows.append((i, f, float(xy[0]), float(xy[1])))
            frames.append(_frame(0.5 * k, rows))
        tr = {"every_s": 0.5, "agents": [f"p{i}" for i in range(n)], "floors": [f"F{k}" for k in range(nf)],
              "frames": frames}
        got, want = storey_queueing(tr), naive_queueing(tr)
        for fid, (people, total, longest) in want.items():
            assert got[fid]["people"] == people
            assert got[fid]["queue_person_s"] == pytest.approx(total, abs=1e-3)
            if people:
                assert got[fid]["max_s"] == pytest.approx(longest, abs=1e-3)


# -- people out per exit --------------------------------------------------------------------------

def test_people_out_per_exit_equals_the_hand_count():
    result = {"exits": {"E1": {"count": 3}, "E2": {"count": 1}, "E3": {"count": 0}},
              "agents": [{"id": "a", "exit": "E1", "exit_time_s": 0.4}, {"id": "b", "exit": "E1", "exit_time_s": 1.0},
                         {"id": "c", "exit": "E2", "exit_time_s": 1.2}, {"id": "d", "exit": "E1", "exit_time_s": 2.5},
                         {"id": "e", "exit": None, "exit_time_s": None}]}
    f = exit_flow(result)
    assert f["t_s"] == [0.0, 1.0, 2.0, 3.0]
    assert f["exits"] == {"E1": [0, 2, 2, 3], "E2": [0, 0, 1, 1], "E3": [0, 0, 0, 0]}
    assert exit_flow({"exits": {}, "agents": []}) == {"t_s": [0.0], "exits": {}}
    with pytest.raises(ValueError):
        exit_flow(result, step_s=0)


# -- the render ------------------------------------------------------------------------------------

def two_towers():
    """Towers T1 (x 0–20) and T2 (x 40–60), 12 m deep, 3 storeys of 3 m each."""
    floors = [{"id": f"T{b}/S{k}", "elevation_m": 3.0 * k, "walkable": mapping(box(40 * (b - 1), 0, 40 * (b - 1) + 20, 12))}
              for b in (1, 2) for k in range(3)]
    return {"name": "two towers", "floors": floors, "exits": [], "blocked": []}


def test_each_storey_is_drawn_in_its_colour():
    scen = two_towers()
    slabs = slabs_of(scen)
    assert [(s.floor, s.z_m, s.height_m) for s in slabs][:3] == [("T1/S0", 0.0, 3.0), ("T1/S1", 3.0, 3.0),
                                                                 ("T1/S2", 6.0, 3.0)]
    # T2/S1 queues longest (30 s), T1/S0 not at all, T2/S2 had nobody
    values = {"T1/S0": 0.0, "T1/S1": 7.5, "T1/S2": 15.0, "T2/S0": 22.5, "T2/S1": 30.0, "T2/S2": None}
    # probe the middle of each storey's south face (the camera looks from the south-east)
    probes = [(s.footprint.centroid.x, 0.0, s.z_m + 0.4 * s.height_m) for s in slabs]
    img, px = _render_or_fail(slabs, values, vmax=30.0, size=(800, 600), probes=probes)
    assert img.shape == (600, 800, 3) and img.dtype == np.uint8
    got = {s.floor: tuple(int(v) for v in img[r, c]) for s, (c, r) in zip(slabs, px)}
    assert max(abs(a - b) for a, b in zip(got["T2/S1"], DARK_RED)) <= 2, got
    assert max(abs(a - b) for a, b in zip(got["T1/S0"], LIGHT_YELLOW)) <= 2, got
    assert max(abs(a - b) for a, b in zip(got["T2/S2"], _rgb255(NO_DATA_RGB))) <= 2, got
    for fid in ("T1/S1", "T1/S2", "T2/S0"):
        assert max(abs(a - b) for a, b in zip(got[fid], _rgb255(queue_colour(values[fid], 30.0)))) <= 2, (fid, got)
    # the background is white and towers cover part of the picture
    assert tuple(img[2, 2]) == (255, 255, 255)
    assert 0.05 < (img.sum(axis=2) < 3 * 250).mean() < 0.9


# -- the PDF ---------------------------------------------------------------------------------------

def _pages_in(pdf: bytes) -> int:
    return len(re.findall(rb"/Type\s*/Page(?![s\w])", pdf))


def report_inputs(n_buildings: int, exits_per_building: int):
    floors, exits, agents = [], [], []
    for b in range(n_buildings):
        for k in range(3):
            floors.append({"id": f"B{b}/S{k}", "elevation_m": 3.0 * k,
                           "walkable": mapping(box(30 * b, 0, 30 * b + 20, 12))})
        for e in range(exits_per_building):
            exits.append({"id": f"B{b}-E{e}", "floor": f"B{b}/S0", "area": mapping(box(30 * b + e, 0, 30 * b + e + 1, 0.2))})
            agents.append({"id": f"a{b}-{e}", "exit": f"B{b}-E{e}", "exit_time_s": 10.0 + e})
    result = {"schema_version": 1, "name": "hand", "seed": 7, "evacuation_time_s": 10.0 + exits_per_building - 1,
              "evacuated": len(agents), "not_evacuated": 0, "agents": agents,
              "exits": {a["exit"]: {"count": 1, "first_s": a["exit_time_s"], "last_s": a["exit_time_s"]} for a in agents},
              "stairs": {}}
    tr = {"every_s": 0.5, "agents": [a["id"] for a in agents], "floors": [f["id"] for f in floors],
          "frames": [_frame(0.0, [(0, 2, 1.0, 1.0)]), _frame(0.5, [(0, 2, 2.0, 1.0)]), _frame(1.0, [(0, 2, 2.0, 1.0)])]}
    scen = {"name": "hand", "seed": 7, "floors": floors, "exits": exits, "blocked": [exits[0]["id"]]}
    return result, scen, tr


@pytest.mark.parametrize("n_buildings, exits_per_building, pages", [
    # title, summary, exits and stairs (28 rows a page), render, storeys, flows (4 buildings a page)
    (2, 3, 1 + 1 + 1 + 1 + 1 + 1),
    (5, 8, 1 + 1 + 2 + 1 + 1 + 2),     # 40 exits: 2 table pages; 5 buildings: 2 flow pages
])
def test_the_pdf_has_the_expected_pages(tmp_path, n_buildings, exits_per_building, pages):
    result, scen, tr = report_inputs(n_buildings, exits_per_building)
    out = tmp_path / "r.pdf"
    try:
        info = write_report(out, result=result, scenario=scen, trajectories=tr, meta={"drill": "hand"},
                            pages_png=tmp_path / "png")
    except RenderError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"off-screen rendering is unavailable under CI: {exc}")
        pytest.skip(f"no off-screen rendering here: {exc}")
    data = out.read_bytes()
    assert data.startswith(b"%PDF-") and data.rstrip().endswith(b"%%EOF")
    assert _pages_in(data) == pages == len(info["pages"])
    assert info["pages"][0] == "title" and info["pages"][-1] == "exit flows" and "render" in info["pages"]
    assert sorted(p.name for p in (tmp_path / "png").iterdir()) == sorted(f"page-{k}.png" for k in range(1, pages + 1))
    # the one walker on B0/S2 stood for 0.5 s after walking: the storey's figure
    assert info["storeys"]["B0/S2"] == {"people": 1, "queue_person_s": 0.5, "mean_s": 0.5, "max_s": 0.5}
    assert not list(tmp_path.glob("*.tmp"))


def test_labels_are_the_names_people_use():
    import bim
    from services.drill_report import Labels
    from sim.evacuation.builder import scenario_from_community
    from tests.conftest import SAMPLE_SITES
    from twin.naming import SiteNames

    tiny = bim.load(SAMPLE_SITES / "tiny")
    [lobby] = SiteNames(tiny).resolve("1单元 1F 门厅 出口")
    scen = scenario_from_community(tiny, time_of_day="02:00", blocked=[lobby], seed=1)
    lab = Labels.of(tiny, scen)
    assert lab.building("T1") == "1号楼"
    assert lab.blocked(lobby) == lab.exit(lobby) == "1号楼 1单元 1F 门厅 出口"
    assert sorted(lab.floor(f["id"]) for f in scen["floors"]) == ["1号楼 1F", "1号楼 2F", "1号楼 3F"]
    assert {lab.stair(s["id"]) for s in scen["stairs"]} == {"1号楼 1单元 A梯"}
    # no GlobalId-like text among the names
    assert not any(re.fullmatch(r"[0-9A-Za-z_$]{22}", n) for n in [*lab.floors.values(), *lab.exits.values()])
    # without the site, the scenario's own ids are kept
    bare = Labels.of(None, scen)
    assert bare.exit(lobby) == lobby and bare.site == scen["name"]


def test_the_title_names_what_was_blocked():
    import bim
    from services.drill_report import Labels
    from services.drill_report.pdf import title_lines
    from sim.evacuation.builder import scenario_from_community
    from tests.conftest import SAMPLE_SITES
    from twin.naming import SiteNames

    tiny = bim.load(SAMPLE_SITES / "tiny")
    names = SiteNames(tiny)
    [lobby] = names.resolve("1单元 1F 门厅 出口")
    door = names.doors[0]                       # a door: the builder removes its opening, lists nothing
    flights = names.resolve("1单元 A梯")          # every flight of the staircase
    scen = scenario_from_community(tiny, time_of_day="14:30", blocked=[lobby, door.id, *flights], seed=3)
    assert door.id not in scen["blocked"]
    result = {"seed": 3, "evacuated": 10, "not_evacuated": 2,
              "ensemble": {"seeds": [3, 4], "evacuation_times_s": [1.0, 2.0]}}
    meta = {"drill": "abc", "time_of_day": "14:30", "blocked": [lobby, door.id, *flights]}
    lines = dict(title_lines(Labels.of(tiny, scen), result, scen, meta))
    blocked = lines["blocked"].split("、")
    assert "1号楼 1单元 1F 门厅 出口" in blocked and door.full in blocked
    assert {f.full for f in names.stairs if f.id in flights} <= set(blocked)
    assert lines["buildings"] == "1号楼" and lines["site"] == tiny.name
    assert lines["time of day"] == "14:30" and lines["runs"] == "2" and lines["seeds"] == "3, 4"
    assert lines["people"] == "10 evacuated, 2 not"
    # the scenario's own list when the caller names nothing (doors then missing)
    plain = dict(title_lines(Labels.of(tiny, scen), result, scen, {}))
    assert door.full not in plain["blocked"] and "1号楼 1单元 1F 门厅 出口" in plain["blocked"]


def test_the_public_api_is_importable_and_documented():
    from pathlib import Path

    import services.drill_report as rep

    doc = (Path(__file__).resolve().parents[2] / "docs" / "drill-report.md").read_text(encoding="utf-8")
    for name in rep.__all__:
        assert hasattr(rep, name) and f"`{name}" in doc, name
