"""Drills from the viewer, end to end: `twin serve` on the tiny site (real Mosquitto, SQLite),
a planner logs in under the real CSP, starts a drill from the drill panel, follows it over the
WebSocket, plays it back with agents drawn on the stair; blocking the tower's only stair by
name (1号楼 1单元 A梯, picked from the list) changes the tower's evacuation time.

The tiny site (docs/sample-sites.md): tower T1, storeys 1F/2F/3F at 0 / 2.9 / 5.8 m, one
staircase "1单元 A梯" (flights 1F-2F and 2F-3F), exits "1单元 1F A梯 出口" and
"1单元 1F 门厅 出口".
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import httpx
import pytest

from tests.conftest import REPO, SAMPLE_SITES, SERVE_SECRETS, TEST_PASSWORD, free_port, make_user
from tests.viewer.browser import browser_page, chromium_path, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.mqtt]

STAIRCASE = "1号楼 1单元 A梯"  # the staircase by its full name (docs/site-format.md)
LOBBY_EXIT = "1号楼 1单元 1F 门厅 出口"
DRILL_TIMEOUT_S = 600  # two busy cores: a worker process starts, loads numba, runs


@pytest.fixture(scope="module")
def served(tmp_path_factory, mqtt_url):
    chromium_path()
    tmp = tmp_path_factory.mktemp("drill-panel")
    port = free_port()
    env = {**os.environ, **SERVE_SECRETS, "TWIN_MQTT_URL": mqtt_url, "TWIN_DATA_DIR": str(tmp / "data"),
           "TWIN_DB_URL": f"sqlite:///{tmp / 'twin.sqlite'}"}
    env.pop("TWIN_DASK_SCHEDULER", None)  # local worker processes
    make_user(env["TWIN_DB_URL"], "planner", "planner")
    make_user(env["TWIN_DB_URL"], "op", "operator")
    proc = subprocess.Popen([sys.executable, "-m", "services", "serve", "--site", str(SAMPLE_SITES / "tiny"),
                             "--port", str(port)], cwd=REPO, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while True:
        try:
            if httpx.get(url + "/api/health", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"twin serve did not become healthy: {proc.stderr.read()[-2000:]}")
        time.sleep(0.3)
    yield url
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()


def _login(page, url, user):
    page.goto(url + "/")
    page.evaluate("window.twinViewer.ready")
    page.fill("#login-form input[name=u]", user)
    page.fill("#login-form input[name=p]", TEST_PASSWORD)
    page.click("#login-form button")
    page.wait_for_selector("#logout", timeout=20_000)


def _poll(page, expr: str, ok, timeout_s: float, what: str):
    """Evaluate ``expr`` until ``ok(value)`` (no string-eval waiting helpers under the CSP)."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = page.evaluate(expr)
        if ok(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: last {value!r}")
        page.wait_for_timeout(500)


def _start(page) -> str:
    before = {j["id"] for j in page.evaluate("window.twinViewer.drills().jobs")}
    page.click("#drill-start")
    jobs = _poll(page, "window.twinViewer.drills().jobs", lambda js: {j["id"] for j in js} - before, 60,
                 "the drill was not accepted: " + page.inner_text("#drill-msg"))
    [new] = [j["id"] for j in jobs if j["id"] not in before]
    return new


def _done(page, drill_id: str) -> dict:
    seen = []

    def ok(jobs):
        [j] = [j for j in jobs if j["id"] == drill_id]
        seen.append(j["progress"] or 0)
        return j["status"] in ("done", "failed")
    _poll(page, "window.twinViewer.drills().jobs", ok, DRILL_TIMEOUT_S, f"drill {drill_id} did not finish")
    [j] = [j for j in page.evaluate("window.twinViewer.drills().jobs") if j["id"] == drill_id]
    assert j["status"] == "done", page.inner_text(f".drill-row[data-drill='{drill_id}']")
    assert seen == sorted(seen), f"progress went backwards: {seen}"
    return j


def _token(url: str) -> dict:
    r = httpx.post(url + "/api/auth/token", data={"username": "planner", "password": TEST_PASSWORD})
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def test_only_planners_and_admins_get_the_drill_panel(served):
    with browser_page(bypass_csp=False) as page:
        _login(page, served, "op")
        assert page.is_hidden("#drills-toggle")


def test_a_drill_started_from_the_viewer_plays_back_with_agents_on_the_stair(served):
    url = served
    with browser_page(1600, 900, bypass_csp=False) as page:
        _login(page, url, "planner")
        assert page.is_visible("#drills-toggle")
        page.click("#drills-toggle")
        page.wait_for_selector("#drill-form", timeout=10_000)
        _poll(page, "window.twinViewer.liveConnected()", bool, 30, "the live feed did not connect")
        # scope: the tower (1号楼); 2 am; one run
        assert "1号楼" in page.inner_text("#drills fieldset")  # T1 by the name people use
        page.check("#drills input[name=building][value=T1]")
        assert not page.is_checked("#drills input[name=site]")
        page.fill("#drills input[name=tod]", "02:00")
        page.fill("#drills input[name=runs]", "1")
        # fire location: an open alarm's room is offered; a room picked on the model (a detector)
        lobby = page.evaluate("window.twinViewer.search('T1-U1-F01-LOBBY').find(r => r.kind === 'space').id")
        page.evaluate("""window.twinViewer.applyEvent({type: 'alarm', ts: 't', alarm: {id: 'A9', state: 'raised',
                         device_id: 'T1-U1-F01-SD1', severity: 'critical', message: 'smoke 1F'}})""")
        values = page.eval_on_selector_all("#drills select[name=fire] option", "os => os.map(o => o.value)")
        assert lobby in values
        page.click("#drills [data-pick='fire']")
        page.evaluate("window.twinViewer.select('device', 'T1-U1-F02-SD1', {fly: true, panel: false})")
        page.wait_for_timeout(2000)  # the fly-to lasts 0.6 s of frames
        xy = page.evaluate("window.twinViewer.screenPosition('T1-U1-F02-SD1')")
        page.mouse.click(xy["x"], xy["y"])
        hall = page.evaluate("window.twinViewer.search('T1-U1-F02-HALL').find(r => r.kind === 'space').id")
        assert page.evaluate("window.twinViewer.drills().fire") == hall, page.inner_text("#drill-msg")
        page.select_option("#drills select[name=fire]", "")  # this drill: no fire
        page.evaluate("window.twinViewer.overview()")
        base = _start(page)
        _done(page, base)
        state = page.evaluate("window.twinViewer.drills()")
        assert state["events"] >= 2  # queued/running/done came over the WebSocket
        # playback of the record: its trajectories and its density
        page.click(f".drill-row[data-drill='{base}'] [data-open='0']")
        run = _poll(page, "window.twinViewer.drillState()", lambda s: len(s) == 1, 30, "no playback")[0]
        assert run["trajectories"] is True and run["duration_s"] > 0
        origin = page.evaluate("window.twinViewer.scene().info.origin")
        floor_y = [e - origin[2] + 0.05 for e in (0.0, 2.9, 5.8)]  # the tower's storeys (site-format)
        on_stairs, crowded = [], (0, -1.0)
        t = 0.0
        while t <= run["duration_s"]:
            s = page.evaluate(f"window.twinViewer.seek({t}); window.twinViewer.drillState()[0]")
            if s["on_stairs"]:
                on_stairs.append(t)
            if s["agents"] > crowded[0]:
                crowded = (s["agents"], t)
            t += 2.0
        assert on_stairs, "no agent was ever drawn on the stair"
        # an agent on the stair is between two storeys, on none of them
        page.evaluate(f"window.twinViewer.seek({on_stairs[len(on_stairs) // 2]})")
        n = run["n"]
        ys = [page.evaluate(f"window.twinViewer.agentPosition(0, {i})")[1]
              for i in range(n) if page.evaluate(f"window.twinViewer.agentOnStair(0, {i})")]
        assert ys
        for y in ys:
            assert floor_y[0] < y < floor_y[2] and min(abs(y - f) for f in floor_y) > 1e-3, y
        # the density layer has cells in the most crowded frame
        page.evaluate(f"window.twinViewer.heatmap(true); window.twinViewer.seek({crowded[1]})")
        s = page.evaluate("window.twinViewer.drillState()[0]")
        assert s["density_cells"] > 0 and s["density_max_p_m2"] > 0
        # cut the tower above 1F: nobody is drawn above it
        storeys = page.evaluate("window.twinViewer.scene().buildings.get('T1').storeys.map(s => s.id)")
        page.evaluate(f"window.twinViewer.showStorey('T1', {storeys[0]!r})")
        drawn = [page.evaluate(f"window.twinViewer.agentPosition(0, {i})") for i in range(n)]
        assert all(p[1] <= floor_y[0] + 0.5 for p in drawn if p is not None)
        screenshot(page, "drill-panel-playback")
        page.evaluate("window.twinViewer.overview()")

        # an exit picked on the model: the lobby exit's marker, clicked with the tower cut at 1F
        page.click("#drills [data-pick='block']")
        [ex] = [r for r in page.evaluate("window.twinViewer.search('门厅 出口')") if r["kind"] == "exit_door"]
        where = page.evaluate(f"window.twinViewer.select('exit_door', {ex['id']!r}, {{fly: true, panel: false}})")
        page.evaluate(f"window.twinViewer.flyTo({json.dumps(where['pos'])}, 20)")
        xy = page.evaluate(f"window.twinViewer.scene().toScreen({json.dumps(where['pos'])})")
        page.mouse.click(xy["x"], xy["y"])
        assert page.evaluate("window.twinViewer.drills().blocked") == [LOBBY_EXIT], page.inner_text("#drill-msg")
        page.uncheck(f"#drill-block-list input[data-name='{LOBBY_EXIT}']")
        assert page.evaluate("window.twinViewer.drills().blocked") == []
        page.evaluate("window.twinViewer.overview()")

        # the same drill with the only staircase blocked, chosen by its name from the list
        page.fill("#drills input[name=filter]", "A梯")
        page.check(f"#drill-block-list input[data-name='{STAIRCASE}']")
        assert page.evaluate("window.twinViewer.drills().blocked") == [STAIRCASE]
        blocked = _start(page)
        _done(page, blocked)
        page.click(f".drill-row[data-drill='{blocked}'] [data-open='1']")  # B: side by side
        _poll(page, "window.twinViewer.drillState()", lambda s: len(s) == 2, 30, "no comparison")
        lay = page.evaluate("window.twinViewer.compareLayout()")
        for half in lay["halves"]:
            for p in lay["panels"]:
                assert half["right"] <= p["left"] + 1 or half["left"] >= p["right"] - 1, (half, p)
        screenshot(page, "drill-panel-compare")

    # API level: the two drill records and the tower's times
    h = _token(url)
    a = httpx.get(f"{url}/api/drills/{base}", headers=h).json()
    b = httpx.get(f"{url}/api/drills/{blocked}", headers=h).json()
    assert a["request"]["buildings"] == ["T1"] and a["request"]["block"] == []
    assert b["request"]["buildings"] == ["T1"] and b["request"]["block"] == [STAIRCASE]
    ra, rb = a["result"], b["result"]
    # blocked: no flight is used, everybody above 1F is cut off (same people, same seed)
    assert sum(v["count"] for v in rb["stairs"].values()) == 0
    assert any(v["count"] > 0 for v in ra["stairs"].values())
    assert rb["unreachable"] > 0 and rb["evacuated"] + rb["unreachable"] == ra["evacuated"]
    ta, tb = ra["buildings"]["T1"]["evacuation_time_s"], rb["buildings"]["T1"]["evacuation_time_s"]
    assert ta is not None and tb is not None and tb != ta
    # per stair: the flights used were used within the drill
    used = {k: v for k, v in ra["buildings"]["T1"]["stairs"].items() if v["count"]}
    assert used and all(0 <= v["first_s"] < v["last_s"] <= ta for v in used.values())
