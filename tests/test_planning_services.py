"""Planning wired into the services: elevator risk and cleaning status endpoints, and the
preventive work orders filed from risk scores and cleaning plans (SQLite and PostgreSQL).

The site is ``sample_sites/tiny``: one tower ``T1`` with one elevator (IFC id
``0_9rJ1n_rS6ftUkA60yhvo``, name ``T1-U1-E1``) and its controller device ``T1-U1-E1-EC``
(in the ground-floor lobby), three floors each with a lobby/elevator hall and a stair,
cleaner ``S005`` and elevator technician ``S003`` in the staff register.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from fastapi.testclient import TestClient

from services.app import create_app
from services.dbcomponent import DatabaseComponent
from services.models import User
from services.planning import (CleaningDay, cleaning_status, open_preventive_work_orders,
                               risk_log_path)
from services.settings import Settings
from services.workorders.models import WorkOrder
from sim.cleaning.crews import SoilState
from sim.cleaning.soiling import SoilParams
from sim.elevators.risk import Risk, RiskLog, work_order_requests
from tests.conftest import SAMPLE_SITES, run_cli

PASSWORD = "correct-horse-9"
USERS = {"admin": ("admin", None), "owner": ("owner", None), "cleaner": ("staff", "S005")}
TINY = SAMPLE_SITES / "tiny"
ELEVATOR_ID = "0_9rJ1n_rS6ftUkA60yhvo"
CONTROLLER = "T1-U1-E1-EC"
LOBBY = "0OLBx6qUnG5A9TrJkM1jMH"  # space of T1-U1-F01-LOBBY, where the controller sits


@pytest.fixture(scope="module")
def tiny():
    from bim import load

    if not TINY.is_dir():
        pytest.skip("sample_sites/tiny is absent")
    return load(TINY)


@pytest.fixture(scope="module")
def password_hash() -> str:
    from pwdlib import PasswordHash

    return PasswordHash.recommended().hash(PASSWORD)


class Api:
    def __init__(self, client, app, settings, community):
        self.client, self.app, self.settings, self.community = client, app, settings, community
        self._tokens: dict[str, str] = {}

    def headers(self, name: str) -> dict[str, str]:
        if name not in self._tokens:
            r = self.client.post("/api/auth/token", data={"username": name, "password": PASSWORD})
            assert r.status_code == 200, r.text
            self._tokens[name] = r.json()["access_token"]
        return {"Authorization": f"Bearer {self._tokens[name]}"}

    def get(self, path: str, user: str = "admin"):
        return self.client.get(path, headers=self.headers(user))


@pytest.fixture
def api(db_url, tmp_path, tiny, password_hash):
    settings = Settings(db_url=db_url, data_dir=tmp_path / "data", secret_key=secrets.token_hex(16),
                        site=TINY)
    app = create_app(settings, community=tiny, components=[DatabaseComponent(sla_interval_s=0)])
    with TestClient(app) as client:
        with app.state.db.transaction() as s:
            for name, (role, staff_id) in USERS.items():
                s.add(User(username=name, password_hash=password_hash, role=role, staff_id=staff_id))
        yield Api(client, app, settings, tiny)


# --------------------------------------------------------------------------- elevator risk

def test_risk_empty_then_latest_day_mapped_to_devices(api):
    r = api.get("/api/elevators/risk")
    assert r.status_code == 200, r.text
    assert r.json() == {"as_of": None, "source": None, "elevators": []}
    assert api.client.get("/api/elevators/risk").status_code == 401

    log = RiskLog(risk_log_path(api.settings))
    log.write_day(dt.date(2026, 11, 19), [Risk("T1-U1-E1", "2026-11-19", 0.9, "old")])
    # the latest day: by elevator name, by IFC elevator id, by device id, and one unknown
    log.write_day(dt.date(2026, 11, 20), [
        Risk("T1-U1-E1", "2026-11-20", 0.42, "door reopens above the elevator's baseline"),
        Risk(ELEVATOR_ID, "2026-11-20", 0.2, "wear and usage"),
        Risk(CONTROLLER, "2026-11-20", 0.05, "wear and usage"),
        Risk("ZZ-9", "2026-11-20", 0.01, "wear and usage"),
    ])
    body = api.get("/api/elevators/risk", user="owner").json()  # public: owners read it too
    assert body["as_of"] == "2026-11-20" and body["source"] == "log"
    rows = {(e["elevator_id"], e["device_id"], e["building"], e["risk"], e["p_fail_7d"])
            for e in body["elevators"]}
    assert rows == {("T1-U1-E1", CONTROLLER, "T1", 0.42, 0.42),
                    (ELEVATOR_ID, CONTROLLER, "T1", 0.2, 0.2),
                    (CONTROLLER, CONTROLLER, "T1", 0.05, 0.05),
                    ("ZZ-9", None, None, 0.01, 0.01)}
    assert [e["risk"] for e in body["elevators"]] == [0.42, 0.2, 0.05, 0.01]  # highest first


def test_broken_risk_log_is_503_and_kept(api):
    path = risk_log_path(api.settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("{not json", encoding="utf-8")
    r = api.get("/api/elevators/risk")
    assert r.status_code == 503 and "elevator_risk.json" in r.json()["detail"]
    assert path.read_text(encoding="utf-8") == "{not json"


def test_risk_of_a_scored_simulated_fleet(api):
    """A 3-elevator fleet simulated for 120 days and scored by the shipped model."""
    from sim.elevators import default_model, score_day, simulate_fleet

    ids = ["T1-U1-E1", "ZZ-1", "ZZ-2"]
    fleet = simulate_fleet(3, 120, 7, start=dt.date(2026, 7, 1), ids=ids)
    day = dt.date(2026, 10, 28)  # the last day
    risks = score_day(default_model(), fleet.telemetry, day)
    RiskLog(risk_log_path(api.settings)).write_day(day, risks)
    body = api.get("/api/elevators/risk").json()
    assert body["as_of"] == "2026-10-28"
    assert sorted(e["elevator_id"] for e in body["elevators"]) == sorted(ids)
    by_id = {e["elevator_id"]: e for e in body["elevators"]}
    assert by_id["T1-U1-E1"]["device_id"] == CONTROLLER
    assert by_id["ZZ-1"]["device_id"] is None
    for e in body["elevators"]:
        assert 0.0 <= e["risk"] <= 1.0 and e["risk"] == e["p_fail_7d"]


# --------------------------------------------------------------------------- cleaning status

def test_cleaning_status_on_tiny(api):
    r = api.get("/api/cleaning/status", user="owner")
    assert r.status_code == 200, r.text
    body = r.json()
    today = dt.datetime.now(ZoneInfo("Asia/Shanghai")).date()
    assert body["date"] in (today.isoformat(), (today - dt.timedelta(days=1)).isoformat())
    ids = {a["space_id"] for a in body["areas"]}
    public = {s.id for s in api.community.spaces if s.usage in ("lobby", "elevator_hall", "stair")}
    flats = {s.id for s in api.community.spaces if s.usage == "apartment"}
    assert len(public) == 6 and public <= ids and not ids & flats
    assert "G1" in ids  # the south gate, a site feature
    for a in body["areas"]:
        assert a["status"] in ("ok", "due", "overdue") and a["name"]
        ratio = a["soil_ratio"]
        assert a["status"] == ("overdue" if ratio >= 1 else "due" if ratio >= 0.7 else "ok")
    t1 = api.get("/api/cleaning/status?building=T1").json()
    assert {a["space_id"] for a in t1["areas"]} == public
    assert api.get("/api/cleaning/status?building=NOPE").status_code == 404
    assert api.client.get("/api/cleaning/status").status_code == 401
    assert len(api.app.state.cleaning_cache._days) == 1  # planned once for the day


def test_cleaning_status_by_hand():
    """Three areas with linear deposits: soil at minute 600 = 0.3 (initial) + rate × 600."""
    soil = SoilParams()
    assert soil.threshold_g_m2 == 1.0 and soil.initial_share == 0.3
    targets = [0.5, 0.8, 1.2]  # → ok, due (≥ 0.7), overdue (≥ 1.0)
    minutes = np.arange(1441)
    cum = np.array([(t - 0.3) / 600.0 * minutes for t in targets])
    state = SoilState(cum, soil)
    areas = [SimpleNamespace(id=f"A{i}", name=f"area {i}", kind="lobby", building_id="B" if i else None)
             for i in range(3)]
    day = CleaningDay(dt.date(2026, 11, 23), SimpleNamespace(areas=areas), state, 1.0, 0.7,
                      planned={1: [(420.0, "S1"), (615.5, "S1")], 2: [(300.0, "S2")]})
    out = cleaning_status(day, 600)
    got = {a["space_id"]: (a["status"], a["soil"], a["next_cleaning"]) for a in out["areas"]}
    assert got == {"A0": ("ok", 0.5, None), "A1": ("due", 0.8, "10:15"), "A2": ("overdue", 1.2, None)}
    assert [a["space_id"] for a in cleaning_status(day, 600, building="B")["areas"]] == ["A1", "A2"]
    state.clean(2, 600)  # a cleaning leaves residual × soil
    assert cleaning_status(day, 600)["areas"][2]["soil"] == pytest.approx(round(soil.residual * 1.2, 3))


# --------------------------------------------------------------------------- work orders

def _requests(tiny):
    from sim.cleaning.areas import build_layout
    from sim.cleaning.plan import plan_work_orders

    risks = [Risk("T1-U1-E1", "2026-11-20", 0.6, "door reopens above the elevator's baseline"),
             Risk("ZZ-9", "2026-11-20", 0.5, "wear and usage"),
             Risk(CONTROLLER, "2026-11-20", 0.01, "wear and usage")]
    elevator = work_order_requests(risks, 0.15)
    layout = build_layout(tiny)
    lobby, gate = layout.index(LOBBY), layout.index("G1")
    cleaning = plan_work_orders([(480.0, lobby, "S005"), (600.0, gate, "S005")], layout,
                                dt.date(2026, 11, 21))
    return elevator, cleaning


def test_preventive_work_orders_once(api):
    elevator, cleaning = _requests(api.community)
    assert [r["asset_id"] for r in elevator] == ["T1-U1-E1", "ZZ-9"]  # 0.01 < 0.15: none
    db = api.app.state.db
    first = open_preventive_work_orders(db, api.community, elevator + cleaning)
    assert len(first["created"]) == 3 and first["existing"] == []
    assert [s["dedupe_key"] for s in first["skipped"]] == ["elevator-risk:ZZ-9:2026-11-20"]

    lift, clean, gate = (api.get(f"/api/work-orders/{i}").json() for i in first["created"])
    assert (lift["category"], lift["source"], lift["location"], lift["building_id"], lift["priority"]) == \
        ("电梯", "preventive", {"space_id": LOBBY, "device_id": CONTROLLER}, "T1", "紧急")  # 0.6 ≥ (1 + 0.15) / 2 = 0.575
    assert lift["public"] is True and "T1-U1-E1" in lift["description"]
    assert (clean["category"], clean["source"], clean["location"], clean["building_id"]) == \
        ("保洁", "preventive", {"space_id": LOBBY}, "T1")
    assert clean["assignee"] == "S005" and clean["status"] == "assigned"
    assert "08:00" in clean["description"]  # minute 480 of the day
    # the south gate is a site feature: a public location outside any building
    assert (gate["category"], gate["location"], gate["building_id"], gate["public"], gate["assignee"]) == \
        ("保洁", {"space_id": "G1"}, None, True, "S005")
    assert "10:00" in gate["description"]
    # the cleaner sees the orders assigned to her
    assert sorted(w["id"] for w in api.get("/api/work-orders", user="cleaner").json()) == \
        sorted([clean["id"], gate["id"]])
    # owners see them among the public-area orders
    public = api.get("/api/public-status", user="owner").json()
    assert {w["id"] for w in public["open"]} == set(first["created"])

    again = open_preventive_work_orders(db, api.community, elevator + cleaning)
    assert again["created"] == [] and sorted(again["existing"]) == sorted(first["created"])
    with db.transaction(write=False) as s:
        assert s.query(WorkOrder).count() == 3


def test_bad_request_loses_nothing(api):
    elevator, _ = _requests(api.community)
    db = api.app.state.db
    bad = dict(elevator[1], dedupe_key="")
    from services.errors import InvalidInput

    with pytest.raises(InvalidInput, match="dedupe_key"):
        open_preventive_work_orders(db, api.community, [elevator[1], bad])
    with db.transaction(write=False) as s:
        assert s.query(WorkOrder).count() == 0  # one transaction: the good one is not half-filed


def test_cli_score_and_plan_open_work_orders(db_url, tmp_path, tiny):
    from sim.elevators import simulate_fleet
    from sim.elevators.telemetry import write_csv

    fleet = simulate_fleet(2, 90, 3, start=dt.date(2026, 8, 1), ids=["T1-U1-E1", "ZZ-1"])
    tel = tmp_path / "telemetry.csv"
    write_csv(fleet.telemetry, tel)
    env = {"TWIN_DB_URL": db_url, "TWIN_DATA_DIR": str(tmp_path / "data")}
    args = ("elevators", "score", "--telemetry", str(tel), "--as-of", "2026-10-29",
            "--threshold", "0.000001", "--site", str(TINY), "--open-work-orders", "--json")
    runs = []
    for _ in range(2):
        p = run_cli(*args, env=env, timeout=300)
        assert p.returncode == 0, p.stderr
        runs.append(json.loads(p.stdout))
    first, second = runs
    assert {"date", "risks", "work_orders"} <= set(first)  # the existing keys stay
    assert len(first["work_order_ids"]) == 1 and first["work_orders_skipped"][0]["dedupe_key"] == \
        "elevator-risk:ZZ-1:2026-10-29"
    assert second["work_order_ids"] == [] and second["work_orders_existing"] == first["work_order_ids"]

    # the cleaning plan of a lakeside day: every request filed once (indoor and outdoor)
    lakeside = SAMPLE_SITES / "lakeside"
    plan = ("cleaning", "plan", "--site", str(lakeside), "--date", "2026-11-23", "--json")
    runs = []
    for _ in range(2):
        p = run_cli(*plan, "--open-work-orders", env=env, timeout=300)
        assert p.returncode == 0, p.stderr
        runs.append(json.loads(p.stdout))
    first, second = runs
    assert len(first["work_orders"]) > 10  # a 749-area site needs rounds every day
    assert len(first["work_order_ids"]) == len(first["work_orders"]) and first["work_orders_skipped"] == []
    assert second["work_order_ids"] == [] and sorted(second["work_orders_existing"]) == \
        sorted(first["work_order_ids"])
    p = run_cli(*plan, env=env, timeout=300)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout) == first["work_orders"]  # unchanged without the flag
    from services.db import Database

    db = Database(db_url)
    try:
        with db.transaction(write=False) as s:
            orders = s.query(WorkOrder).filter(WorkOrder.category == "保洁").all()
            by_key = {o.alarm_id: o for o in orders}
    finally:
        db.dispose()
    assert len(orders) == len(first["work_orders"])
    for req in first["work_orders"]:
        wo = by_key[req["dedupe_key"]]
        assert (wo.source, wo.space_id, wo.assignee, wo.public) == ("preventive", req["area_id"],
                                                                   req["assignee"], True)


# --------------------------------------------------------------------------- the viewer

@pytest.mark.browser
def test_viewer_lists_cleaning_status_and_reads_risk(db_url, tmp_path, tiny, password_hash):
    """Headless Chromium on the real app: after logging in, the viewer's optional panels
    read both endpoints; the cleaning list shows the tiny tower's areas."""
    from tests.viewer.browser import browser_page, chromium_path
    from tests.viewer.server import serve

    chromium_path()
    settings = Settings(db_url=db_url, data_dir=tmp_path / "data", secret_key=secrets.token_hex(16),
                        site=TINY)
    RiskLog(risk_log_path(settings)).write_day(dt.date(2026, 11, 20), [
        Risk("T1-U1-E1", "2026-11-20", 0.42, "door reopens above the elevator's baseline")])
    app = create_app(settings, community=tiny, components=[DatabaseComponent(sla_interval_s=0)])
    with serve(app) as url:
        with app.state.db.transaction() as s:
            s.add(User(username="owner", password_hash=password_hash, role="owner"))
        answers: dict[str, tuple[int, object]] = {}
        with browser_page() as page:
            def keep(resp):
                for path in ("/api/elevators/risk", "/api/cleaning/status"):
                    if resp.url.endswith(path):
                        answers[path] = (resp.status, resp.json() if resp.ok else None)
            page.on("response", keep)
            page.goto(url + "/")
            page.evaluate("window.twinViewer.ready")
            page.fill("#login-form input[name=u]", "owner")
            page.fill("#login-form input[name=p]", PASSWORD)
            page.click("#login-form button")
            page.wait_for_selector("#logout", timeout=10_000)
            page.reload()  # the optional panels load with the stored token
            page.evaluate("window.twinViewer.ready")
            page.wait_for_selector(f"#cleaning .clean[data-space='{LOBBY}']", timeout=30_000)
            # the name people use (twin/naming.py), never the raw space id
            text = page.inner_text("#cleaning")
            assert "1号楼 1单元 1F 门厅" in text and "T1-U1-F01-LOBBY" not in text
            assert "G1" in page.inner_html("#cleaning")  # the gate is listed too
    status, body = answers["/api/elevators/risk"]
    assert status == 200 and body["elevators"][0]["device_id"] == CONTROLLER
    assert answers["/api/cleaning/status"][0] == 200
    labels = {a["space_id"]: a["label"] for a in answers["/api/cleaning/status"][1]["areas"]}
    assert labels[LOBBY] == "1号楼 1单元 1F 门厅"


