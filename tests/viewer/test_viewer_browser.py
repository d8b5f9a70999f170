"""The control-room viewer in headless Chromium: load, pixels, click, search, drills."""

from __future__ import annotations

import pytest

from bim.mesh import build_scene
from services.app import create_app
from services.settings import Settings
from tests.viewer.browser import browser_page, chromium_path, screenshot
from tests.viewer.common import E0, N0, parse_glb, small_community
from tests.viewer.drills import walking_drill
from tests.viewer.server import serve

pytestmark = pytest.mark.browser

BACKGROUND = (0xDF, 0xE7, 0xEE)  # the renderer's clear colour


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


def _overview_triangles() -> int:
    doc, _ = parse_glb(build_scene(small_community()).glb)
    return sum(n["extras"]["triangles"] for n in doc["nodes"]
               if n.get("extras", {}).get("lod") == "overview" and "mesh" in n)


def test_ready_stats_and_non_blank_pixels(page):
    stats = page.evaluate("window.twinViewer.ready")
    assert set(stats) == {"meshes", "triangles", "markers", "agents", "fps"}
    # 2 ground layers' worth of features + plate + 2 shells + gate: the GLB's overview nodes
    assert stats["triangles"] == _overview_triangles()
    assert stats["markers"] == 4 and stats["agents"] == 0
    page.wait_for_timeout(1200)
    assert page.evaluate("window.twinViewer.stats().fps") > 0
    # the screenshot of the canvas: pixels that are not the clear colour, and many colours
    from PIL import Image

    path = screenshot(page, "viewer-overview")
    box = page.evaluate("(() => { const r = document.querySelector('#scene').getBoundingClientRect();"
                        " return [r.left, r.top, r.right, r.bottom]; })()")
    img = Image.open(path).convert("RGB").crop(tuple(int(v) for v in box))
    px = list(img.get_flattened_data())[::7] if hasattr(img, 'get_flattened_data') else list(img.getdata())[::7]
    other = sum(1 for p in px if sum(abs(a - b) for a, b in zip(p, BACKGROUND)) > 12)
    assert other > 0.2 * len(px) and len(set(px)) >= 8
    assert not [e for e in page.errors if "pageerror" in e]


def test_clicking_a_device_opens_its_panel(page):
    page.evaluate("window.twinViewer.select('device', 'B1-F03-SD1', {fly: true, panel: false})")
    page.wait_for_timeout(900)  # the fly-to animation lasts 0.6 s
    pos = page.evaluate("window.twinViewer.screenPosition('B1-F03-SD1')")
    page.mouse.click(pos["x"], pos["y"])
    page.wait_for_selector("#panel:not([hidden])[data-id='B1-F03-SD1']", timeout=3000)
    text = page.inner_text("#panel")
    assert "B1-F03-SD1" in text and "smoke_detector" in text
    screenshot(page, "viewer-device-panel")


def test_clicking_a_room_resolves_the_twin_space(page):
    page.evaluate("window.twinViewer.showStorey('B2', 'B2-F02')")
    page.evaluate("window.twinViewer.select('space', 'B2-F02-01', {fly: true, panel: false})")
    page.wait_for_timeout(900)
    target = page.evaluate("window.twinViewer.search('B2-F02-01')[0]")
    assert target["kind"] == "space"
    xy = page.evaluate("""() => { const sc = window.twinViewer.scene();
        const r = sc.canvas.getBoundingClientRect(); return {x: r.left + r.width / 2, y: r.top + r.height / 2}; }""")
    page.mouse.click(xy["x"], xy["y"])  # the view is centred on the room
    page.wait_for_selector("#panel:not([hidden])", timeout=3000)
    assert page.evaluate("window.twinViewer.panel()") == {"kind": "space", "id": "B2-F02-01"}


def test_search_by_unit_room_and_device(page):
    kinds = lambda q: {(r["kind"], r["id"]) for r in page.evaluate(f"window.twinViewer.search({q!r})")}
    assert ("unit", "U-B1-201") in kinds("U-B1-201")
    assert ("device", "B1-F02-01-WM") in kinds("水表")
    assert ("space", "B1-F03-ST") in kinds("B1-F03-ST")
    page.fill("#search", "U-B2-101")
    page.click("#results li")
    page.wait_for_selector("#panel:not([hidden])[data-id='U-B2-101']", timeout=3000)
    assert "80" in page.inner_text("#panel")  # area_m2 of the unit


def test_storey_list_shows_the_names_people_use(page):
    page.evaluate("window.twinViewer.select('building', 'B1')")
    options = page.eval_on_selector_all("#storey option", "els => els.map(e => e.textContent)")
    assert options[1:] == ["6F", "5F", "4F", "3F", "2F", "1F"]   # scene names F1..F6, top first
    assert "B1栋" in page.inner_text("#building")


def test_live_events_colour_markers_and_alarms_flash(page):
    page.evaluate("""window.twinViewer.applyEvent({type: 'event', ts: 't', device_id: 'B1-F01-SD1',
                     kind: 'smoke_detector', event: 'alarm', values: {smoke: true}})""")
    assert page.evaluate("window.twinViewer.markerState('B1-F01-SD1')") == "alarm"
    page.evaluate("""window.twinViewer.applyEvent({type: 'offline', ts: 't', device_id: 'B2-EL1', online: false})""")
    assert page.evaluate("window.twinViewer.markerState('B2-EL1')") == "offline"
    page.evaluate("""window.twinViewer.applyEvent({type: 'alarm', ts: 't', alarm: {id: 'A1', state: 'raised',
                     device_id: 'B1-F03-SD1', severity: 'critical', message: 'smoke B1 3F'}})""")
    assert page.evaluate("window.twinViewer.markerState('B1-F03-SD1')") == "alarm"
    assert page.inner_text("#alarm-count") == "1"
    assert "smoke B1 3F" in page.inner_text("#alarms")


