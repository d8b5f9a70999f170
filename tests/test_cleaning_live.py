"""Live traffic → cleaning plan, on the real app with Mosquitto and a database (tiny site).

A scripted surge at the lobby's people counter (an event in the building: 1,000 passages
in half an hour against a forecast of a few dozen) must show in ``GET /api/cleaning/status``
within the service's update interval and become one cleaning work order for the cleaner
on duty — filed once, however often the service recounts.
"""

from __future__ import annotations

import datetime as dt
import secrets
import time
import uuid
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.conftest import SAMPLE_SITES
from tests.live.common import Publisher, wait_until

pytestmark = pytest.mark.mqtt

TINY = SAMPLE_SITES / "tiny"
LOBBY = "0OLBx6qUnG5A9TrJkM1jMH"  # T1-U1-F01-LOBBY, where T1-U1-F01-PC1 counts
PASSWORD = "correct-horse-9"


def zone_at_local_hour(hour: int) -> str:
    """A fixed-offset zone in which it is now ``hour``:xx, so the test runs inside the
    cleaner's 06:00-14:00 shift whatever the time of day (Etc/GMT signs are inverted)."""
    offset = (hour - dt.datetime.now(dt.timezone.utc).hour) % 24
    offset = offset - 24 if offset > 11 else offset
    return f"Etc/GMT{-offset:+d}" if offset else "Etc/GMT"


@pytest.fixture(scope="module")
def tiny():
    from bim import load

    assert TINY.is_dir(), "sample_sites/tiny is part of the repository"
    return load(TINY)


@pytest.fixture
def app_with_live_cleaning(mqtt_url, db_url, tmp_path, tiny):
    from pwdlib import PasswordHash

    from services.app import create_app
    from services.cleaning_live import LiveCleaningComponent
    from services.dbcomponent import DatabaseComponent
    from services.live_component import LiveComponent
    from services.models import User
    from services.settings import Settings

    site = f"c{uuid.uuid4().hex[:8]}"
    tiny.name = site
    tz = zone_at_local_hour(9)
    tiny.attributes["timezone"] = tz  # the community's time zone (its manifest's), 09:00 there now
    settings = Settings(mqtt_url=mqtt_url, db_url=db_url, data_dir=tmp_path / "data",
                        secret_key=secrets.token_hex(16), timezone=tz)
    db = DatabaseComponent(sla_interval_s=0)
    live = LiveComponent(settings, tiny, client_id=f"ing-{site}")
    cleaning = LiveCleaningComponent(interval_s=0.5, first_delay_s=0)
    app = create_app(settings, community=tiny, components=[db, live, cleaning])
    pub = Publisher(mqtt_url)
    with TestClient(app) as client:
        with app.state.db.transaction() as s:
            s.add(User(username="planner", password_hash=PasswordHash.recommended().hash(PASSWORD), role="planner"))
        r = client.post("/api/auth/token", data={"username": "planner", "password": PASSWORD})
        headers = {"Authorization": f"Bearer {r.json()['access_token']}"}
        yield client, app, pub, site, tz, headers, cleaning
    pub.close()


def _lobby(client, headers):
    r = client.get("/api/cleaning/status", headers=headers)
    assert r.status_code == 200, r.text
    return next(a for a in r.json()["areas"] if a["space_id"] == LOBBY)


