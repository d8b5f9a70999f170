"""The control room in headless Chromium under the real CSP: work orders on the model, alarm →
order links, live work-order events, the critical-alarm cue and its mute, escalation, the
KPI strip, toggles, and the screenshots of docs/ (TWIN_UPDATE_SCREENSHOTS=1 rewrites them)."""

from __future__ import annotations

import json
import secrets
import time
import uuid
from datetime import timedelta
from types import SimpleNamespace

import httpx
import pytest
import sqlalchemy as sa
from pwdlib import PasswordHash

from services.app import create_app
from services.db import utcnow
from services.dbcomponent import DatabaseComponent
from services.live_component import LiveComponent
from services.models import Notification, User, UserUnit
from services.runtime import _add_consumers
from services.settings import Settings
from services.workorders.models import WorkOrder
from tests.viewer.browser import browser_page, chromium_path, doc_screenshot
from tests.viewer.common import small_community
from tests.viewer.drills import walking_drill
from tests.viewer.server import serve
from tests.viewer.test_live_e2e import Publisher

pytestmark = [pytest.mark.browser, pytest.mark.mqtt]
PASSWORD = "control-room-42"
OPEN = ("reported", "assigned", "in_progress", "on_hold", "reopened")  # docs/workorders.md


@pytest.fixture
def room(tmp_path, mqtt_url):
    """The service with database, live ingestion (Mosquitto) and the alarm → order consumer."""
    chromium_path()
    c = small_community()
    c.name = f"cr{uuid.uuid4().hex[:8]}"  # a topic space of its own on the shared broker
    settings = Settings(db_url=f"sqlite:///{tmp_path / 'twin.sqlite'}", data_dir=tmp_path / "data",
                        secret_key=secrets.token_hex(16), site=tmp_path / "no-site", mqtt_url=mqtt_url,
                        alarm_escalate_after_min=0.02)  # 1.2 s: the test watches one escalate
    db = DatabaseComponent(sla_interval_s=0)
    live = LiveComponent(settings, c, client_id=f"ing-{c.name}")
    live.escalation_every_s = 0.3
    _add_consumers(live, db, c)
    app = create_app(settings, community=c, components=[db, live])
    with serve(app) as url:
        digest = PasswordHash.recommended().hash(PASSWORD)
        with app.state.db.transaction() as s:
            for name, role, units in (("admin", "admin", []), ("operator", "operator", []),
                                      ("owner201", "owner", ["U-B1-201"])):
                user = User(username=name, password_hash=digest, role=role)
                s.add(user)
                s.flush()
                s.add_all(UserUnit(user_id=user.id, unit_id=u) for u in units)
        client = httpx.Client(base_url=url, timeout=30)
        token = client.post("/api/auth/token", data={"username": "operator", "password": PASSWORD}).json()
        client.headers["Authorization"] = f"Bearer {token['access_token']}"
        yield SimpleNamespace(url=url, client=client, app=app, live=live, community=c, token=token["access_token"])
        client.close()


def _open_page(page, room, *, login=True):
    if login:
        page.add_init_script("sessionStorage.setItem('twin.auth', " + json.dumps(json.dumps(
            {"token": room.token, "role": "operator", "user": "operator"})) + ")")
    page.goto(room.url + "/")
    page.evaluate("window.twinViewer.ready")


def _raise(room, aid, severity, *, device="B1-F01-SD1", work_order=None, message=None):
    d = room.community.device(device)
    return room.live.book.raise_(rule_id=f"rule-{aid}", key=f"{aid}-key", severity=severity,
                                 message=message or f"{severity} {aid}", at=time.time(),
                                 place={"device_id": d.id, "building": d.building_id, "storey": d.storey_id,
                                        "space": d.space_id}, work_order=work_order)


def _orders(room, n, spaces=("B1-F01-ST", "B2-F02-ST", "B1-F03-ST")):
    made = [room.client.post("/api/work-orders", json={"description": f"楼道灯不亮 {k}", "category": "保洁",
                                                       "location": {"space_id": sp}}).json()
            for k, sp in enumerate(spaces[:n])]
    assert all("id" in o for o in made), made
    return [o["id"] for o in made]


def _errors(page):
    return [e for e in page.errors if not e.startswith("Failed to load resource")]


