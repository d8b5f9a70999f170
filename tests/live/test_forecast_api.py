"""``GET /api/alarms/{id}/forecast`` on the real app with the tiny sample site: a smoke
alarm injected through the ingestion pipeline gets an evacuation forecast of its building.

The tiny site: tower T1, three storeys, one stair (1单元 A梯, flights 1F-2F and 2F-3F), two
exits, households 0101 (5 people), 0102 (3) on 1F, 0201 (1) on 2F, 0301 (3), 0302 (2) on 3F:
14 people, 6 of them above the exit level. With no counter message yet the building's
occupancy is the register's night population.
"""

from __future__ import annotations

import csv
import json
import time
import uuid

import pytest
from fastapi.testclient import TestClient

from live.events import validate_event
from services.app import create_app
from services.dbcomponent import DatabaseComponent
from services.forecast import ForecastComponent
from services.live_component import LiveComponent
from services.settings import Settings
from tests.conftest import SAMPLE_SITES, bearer, make_user
from tests.live.common import wait_until

pytestmark = [pytest.mark.mqtt, pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)]

TIMEOUT_S = 300  # a busy two-core machine: the worker's process start and numba cache load


@pytest.fixture(scope="module")
def tiny():
    import bim

    return bim.load(SAMPLE_SITES / "tiny")


@pytest.fixture
def app(tiny, mqtt_url, db_url, tmp_path):
    settings = Settings(mqtt_url=mqtt_url, db_url=db_url, data_dir=tmp_path / "data")
    make_user(db_url, "op", "operator")
    make_user(db_url, "planner", "planner")
    live = LiveComponent(settings, tiny, client_id=f"fc-{uuid.uuid4().hex[:8]}")
    forecasts = ForecastComponent(live, tiny, check_every_s=3600)
    events: list[dict] = []
    app = create_app(settings, community=tiny, components=[DatabaseComponent(), live, forecasts])
    with TestClient(app) as client:
        live.bus.subscribe("test-forecasts", events.append, types=("forecast",))
        client.headers.update(bearer(client, "op"))
        yield client, live, forecasts, events


def _register() -> dict[str, int]:
    with open(SAMPLE_SITES / "tiny" / "registers" / "households.csv", encoding="utf-8") as f:
        return {r["unit_id"]: int(r["size"]) for r in csv.DictReader(f)}


def _inject(live, device: str, body: dict) -> None:
    topic = f"twin/{live.community.name}/{device}/{'event' if 'event' in body else 'telemetry'}"
    assert live.pipeline.handle(topic, json.dumps({"ts": time.time(), **body}).encode()) == "applied"


def _alarm(client, rule_id: str, storey_name: str | None = None) -> dict:
    def find():
        return [a for a in client.get("/api/live/alarms", params={"state": "open"}).json() if a["rule_id"] == rule_id]
    wait_until(find, what=f"the {rule_id} alarm")
    return find()[0]


def _done(client, alarm_id: str, after: str | None = None) -> dict:
    def ready():
        r = client.get(f"/api/alarms/{alarm_id}/forecast").json()
        return r["status"] in ("done", "failed") and (after is None or r["computed_at"] > after)
    wait_until(ready, timeout=TIMEOUT_S, step=0.2, what="the forecast")
    return client.get(f"/api/alarms/{alarm_id}/forecast").json()