def test_surge_moves_the_round_and_files_one_work_order(app_with_live_cleaning):
    from services.workorders.models import WorkOrder

    client, app, pub, site, tz, headers, cleaning = app_with_live_cleaning
    wait_until(lambda: cleaning.runs >= 1, what="a first live-cleaning update")
    before = _lobby(client, headers)
    assert "moved_by" not in before and before["traffic"]["counted"] == 0
    now = time.time()
    for k in range(10):  # 10 × (60 in + 40 out) = 1,000 passages over the last half hour
        pub.send(f"twin/{site}/T1-U1-F01-PC1/telemetry",
                 {"ts": now - 1800 + 180 * k, "seq": k, "count_in": 60, "count_out": 40, "period_s": 180})
    pub.send(f"twin/{site}/T1-U1-F01-AG1/telemetry", {"ts": now - 60, "state": "closed", "passes": 500})
    pub.wait()
    lobby = wait_until(lambda: (a := _lobby(client, headers)).get("moved_by") and a, timeout=30,
                       what="the lobby's round to move")
    # the gate in the same lobby is not added to its counter's passages
    assert lobby["traffic"]["counted"] == 1000
    assert lobby["traffic"]["forecast"] < 1000 / 1.5 - 30
    local_now = dt.datetime.now(ZoneInfo(tz))
    assert lobby["status"] in ("due", "overdue") and lobby["soil_ratio"] >= 0.7
    surge_soil = lobby["soil"]
    # due now: the round starts within a minute or two of the current local time
    hh, mm = map(int, lobby["next_cleaning"].split(":"))
    assert abs(hh * 60 + mm - (local_now.hour * 60 + local_now.minute)) <= 2
    assert lobby["moved_from"] is None  # tiny's plan had no lobby round left today: added
    # the planner filed it once, for the cleaner on duty, however often it recounts
    runs = cleaning.runs
    wait_until(lambda: cleaning.runs >= runs + 3, what="three more updates")
    with app.state.db.session() as s:
        orders = s.scalars(select(WorkOrder).where(WorkOrder.alarm_id.like(f"cleaning-live:{LOBBY}:%"))).all()
        assert len(orders) == 1
        wo = orders[0]
        assert (wo.category, wo.source, wo.space_id, wo.assignee) == ("保洁", "preventive", LOBBY, "S005")
        assert wo.alarm_id == f"cleaning-live:{LOBBY}:{local_now.date().isoformat()}:added"
        assert "客流 1000" in wo.description
        wo_id = wo.id
    # the cleaner does it: once the order is completed the lobby's soil is back to 5%
    from services.auth import SYSTEM
    from services.workorders.service import transition_work_order

    with app.state.db.transaction() as s:
        for to in ("in_progress", "completed"):
            transition_work_order(s, app.state.community, SYSTEM, wo_id, to, timezone=tz)
    lobby = wait_until(lambda: "moved_by" not in (a := _lobby(client, headers)) and a, timeout=30,
                       what="the lobby to be clean again")
    # 5% of the soil stays (plus minutes of background), whatever the day's weather
    assert lobby["status"] == "ok" and lobby["soil"] <= 0.05 * surge_soil + 0.01
    # a second surge after the cleaning files a second order (key #1: one cleaning done);
    # counts are used once their minute is over
    t1 = time.time()
    for k in range(5):
        pub.send(f"twin/{site}/T1-U1-F01-PC1/telemetry",
                 {"ts": t1 + 0.1 * k, "seq": 100 + k, "count_in": 150, "count_out": 150, "period_s": 10})
    pub.wait()
    wait_until(lambda: _lobby(client, headers).get("moved_by"), timeout=90, what="the second surge")
    key = f"cleaning-live:{LOBBY}:{local_now.date().isoformat()}:added#1"

    def second_order():
        with app.state.db.session() as s:  # a new session (and snapshot) per look
            return s.scalar(select(WorkOrder.id).where(WorkOrder.alarm_id == key))

    wait_until(second_order, timeout=30, what="the second work order")


def test_area_devices_and_passages_by_hand(tiny):
    from services.cleaning_live import area_devices, passages_per_minute
    from sim.cleaning.areas import build_layout

    layout = build_layout(tiny)
    lobby, gate = layout.index(LOBBY), layout.index("G1")
    # the lobby's and the south gate's access gates are left out: a counter counts there
    assert area_devices(tiny, layout) == {"T1-U1-F01-PC1": (lobby, "people_counter"),
                                          "G1-PC1": (gate, "people_counter")}
    devices = {"PC": (lobby, "people_counter"), "AG": (gate, "access_gate")}
    mid = 1_764_000_000.0
    rows = [
        {"device_id": "PC", "channel": "telemetry", "ts": mid + 5 * 60 + 1, "values": {"count_in": 3, "count_out": 2}},
        {"device_id": "PC", "channel": "telemetry", "ts": mid + 10 * 60, "values": {"total_in": 110, "total_out": 55}},
        {"device_id": "PC", "channel": "telemetry", "ts": mid + 11 * 60, "values": {"total_in": 4, "total_out": 56}},
        {"device_id": "AG", "channel": "event", "ts": mid + 30, "event": "pass", "values": {}},
        {"device_id": "AG", "channel": "event", "ts": mid + 40, "event": "denied", "values": {}},
        {"device_id": "AG", "channel": "telemetry", "ts": mid + 1439 * 60 + 59, "values": {"passes": 7}},
        {"device_id": "AG", "channel": "telemetry", "ts": mid + 1440 * 60, "values": {"passes": 9}},  # tomorrow
        {"device_id": "XX", "channel": "telemetry", "ts": mid + 60, "values": {"count_in": 5}},
    ]
    got = passages_per_minute(rows, devices, mid, {("PC", "total_in"): 100.0, ("PC", "total_out"): 50.0})
    # lobby: 3 + 2 at 00:05; +10 +5 at 00:10; reset: 4 (from 0) + 1 at 00:11
    assert {m: got[lobby][m] for m in np.nonzero(got[lobby])[0]} == {5: 5, 10: 15, 11: 5}
    # gate: one pass at 00:00 (the denial is not a passage), 7 at 23:59
    assert {m: got[gate][m] for m in np.nonzero(got[gate])[0]} == {0: 1, 1439: 7}