def test_open_orders_are_markers_and_a_click_opens_the_order(room):
    ids = _orders(room, 3)
    for to in ("assigned", "in_progress", "completed"):  # the last one is done: no marker
        body = {"to": to, **({"assignee": "W-PLUMB-1"} if to == "assigned" else {})}
        assert room.client.post(f"/api/work-orders/{ids[2]}/transitions", json=body).status_code == 200
    with browser_page(1600, 900, bypass_csp=False) as page:
        _open_page(page, room)
        page.wait_for_selector("#scene[data-orders='2']", timeout=10_000)
        pins = page.evaluate("window.twinViewer.orderMarkers()")
        assert sorted(p["id"] for p in pins) == sorted(ids[:2])
        # a new order over the WebSocket (no reload, no poll): a third pin
        [new] = _orders(room, 1, spaces=("B2-F01-ST",))
        page.wait_for_selector("#scene[data-orders='3']", timeout=10_000)
        pin = next(p for p in page.evaluate("window.twinViewer.orderMarkers()") if p["id"] == new)
        page.mouse.click(pin["x"], pin["y"] + 3)
        page.wait_for_selector(f"#board-focus[data-wo='{new}']", timeout=10_000)
        assert f"#{new}" in page.inner_text("#board-focus")
        assert page.get_attribute("#board-toggle", "aria-pressed") == "true"
        assert not _errors(page)


def test_an_alarm_that_opened_an_order_links_to_it(room):
    with browser_page(1600, 900, bypass_csp=False) as page:
        _open_page(page, room)
        page.wait_for_function("document.querySelector('#live').dataset.state === 'connected'", timeout=10_000)
        alarm = _raise(room, "leak", "major", work_order={"category": "给排水", "priority": "urgent"},
                       message="楼道漏水 water on the stairs")
        # the consumer opens the order; its live event links the alarm in the list
        link = f"[data-alarm='{alarm.id}'] [data-wo-link]"
        page.wait_for_selector(link, timeout=15_000)
        wo_id = int(page.get_attribute(link, "data-wo-link"))
        order = room.client.get(f"/api/work-orders/{wo_id}").json()
        assert order["alarm_id"] == alarm.id and order["source"] == "alarm"
        api_alarm = next(a for a in room.client.get("/api/live/alarms?state=open").json() if a["id"] == alarm.id)
        assert api_alarm["work_order_id"] == str(wo_id)
        page.click(link)
        page.wait_for_selector(f"#board-focus[data-wo='{wo_id}']", timeout=10_000)
        assert alarm.id in page.inner_text("#board-focus")
        assert not _errors(page)


def test_a_critical_alarm_sounds_the_cue_until_muted_and_escalates(room):
    with browser_page(1600, 900, bypass_csp=False) as page:
        _open_page(page, room)
        page.wait_for_function("document.querySelector('#live').dataset.state === 'connected'", timeout=10_000)
        assert page.get_attribute("#mute", "aria-pressed") == "false"
        minor = _raise(room, "door", "warning")
        page.wait_for_selector(f"[data-alarm='{minor.id}']", timeout=10_000)
        assert page.evaluate("window.twinViewer.cues()")["played"] == 0  # not critical: silent
        fire = _raise(room, "smoke", "critical", message="烟感报警 smoke")
        page.wait_for_selector(f"[data-alarm='{fire.id}']", timeout=10_000)
        assert page.evaluate("window.twinViewer.cues()")["played"] >= 1
        # nobody acknowledges it: escalated (event, list mark, a message to each admin)
        page.wait_for_selector(f"[data-alarm='{fire.id}'].escalated", timeout=15_000)
        played = page.evaluate("window.twinViewer.cues()")["played"]
        assert played == 2  # raised, then escalated
        with room.app.state.db.transaction(write=False) as s:
            rows = s.execute(sa.select(Notification.recipient).where(Notification.kind == "alarm_escalation",
                                                                     Notification.ref == fire.id)).all()
        assert [r[0] for r in rows] == ["admin"]
        assert next(a for a in room.client.get("/api/live/alarms").json() if a["id"] == fire.id)["escalated_at"]
        assert minor.id not in {r.ref for r in _notes(room)}
        page.click("#mute")
        assert page.get_attribute("#mute", "aria-pressed") == "true"
        second = _raise(room, "smoke2", "critical", device="B1-F03-SD1")
        page.wait_for_selector(f"[data-alarm='{second.id}']", timeout=10_000)
        cues = page.evaluate("window.twinViewer.cues()")
        assert cues["played"] == played and cues["suppressed"] >= 1 and cues["muted"] is True
        page.reload()  # the mute is remembered
        page.evaluate("window.twinViewer.ready")
        assert page.get_attribute("#mute", "aria-pressed") == "true"
        assert not _errors(page)


def _notes(room):
    with room.app.state.db.transaction(write=False) as s:
        return list(s.scalars(sa.select(Notification).where(Notification.kind == "alarm_escalation")))


