"""Drill playback in headless Chromium against hand-made trajectories: agents on stairs drawn
along the flight, agents above a cut storey or of a building isolated away hidden, the
density layer's cells, a `twin evacuate --out` result file, side by side without panels over
the halves."""

from __future__ import annotations

import json

import pytest

from services.app import create_app
from services.settings import Settings
from tests.viewer.browser import browser_page, chromium_path, screenshot
from tests.viewer.common import E0, N0, small_community
from tests.viewer.drills import walking_drill
from tests.viewer.server import serve

pytestmark = pytest.mark.browser

STOREY_H = 3.0  # gis_building: storey k at elevation 3 m × k


def stair_drill() -> dict:
    """Agent 0 on B1 2F at (5, 30) until t = 2 s, inside the stair from 2.5 s to 4.5 s (in no
    frame), out on 1F at (7, 30) at t = 5 s; agent 1 stands on 1F at (20, 35) throughout;
    agent 2 stands on B2 1F at (45, 15). Frames every 0.5 s up to 6 s."""
    frames = []
    for k in range(13):
        t = k * 0.5
        i, f, x, y = [], [], [], []
        if t <= 2.0:
            i, f, x, y = [0], [1], [E0 + 5], [N0 + 30]
        elif t >= 5.0:
            i, f, x, y = [0], [0], [E0 + 7], [N0 + 30]
        i += [1, 2]
        f += [0, 2]
        x += [E0 + 20, E0 + 45]
        y += [N0 + 35, N0 + 15]
        frames.append({"t": t, "i": i, "f": f, "x": x, "y": y})
    return {"evacuation_time_s": 6.0, "trajectories": {
        "schema_version": 1, "every_s": 0.5, "agents": ["a0", "a1", "a2"],
        "floors": ["B1/B1-F01", "B1/B1-F02", "B2/B2-F01"], "frames": frames}}


def crowd_drill() -> dict:
    """Four agents inside one 1 m cell (site x 5.1..5.4, y 30.1..30.4) and one alone 10 m
    away, on B1 1F, for 2 s; no density raster, so cells are 1 m."""
    xs = [5.1, 5.2, 5.3, 5.4, 15.5]
    ys = [30.1, 30.2, 30.3, 30.4, 30.5]
    frames = [{"t": t, "i": list(range(5)), "f": [0] * 5, "x": [E0 + v for v in xs], "y": [N0 + v for v in ys]}
              for t in (0.0, 1.0, 2.0)]
    return {"evacuation_time_s": 2.0, "trajectories": {
        "schema_version": 1, "every_s": 1.0, "agents": [f"c{k}" for k in range(5)], "floors": ["B1/B1-F01"],
        "frames": frames}}


def js(value) -> str:
    return json.dumps(value)


@pytest.fixture(scope="module")
def viewer_url(tmp_path_factory):
    chromium_path()
    data = tmp_path_factory.mktemp("viewer-data")
    app = create_app(Settings(data_dir=data), community=small_community())
    with serve(app) as url:
        yield url


@pytest.fixture
def page(viewer_url):
    with browser_page() as p:
        p.goto(viewer_url + "/")
        p.evaluate("window.twinViewer.ready")
        yield p


def test_an_agent_in_a_stair_is_drawn_along_the_flight(page):
    page.evaluate(f"window.twinViewer.loadDrill({js(stair_drill())}, 0, 'stairs')")
    origin = page.evaluate("window.twinViewer.scene().info.origin")
    # t = 3.5 s: half way (in time) from (5, 30) on 2F (3 m) at 2 s to (7, 30) on 1F at 5 s
    page.evaluate("window.twinViewer.seek(3.5)")
    x, y, z = page.evaluate("window.twinViewer.agentPosition(0, 0)")
    assert x == pytest.approx(E0 + 6.0 - origin[0], abs=1e-3)
    assert z == pytest.approx(-(N0 + 30 - origin[1]), abs=1e-3)
    assert y == pytest.approx(1.5 + 0.05, abs=1e-3)  # between 2F (3.05) and 1F (0.05)
    assert page.evaluate("window.twinViewer.agentOnStair(0, 0)") is True
    state = page.evaluate("window.twinViewer.drillState()")[0]
    assert state["agents"] == 3 and state["on_stairs"] == 1
    # before and after the stair it stands on its floors
    page.evaluate("window.twinViewer.seek(1)")
    assert page.evaluate("window.twinViewer.agentPosition(0, 0)")[1] == pytest.approx(STOREY_H + 0.05, abs=1e-3)
    assert page.evaluate("window.twinViewer.drillState()")[0]["on_stairs"] == 0
    page.evaluate("window.twinViewer.seek(5.5)")
    assert page.evaluate("window.twinViewer.agentPosition(0, 0)")[1] == pytest.approx(0.05, abs=1e-3)