def test_a_smoke_alarm_gets_a_forecast_of_its_building(app, tiny):
    client, live, forecasts, events = app
    sizes = _register()
    people = sum(sizes.values())                                  # 14
    upstairs = sum(n for u, n in sizes.items() if not u.endswith(("0101", "0102")))  # 6 on 2F and 3F
    _inject(live, "T1-U1-F03-SD1", {"smoke": True})
    alarm = _alarm(client, "smoke")
    # the alarm's text in both languages, from the rule's message_zh / message_en
    assert "烟感报警" in alarm["message_zh"] and "T1-U1-F03-SD1" in alarm["message_zh"]
    assert alarm["message_en"] == alarm["message"] and alarm["message"].startswith("Smoke detected by T1-U1-F03-SD1")
    fc = _done(client, alarm["id"])
    assert fc["status"] == "done", fc["error"]
    assert {k: fc[k] for k in ("alarm_id", "building", "storey")} == {
        "alarm_id": alarm["id"], "building": "T1", "storey": alarm["storey"]}
    assert fc["storey_name"] == "3F" and fc["fire_storeys"] == ["3F"]
    assert fc["occupancy"] == {"people": people, "source": "register", "per_storey": {"1F": 8, "2F": 1, "3F": 5}}
    assert fc["people"] == people and fc["evacuated"] == people
    # every person leaves by one exit; everybody above the exit level takes the one stair
    assert sum(e["people"] for e in fc["exits"]) == people
    assert {e["name"] for e in fc["exits"]} == {"1单元 1F A梯 出口", "1单元 1F 门厅 出口"}
    [stair] = fc["stairs"]
    assert stair["name"] == "1单元 A梯" and stair["people"] == upstairs and stair["flights"] == 2
    assert fc["keep_clear"]["name"] == "1单元 A梯"
    # hand check: nobody moves before 30 s (shortest pre-movement), and the stair passes at
    # most Fs × effective width = 1.01 × (w − 0.3) people per second
    [width] = {s.width_m for s in tiny.stairs}
    assert fc["evacuation_time_s"] >= max(30.0, upstairs / (1.01 * (width - 0.3)))
    assert fc["evacuation_time_s"] <= 300 + 200   # slowest pre-movement + a generous walk
    assert fc["computed_at"] and fc["elapsed_s"] > 0
    # the event went out, valid against the one schema
    wait_until(lambda: any(e["alarm_id"] == alarm["id"] and e["status"] == "done" for e in events), what="event")
    ev = next(e for e in events if e["alarm_id"] == alarm["id"])
    validate_event(ev)
    assert ev["forecast"]["evacuation_time_s"] == fc["evacuation_time_s"]


def test_another_alarm_and_occupancy_recompute_and_other_alarms_get_none(app):
    client, live, forecasts, events = app
    _inject(live, "T1-U1-F03-SD1", {"smoke": True})
    first = _alarm(client, "smoke")
    fc1 = _done(client, first["id"])
    # a second fire alarm in the building: the first forecast is recomputed with both storeys
    _inject(live, "T1-U1-F02-SD1", {"smoke": True})
    fc1b = _done(client, first["id"], after=fc1["computed_at"])
    assert fc1b["reason"] == "alarm_in_building" and fc1b["fire_storeys"] == ["2F", "3F"]
    # 30 more people came in through the lobby counter: past max(10, 10 %) of 14
    _inject(live, "T1-U1-F01-PC1", {"count_in": 30, "count_out": 0, "period_s": 60})
    live.pipeline.flush()
    assert first["id"] in forecasts.check_occupancy()
    fc1c = _done(client, first["id"], after=fc1b["computed_at"])
    assert fc1c["reason"] == "occupancy" and fc1c["occupancy"]["people"] == 44 and fc1c["people"] == 44
    assert fc1c["occupancy"]["source"] == "counter"
    assert forecasts.check_occupancy() == []      # no change since: nothing to recompute
    # an elevator fault is no fire: no forecast; an unknown alarm is a 404; planners may not read it
    _inject(live, "T1-U1-E1-EC", {"event": "fault"})
    other = _alarm(client, "elevator_fault")
    r = client.get(f"/api/alarms/{other['id']}/forecast").json()
    assert r["status"] == "none" and r["evacuation_time_s"] is None and r["stairs"] == [] and r["exits"] == []
    assert client.get("/api/alarms/0000000000000000/forecast").status_code == 404
    assert client.get(f"/api/alarms/{first['id']}/forecast", headers=bearer(client, "planner")).status_code == 403