def test_kpi_strip_equals_independent_counts_and_refreshes_on_login(room):
    ids = _orders(room, 3)
    with room.app.state.db.transaction() as s:  # one order 2 h past its response deadline
        s.get(WorkOrder, ids[0]).respond_by = utcnow() - timedelta(hours=2)
    assert room.client.post(f"/api/work-orders/{ids[2]}/transitions", json={"to": "cancelled"}).status_code == 200
    _raise(room, "k1", "major")
    _raise(room, "k2", "minor", device="B1-F03-SD1")
    pub = Publisher(room.app.state.settings.mqtt_url)
    try:
        pub.publish(f"twin/{room.community.name}/B2-EL1/status", {"ts": time.time(), "online": False})
    finally:
        pub.close()
    deadline = time.monotonic() + 10
    while not any(d["online"] is False for d in room.client.get("/api/live/devices").json()):
        assert time.monotonic() < deadline, "the status message was not applied"
        time.sleep(0.2)
    with room.app.state.db.transaction(write=False) as s:  # counted here from the rows, not the API
        open_orders = s.scalar(sa.select(sa.func.count()).select_from(WorkOrder).where(WorkOrder.status.in_(OPEN)))
    assert open_orders == 2
    occupancy = room.client.get("/api/live/occupancy").json()
    people = round(sum(b["people"] for b in occupancy["buildings"]))
    with browser_page(1600, 900, bypass_csp=False) as page:
        _open_page(page, room, login=False)
        assert page.inner_text("[data-kpi='open_alarms'] b") == "—"  # nothing before login
        page.fill("#login-form input[name=u]", "operator")
        page.fill("#login-form input[name=p]", PASSWORD)
        page.click("#login-form button")
        page.wait_for_selector("#kpi[data-loaded]", timeout=10_000)  # no reload
        kpi = {k: page.inner_text(f"[data-kpi='{k}'] b") for k in
               ("open_alarms", "open_orders", "sla_breaches", "devices_offline", "occupancy")}
        # the alarms: the two raised here and what the rules raised for the offline lift (if any),
        # counted from the alarm records the server lists
        listed = room.client.get("/api/live/alarms?state=open").json()
        assert {"k1-key", "k2-key"} <= {a["key"] for a in listed}
        assert all(a["device_id"] == "B2-EL1" for a in listed if a["key"] not in ("k1-key", "k2-key"))
        assert kpi == {"open_alarms": str(len(listed)), "open_orders": "2", "sla_breaches": "1",
                       "devices_offline": "1", "occupancy": str(people)}
        # the alarm panel refreshed on login too
        assert len(page.evaluate("window.twinViewer.alarmOrder()")) == len(listed)
        assert not _errors(page)


def test_toggles_show_their_state_and_search_follows_isolation(room):
    with browser_page(1600, 900, bypass_csp=False) as page:
        _open_page(page, room)
        for t in ("#open", "#isolate", "#mute"):
            assert page.get_attribute(t, "aria-pressed") == "false"
        page.select_option("#building", "B1")
        page.click("#open")
        assert page.get_attribute("#open", "aria-pressed") == "true"
        page.click("#isolate")
        assert page.get_attribute("#isolate", "aria-pressed") == "true"
        # searching into another building while isolated shows that building, not empty ground
        page.evaluate("window.twinViewer.select('space', 'B2-F02-01', {fly: true, panel: false})")
        assert page.evaluate("window.twinViewer.scene().isolated") == "B2"
        assert page.evaluate("window.twinViewer.scene().buildingVisible('B2')") is True
        page.click("#overview")
        assert page.get_attribute("#isolate", "aria-pressed") == "false"
        assert page.get_attribute("#open", "aria-pressed") == "false"
        assert not _errors(page)


def test_screenshots_of_the_control_room_board_drill_and_owner_page(room):
    """The pictures of README.md and docs/viewer.md (looked at by a person before committing)."""
    ids = _orders(room, 3)
    with room.app.state.db.transaction() as s:
        s.get(WorkOrder, ids[0]).respond_by = utcnow() - timedelta(hours=2)
    _raise(room, "s1", "critical", message="烟感报警 smoke 3F", device="B1-F03-SD1")
    _raise(room, "s2", "major", message="电梯困人 trapped", device="B2-EL1")
    with browser_page(1600, 900, bypass_csp=False) as page:
        _open_page(page, room)
        page.wait_for_selector("#scene[data-orders='3']", timeout=10_000)
        page.wait_for_selector("#kpi[data-loaded]", timeout=10_000)
        page.wait_for_timeout(500)
        doc_screenshot(page, "control-room")
        page.click("#board-toggle")
        page.wait_for_selector(f"#board-list [data-wo='{ids[0]}']", timeout=10_000)
        doc_screenshot(page, "board")
        page.click("#board-close")
        drill = walking_drill(n_agents=12, duration_s=20.0)
        page.evaluate("(d) => window.twinViewer.loadDrill(d, 0, 'drill.json')", drill)
        page.check("#drill-heat")
        page.evaluate("window.twinViewer.seek(8)")
        page.evaluate("""() => { const v = window.twinViewer, sc = v.scene(), p = v.agentPosition(0, 6);
            sc.controls.target.set(p[0], p[1], p[2]); sc.camera.position.set(p[0] + 12, p[1] + 38, p[2] + 30);
            sc.controls.update(); }""")
        page.wait_for_timeout(400)
        doc_screenshot(page, "drill")
        assert not _errors(page)
    for month in ("2026-09", "2026-10"):
        admin = httpx.post(room.url + "/api/auth/token", data={"username": "admin", "password": PASSWORD}).json()
        r = httpx.post(room.url + "/api/billing/runs", json={"month": month},
                       headers={"Authorization": f"Bearer {admin['access_token']}"}, timeout=30)
        assert r.status_code == 200, r.text
    with browser_page(390, 844, mobile=True, bypass_csp=False) as page:
        page.goto(room.url + "/owner")
        page.fill("input[name=username]", "owner201")
        page.fill("input[name=password]", PASSWORD)
        page.click("#login-form button")
        page.wait_for_selector("#bill-list .bill", timeout=10_000)
        page.wait_for_timeout(300)
        doc_screenshot(page, "owner-page")