def test_drill_playback_moves_agents_by_hand_positions(page):
    info = page.evaluate(f"window.twinViewer.loadDrill({walking_drill()!r}, 0, 'night')".replace("True", "true"))
    assert info == {"agents": 3, "duration_s": 10.0, "frames": 21}
    origin = page.evaluate("window.twinViewer.scene().info.origin")
    # at t = 2.25 s agent 1 is at x = E0 + 5 + 2.25, y = N0 + 31 (between recorded frames)
    page.evaluate("window.twinViewer.seek(2.25)")
    x, y, z = page.evaluate("window.twinViewer.agentPosition(0, 1)")
    assert x == pytest.approx(E0 + 7.25 - origin[0], abs=1e-3)
    assert z == pytest.approx(-(N0 + 31 - origin[1]), abs=1e-3)
    assert y == pytest.approx(0.05, abs=1e-3)  # floor B1/B1-F01 at elevation 0
    assert page.evaluate("window.twinViewer.stats().agents") == 3
    # playing moves them, never faster than 4 simulated seconds per wall second (the page's
    # own clock; how far it gets on a busy machine is not asserted here)
    w0 = page.evaluate("window.twinViewer.seek(0); window.twinViewer.setSpeed(4); "
                       "window.twinViewer.play(); performance.now()")
    page.wait_for_timeout(1000)
    t, x2, w1 = page.evaluate("window.twinViewer.pause(); [window.twinViewer.time(), "
                              "window.twinViewer.agentPosition(0, 0)[0], performance.now()]")
    assert 0.0 < t <= 4 * (w1 - w0) / 1000 + 0.25
    assert x2 == pytest.approx(E0 + 5 + t - origin[0], abs=1e-3)  # walked 1 m/s for t seconds
    page.evaluate("window.twinViewer.seek(10)")
    assert page.evaluate("window.twinViewer.stats().agents") == 0  # all out
    screenshot(page, "viewer-drill")


def test_heatmap_and_side_by_side_comparison(page):
    drill = walking_drill()
    other = walking_drill(5, speed_mps=0.5, duration_s=20.0)
    js = lambda d: repr(d).replace("True", "true")
    page.evaluate(f"window.twinViewer.loadDrill({js(drill)}, 0, 'A')")
    page.evaluate(f"window.twinViewer.loadDrill({js(other)}, 1, 'B')")
    page.evaluate("window.twinViewer.heatmap(true)")
    assert page.evaluate("window.twinViewer.compare(true)") is True
    page.evaluate("window.twinViewer.seek(1)")
    assert page.evaluate("window.twinViewer.stats().agents") == 8
    labels = page.inner_text("#compare-labels")
    assert "10" in labels and "20" in labels
    # heatmap texture: cell (i=1, j=1) is 4.5 P/m² → red; cell (0, 0) is 0 → transparent
    texel = page.evaluate("""() => { const s = window.twinViewer.scene().scene;
        const g = s.children.find(o => o.name === 'heatmaps' && o.children.length);
        const d = g.children[0].material.map.image.data; const nx = 3;
        const at = (i, j) => Array.from(d.slice((j * nx + i) * 4, (j * nx + i) * 4 + 4));
        return {hot: at(1, 1), empty: at(0, 0)}; }""")
    assert texel["hot"][0] == 255 and texel["hot"][1] < 60 and texel["empty"][3] == 0
    page.wait_for_timeout(400)
    screenshot(page, "viewer-compare")
    assert page.evaluate("window.twinViewer.compare(false)") is False


def test_pages_and_static_files_are_served(viewer_url):
    import httpx

    with httpx.Client(base_url=viewer_url) as c:
        assert "importmap" in c.get("/").text
        assert c.get("/viewer/three/build/three.module.js").status_code == 200
        assert c.get("/viewer/app/../../pyproject.toml").status_code == 404
        assert c.get("/viewer/three/../../../pyproject.toml").status_code == 404
        glb = c.get("/api/scene.glb")
        assert glb.content[:4] == b"glTF" and glb.headers["content-type"] == "model/gltf-binary"
        assert c.get("/api/scene.glb", headers={"If-None-Match": glb.headers["etag"]}).status_code == 304
        idx = c.get("/api/scene/index").json()
        assert "138-0000" not in str(idx) and {d["id"] for d in idx["devices"]} >= {"B1-F01-SD1"}


@pytest.mark.parametrize("mode", ["instanced", "merged"])
def test_both_agent_renderings_place_agents_alike(viewer_url, mode):
    """InstancedMesh (GPUs) and the merged buffer (software WebGL) put agents at the same spots."""
    with browser_page() as page:
        page.goto(f"{viewer_url}/?agents={mode}")
        page.evaluate("window.twinViewer.ready")
        page.evaluate(f"window.twinViewer.loadDrill({walking_drill(4)!r}, 0, 'x')".replace("True", "true"))
        origin = page.evaluate("window.twinViewer.scene().info.origin")
        page.evaluate("window.twinViewer.seek(4.5)")
        kind = page.evaluate("""(() => { const m = window.twinViewer.scene().scene.getObjectByName('agents:0');
            return m.isInstancedMesh ? ['instanced', m.count] : ['merged', m.geometry.drawRange.count / 9]; })()""")
        assert kind == [mode, 4]
        for i in range(4):
            x, _, z = page.evaluate(f"window.twinViewer.agentPosition(0, {i})")
            assert x == pytest.approx(E0 + 9.5 - origin[0], abs=1e-3)
            assert z == pytest.approx(-(N0 + 30 + i - origin[1]), abs=1e-3)