# --------------------------------------------------------------------------- live elevator rows

def test_daily_job_on_live_history_logs_rows_scores_and_files_once(api):
    """A simulated fleet's day streamed through the ingestion into the history store: the
    daily job logs the day's row, scores it with the 30 earlier logged days, writes the risk
    log and files the preventive work order once; the risk endpoint then answers from the
    live rows."""
    import json as _json

    from live.ingest import Pipeline
    from live.registry import DeviceRegistry
    from live.simulator import DeviceSimulator
    from live.store import LiveStore
    from services.elevator_live import DAILY_LOG_NAME, DailyLog, fleet_plan, run_daily_job
    from sim.elevators import simulate_fleet

    tz = "Asia/Shanghai"
    start, day = dt.date(2026, 9, 1), dt.date(2026, 10, 1)
    fleet = simulate_fleet(1, 31, 3, start=start, ids=[CONTROLLER])
    rows = fleet.telemetry.assign(date=fleet.telemetry["date"].dt.strftime("%Y-%m-%d")).to_dict("records")
    log = DailyLog(api.settings.data_dir / DAILY_LOG_NAME)
    for d in range(30):   # the earlier days, as the job logged them
        when = start + dt.timedelta(days=d)
        log.write_day(when, [r for r in rows if r["date"] == when.isoformat()])
    reg = DeviceRegistry.from_community(api.community)
    sim = DeviceSimulator(reg, seed=1, elevator_plan=fleet_plan(fleet), heartbeats=False,
                          kinds=["elevator_controller"], tz=ZoneInfo(tz))
    t0 = dt.datetime.combine(day, dt.time(), ZoneInfo(tz)).timestamp()
    store = LiveStore(api.settings.resolved_db_url)
    pipe = Pipeline(reg, store=store, clock=lambda: t0 + 86400)
    for _t, topic, body in sim.messages(t0 - 60, 86400 + 60):
        pipe.handle(topic, _json.dumps(body).encode())
    pipe.flush()
    try:
        first = run_daily_job(store=store, db=api.app.state.db, community=api.community, date=day,
                              data_dir=api.settings.data_dir, tz=tz, threshold=1e-9)
        again = run_daily_job(store=store, db=api.app.state.db, community=api.community, date=day,
                              data_dir=api.settings.data_dir, tz=tz, threshold=1e-9)
    finally:
        store.dispose()
    want = next(r for r in rows if r["date"] == day.isoformat())
    [row] = [r for r in log.rows() if r["date"] == day.isoformat()]
    assert (row["trips"], row["door_cycles"]) == (want["trips"], want["door_cycles"])
    assert (row["door_reopens"], row["fault_count"]) == (want["door_reopens"],
                                                         want["fault_count"] + int(fleet.fail[0, 30]))
    assert row["age_years"] is None and row["days_since_maintenance"] is None  # no register date, no order
    assert first["rows"] == 1 and len(first["work_orders"]["created"]) == 1
    assert again["work_orders"]["created"] == [] and again["work_orders"]["existing"] == first["work_orders"]["created"]
    with api.app.state.db.transaction(write=False) as s:
        [wo] = s.query(WorkOrder).all()
    assert (wo.device_id, wo.category, wo.source, wo.alarm_id) == (
        CONTROLLER, "电梯", "preventive", f"elevator-risk:{CONTROLLER}:{day.isoformat()}")
    body = api.get("/api/elevators/risk").json()
    assert body["source"] == "live" and body["as_of"] == day.isoformat()
    [e] = body["elevators"]
    assert (e["elevator_id"], e["device_id"], e["building"]) == (CONTROLLER, CONTROLLER, "T1")
    assert e["p_fail_7d"] == pytest.approx(first["risks"][0]["p_fail_7d"])


def test_broken_daily_log_is_503(api):
    from services.elevator_live import DAILY_LOG_NAME

    path = api.settings.data_dir / DAILY_LOG_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('{"schema": "other"}', encoding="utf-8")
    r = api.get("/api/elevators/risk")
    assert r.status_code == 503 and DAILY_LOG_NAME in r.json()["detail"]