def test_lift_badges_never_overlap_and_hide_behind_buildings(tmp_path):
    """Three lifts in one lift hall (the same place on screen) and one seen through another tower."""
    from twin.model import Device

    chromium_path()
    c = small_community()
    c.devices += [Device(id=f"B2-EL{k}", kind="elevator_controller", name=f"电梯 {k}", building_id="B2",
                         storey_id="B2-F01", space_id="B2-F01-ST") for k in (2, 3)]
    c.validate()
    app = create_app(Settings(data_dir=tmp_path / "data", secret_key=secrets.token_hex(16)), community=c)
    with serve(app) as url, browser_page(1600, 900, bypass_csp=False) as page:
        page.goto(url + "/")
        page.evaluate("window.twinViewer.ready")
        page.wait_for_timeout(500)
        badges = page.evaluate("window.twinViewer.badges()")
        shown = [b for b in badges if b["shown"]]
        assert len(badges) == 3 and shown  # the three lifts share one spot: at least one is shown
        for i, a in enumerate(shown):
            for b in shown[i + 1:]:
                ra, rb = a["rect"], b["rect"]
                assert (ra["x"] + ra["w"] <= rb["x"] or rb["x"] + rb["w"] <= ra["x"]
                        or ra["y"] + ra["h"] <= rb["y"] or rb["y"] + rb["h"] <= ra["y"]), (a, b)
        assert all(b["why"] == "overlap" for b in badges if not b["shown"])
        # from low behind the 18 m tower B1, B2's lifts (9 m roof) are out of sight
        hidden = page.evaluate("""() => { const sc = window.twinViewer.scene();
            const Vec = sc.camera.position.constructor;
            const centre = (id) => { const n = sc.buildings.get(id).node; let lo = [1e9, 1e9, 1e9], hi = [-1e9, -1e9, -1e9];
              n.updateMatrixWorld(true);
              n.traverse((o) => { if (!o.isMesh) return; const a = o.geometry.attributes.position;
                for (let i = 0; i < a.count; i++) { const v = new Vec(a.getX(i), a.getY(i), a.getZ(i)).applyMatrix4(o.matrixWorld);
                  lo = [Math.min(lo[0], v.x), Math.min(lo[1], v.y), Math.min(lo[2], v.z)];
                  hi = [Math.max(hi[0], v.x), Math.max(hi[1], v.y), Math.max(hi[2], v.z)]; } });
              return new Vec((lo[0] + hi[0]) / 2, lo[1], (lo[2] + hi[2]) / 2); };
            const a = centre('B1'), b = centre('B2');
            const away = a.clone().sub(b).setY(0).normalize();
            sc.camera.position.copy(a.clone().add(away.multiplyScalar(25)).setY(a.y + 4));
            sc.controls.target.copy(b.clone().setY(b.y + 9));
            sc.controls.update();
            return true; }""")
        assert hidden
        deadline = time.monotonic() + 10  # occlusion is re-tested at most 5 times a second
        while True:
            after = page.evaluate("window.twinViewer.badges()")
            if [b["why"] for b in after] == ["occluded"] * 3 or time.monotonic() > deadline:
                break
            page.wait_for_timeout(200)
        assert [b["why"] for b in after] == ["occluded"] * 3, after
        page.evaluate("window.twinViewer.overview()")
        deadline = time.monotonic() + 10
        while not any(b["shown"] for b in page.evaluate("window.twinViewer.badges()")):
            assert time.monotonic() < deadline, "no badge came back in the overview"
            page.wait_for_timeout(200)
        assert not _errors(page)