def test_agents_above_a_cut_storey_or_of_other_buildings_are_hidden(page):
    page.evaluate(f"window.twinViewer.loadDrill({js(stair_drill())}, 0, 'stairs')")
    page.evaluate("window.twinViewer.seek(1)")
    assert page.evaluate("window.twinViewer.stats().agents") == 3
    page.evaluate("window.twinViewer.showStorey('B1', 'B1-F01')")  # cut B1 above 1F
    page.wait_for_timeout(100)
    assert page.evaluate("window.twinViewer.agentPosition(0, 0)") is None   # on 2F: cut away
    assert page.evaluate("window.twinViewer.agentPosition(0, 1)") is not None
    page.evaluate("window.twinViewer.seek(3.5)")
    assert page.evaluate("window.twinViewer.agentPosition(0, 0)") is None   # in the stair above 1F
    page.evaluate("window.twinViewer.showStorey('B1', 'B1-F02')")
    page.wait_for_timeout(100)
    assert page.evaluate("window.twinViewer.agentPosition(0, 0)") is not None
    page.evaluate("window.twinViewer.isolate('B2')")  # only B2: B1's agents go
    page.wait_for_timeout(100)
    shown = [page.evaluate(f"window.twinViewer.agentPosition(0, {i})") is not None for i in range(3)]
    assert shown == [False, False, True]
    page.evaluate("window.twinViewer.overview()")
    page.wait_for_timeout(100)
    assert page.evaluate("window.twinViewer.stats().agents") == 3


def test_the_density_layer_draws_cells_of_a_crowded_frame(page):
    page.evaluate(f"window.twinViewer.loadDrill({js(crowd_drill())}, 0, 'crowd')")
    page.evaluate("window.twinViewer.heatmap(true); window.twinViewer.seek(1)")
    st = page.evaluate("window.twinViewer.drillState()")[0]
    # by hand: 4 agents in one 1 m² cell = 4 P/m², 1 alone = 1 P/m²: two cells
    assert st["density_cells"] == 2 and st["density_max_p_m2"] == pytest.approx(4.0)
    colours = page.evaluate("""(() => { const m = window.twinViewer.scene().scene.getObjectByName('density:0');
        const c = m.geometry.attributes.color.array; const n = m.geometry.drawRange.count / 6;
        const out = []; for (let k = 0; k < n; k++) out.push(Array.from(c.slice(k * 12, k * 12 + 3)).map(v => Math.round(v * 255)));
        return {n, out, visible: m.visible}; })()""")
    assert colours["visible"] and colours["n"] == 2
    assert [255, 0, 40] in colours["out"]  # 4 P/m²: red (densityColor)
    page.evaluate("window.twinViewer.heatmap(false)")
    assert page.evaluate("window.twinViewer.drillState()")[0]["density_cells"] == 0


def test_a_result_file_without_trajectories_is_accepted(page):
    result = walking_drill()
    del result["trajectories"]
    result["end_time_s"] = 10.0
    page.set_input_files("#drill-file-a", files=[{"name": "night.json", "mimeType": "application/json",
                                                  "buffer": json.dumps(result).encode()}])
    page.wait_for_selector("#drill:not([hidden])", timeout=5000)
    st = page.evaluate("window.twinViewer.drillState()")[0]
    assert st["trajectories"] is False and st["agents"] == 0 and st["duration_s"] == 10.0
    assert page.is_checked("#drill-heat")  # the density is what a result file has to show
    assert "no trajectories" in page.inner_text("#drill-runs")
    planes = page.evaluate("""window.twinViewer.scene().scene.children.filter(o => o.name === 'heatmaps')
        .flatMap(g => g.children.map(c => [c.name, g.visible]))""")
    assert planes == [["heatmap:B1/B1-F01", True]]
    # something that is no drill at all is refused with a message
    page.set_input_files("#drill-file-b", files=[{"name": "x.json", "mimeType": "application/json",
                                                  "buffer": b'{"hello": 1}'}])
    page.wait_for_selector("#toast:not([hidden])", timeout=5000)
    assert "bad drill file" in page.inner_text("#toast")


def test_side_by_side_halves_are_not_under_the_panels(page):
    page.evaluate(f"window.twinViewer.loadDrill({js(walking_drill())}, 0, 'A')")
    page.evaluate(f"window.twinViewer.loadDrill({js(walking_drill(5, speed_mps=0.5, duration_s=20.0))}, 1, 'B')")
    page.evaluate("window.twinViewer.select('device', 'B1-F03-SD1', {fly: false, panel: true})")
    page.wait_for_selector("#panel:not([hidden])", timeout=3000)
    assert page.evaluate("window.twinViewer.compare(true)") is True
    page.wait_for_timeout(300)
    lay = page.evaluate("window.twinViewer.compareLayout()")
    assert {p["id"] for p in lay["panels"]} >= {"side"}
    (a, b) = lay["halves"]
    assert a["right"] == b["left"] and a["right"] - a["left"] == pytest.approx(b["right"] - b["left"], abs=1)
    for half in lay["halves"]:
        for p in lay["panels"]:
            assert half["right"] <= p["left"] + 1 or half["left"] >= p["right"] - 1, (half, p)
    # each label sits over its own half
    for sel, half in (("#compare-a", a), ("#compare-b", b)):
        box = page.evaluate(f"""(() => {{ const r = document.querySelector('{sel}').getBoundingClientRect();
            const c = document.querySelector('#scene').getBoundingClientRect();
            return [r.left - c.left, r.right - c.left]; }})()""")
        assert half["left"] <= (box[0] + box[1]) / 2 <= half["right"]
    screenshot(page, "viewer-compare-clear")
    assert page.evaluate("window.twinViewer.compare(false)") is False
