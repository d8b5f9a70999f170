"""Occupancy from entrance counters and gate passes (docs/api-live.md, "Occupancy").

Expected counts are worked out by hand in the comments, and checked against a plain
reference written from the documented rules (not the incremental code).
"""

from __future__ import annotations

import datetime as dt
import secrets
import time
import uuid
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st

from live.occupancy import EntranceDevice, Occupancy, rebuild, split_evenly
from tests.live.common import Publisher, make_community, wait_until
from twin.model import BillingUnit, Device, Household, Space

SH = ZoneInfo("Asia/Shanghai")
PASSWORD = "correct-horse-9"


def _anchor_before(ts: float) -> float:
    """03:00 Shanghai at or before ``ts``, by hand: 03:00 +08:00 is 19:00 UTC the day before."""
    t = ts - ((ts - 19 * 3600) % 86400)
    assert dt.datetime.fromtimestamp(t, SH).strftime("%H:%M:%S") == "03:00:00"
    return t


class R:
    def __init__(self, device_id, ts, values=None, event=None, channel=None):
        self.device_id, self.ts, self.values, self.event = device_id, ts, values or {}, event
        self.channel = channel or ("event" if event else "telemetry")


DEVICES = [EntranceDevice("PC", "people_counter", "B1", "lobby"),
           EntranceDevice("AG", "access_gate", "B1", "lobby"),
           EntranceDevice("AG2", "access_gate", "B1", "side"),
           EntranceDevice("PC9", "people_counter", "B9", "hall")]


def scripted(a: float) -> list[R]:
    """The scripted day (``a`` = the anchor): see the hand calculation in the tests."""
    return [
        R("PC", a - 600, {"count_in": 50, "count_out": 0, "period_s": 60}),  # before the anchor: dropped
        R("PC", a - 300, {"total_in": 1000, "total_out": 990}),  # baseline of the totals
        R("PC", a + 10, {"count_in": 6, "count_out": 2, "period_s": 60}),  # lobby 4 → 8
        R("AG2", a + 12, event="pass"),  # side 3 → 4
        R("AG", a + 15, event="pass"),  # the lobby has a counter: gate ignored
        R("PC", a + 20, {"total_in": 1010, "total_out": 991}),  # +10 −1: 17
        R("AG2", a + 22, {"direction": "out"}, event="pass"),  # side 3
        R("AG2", a + 25, {"state": "closed", "passes": 40}),  # undirected totals: ignored
        R("PC", a + 30, {"count_in": 0, "count_out": 30, "period_s": 60}),  # burst: max(0, 17 − 30) = 0
        *[R("AG2", a + 32 + k, {"direction": "out"}, event="pass") for k in range(4)],  # side 2, 1, 0, 0
        R("PC", a + 40, {"count_in": 5, "period_s": 60}),  # lobby 5
        R("AG2", a + 45, event="pass"),  # side 1
        R("PC", a + 50, {"total_in": 3, "total_out": 1}),  # reset: +3 −1 (from 0): 7
        R("PC", a + 60, {"total_in": 8, "total_out": 1}),  # +5: 12
        R("OTHER", a + 61, {"count_in": 99}),  # not an entrance device
    ]


def test_anchor_times_by_hand():
    occ = Occupancy([], {}, buildings=[], start_ts=0.0)
    # 2026-03-10 02:59:59 +08:00 → anchor 2026-03-09 03:00 +08:00; 03:00:00 → itself
    t = dt.datetime(2026, 3, 10, 2, 59, 59, tzinfo=SH).timestamp()
    assert occ.last_anchor(t) == dt.datetime(2026, 3, 9, 3, 0, tzinfo=SH).timestamp()
    assert occ.last_anchor(t + 1) == t + 1
    assert occ.last_anchor(t + 1) == _anchor_before(t + 1)
    with pytest.raises(ValueError, match="anchor_hour=24"):
        Occupancy([], {}, buildings=[], start_ts=0.0, anchor_hour=24)
    with pytest.raises(ValueError, match="start_ts=nan"):
        Occupancy([], {}, buildings=[], start_ts=float("nan"))


@pytest.mark.parametrize("total,n,expected", [(7, 2, [4, 3]), (0, 3, [0, 0, 0]), (5, 1, [5]), (2, 3, [1, 1, 0]),
                                              (10**9 + 1, 2, [500000001, 500000000]), (4, 0, [])])
def test_split_evenly(total, n, expected):
    assert split_evenly(total, n) == expected


def test_scripted_sequence_by_hand():
    a = _anchor_before(time.time())
    occ = Occupancy(DEVICES, {"B1": 7, "B9": 0, "B2": 5}, buildings=["B1", "B2", "B9"], start_ts=a - 3600)
    rebuild(occ, [{"device_id": r.device_id, "channel": r.channel, "ts": r.ts, "values": r.values,
                   "event": r.event} for r in scripted(a)], now=a + 100)
    snap = occ.snapshot()
    b1, b2, b9 = snap["buildings"]
    # anchor: B1's 7 people split 4 (lobby) + 3 (side); lobby ends at 12, side at 1
    assert b1 == {"id": "B1", "people": 13, "source": "counter+gate",
                  "zones": [{"id": "lobby", "people": 12, "source": "counter"},
                            {"id": "side", "people": 1, "source": "gate"}]}
    assert b2 == {"id": "B2", "people": 5, "source": "register", "zones": []}
    assert b9["people"] == 0 and b9["source"] == "register"
    assert snap["anchor_ts"] == a and snap["ts"] == a + 100
    # the next night: back to the register, counting starts again from the anchor
    occ.advance(a + 86400)
    assert [b["people"] for b in occ.snapshot()["buildings"]] == [7, 5, 0]
    occ.apply(R("PC", a + 86400 + 5, {"total_in": 10, "total_out": 1}))  # +2 −0 against 8 / 1
    assert occ.snapshot("B1")["buildings"][0]["zones"][0] == {"id": "lobby", "people": 6, "source": "counter"}


def test_late_total_is_ignored():
    a = _anchor_before(1.75e9)
    occ = Occupancy(DEVICES[:1], {"B1": 10}, buildings=["B1"], start_ts=a + 1)
    for ts, tin in ((a + 10, 100), (a + 30, 110), (a + 20, 105), (a + 40, 112)):
        occ.apply(R("PC", ts, {"total_in": tin}))
    # 10 + (110 − 100) + (112 − 110); the late 105 neither counts nor moves the baseline
    assert occ.snapshot()["buildings"][0]["people"] == 22


def reference(events: list[tuple[float, int, int, int | None, int | None]], start: int, anchor: float) -> int:
    """Plain rules for one counter zone: ``(ts, count_in, count_out, total_in, total_out)``
    in time order; rows before ``anchor`` only set the totals' baselines."""
    people = start
    last_in = last_out = None
    for ts, cin, cout, tin, tout in events:
        net = cin - cout
        if tin is not None:
            if last_in is not None:
                net += tin - last_in if tin >= last_in else tin
            last_in = tin
        if tout is not None:
            if last_out is not None:
                net -= tout - last_out if tout >= last_out else tout
            last_out = tout
        if ts >= anchor:
            people = people + net
            if people < 0:
                people = 0
    return people


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 40), st.integers(0, 40), st.one_of(st.none(), st.integers(0, 10**9)),
                          st.one_of(st.none(), st.integers(0, 10**9))), max_size=40),
       st.integers(0, 500), st.integers(0, 39))
def test_counter_zone_matches_reference(msgs, population, before):
    a = _anchor_before(1.75e9)
    events = [(a + (k - before) * 30.0, cin, cout, tin, tout) for k, (cin, cout, tin, tout) in enumerate(msgs)]
    occ = Occupancy(DEVICES[:1], {"B1": population}, buildings=["B1"], start_ts=a - 3600)
    for ts, cin, cout, tin, tout in events:
        values = {"count_in": cin, "count_out": cout}
        values.update({k: v for k, v in (("total_in", tin), ("total_out", tout)) if v is not None})
        occ.apply(R("PC", ts, values))
        assert occ.snapshot()["buildings"][0]["people"] >= 0
    occ.advance(a + 40 * 30.0)  # past the anchor and every message
    assert occ.snapshot()["buildings"][0]["people"] == reference(events, population, a)


# --------------------------------------------------------------------------- with Mosquitto

def site_community(name: str):
    """The live test community plus a side entrance with a gate only, and households:
    B1 has 3 + 4 residents, B3 has 5 (and no entrance device)."""
    from shapely.geometry import box

    c = make_community(name)
    c.spaces.append(Space("B1-F01-side", "Side entrance", "B1-F01", "B1", box(10, 0, 14, 4), usage="lobby"))
    c.devices.append(Device("B1-GATE-SIDE", "access_gate", "side gate", "B1", "B1-F01", "B1-F01-side"))
    for uid, b, size in (("U1", "B1", 3), ("U2", "B1", 4), ("U3", "B3", 5)):
        c.billing_units.append(BillingUnit(uid, "apartment", b, 80.0))
        c.households.append(Household(uid, size))
    c.validate()
    return c


@pytest.fixture
def occ_app(mqtt_url, db_url, tmp_path):
    from pwdlib import PasswordHash

    from services.app import create_app
    from services.dbcomponent import DatabaseComponent
    from services.live_component import LiveComponent
    from services.models import User
    from services.settings import Settings

    site = f"o{uuid.uuid4().hex[:8]}"
    c = site_community(site)
    settings = Settings(mqtt_url=mqtt_url, db_url=db_url, data_dir=tmp_path / "data",
                        secret_key=secrets.token_hex(16))
    live = LiveComponent(settings, c, client_id=f"ing-{site}")
    app = create_app(settings, community=c, components=[DatabaseComponent(sla_interval_s=0), live])
    pub = Publisher(mqtt_url)
    hashed = PasswordHash.recommended().hash(PASSWORD)
    with TestClient(app) as client:
        with app.state.db.transaction() as s:
            for role in ("admin", "operator", "planner", "staff", "owner"):
                s.add(User(username=role, password_hash=hashed, role=role))
        tokens = {}
        for role in ("admin", "operator", "planner", "staff", "owner"):
            r = client.post("/api/auth/token", data={"username": role, "password": PASSWORD})
            assert r.status_code == 200, r.text
            tokens[role] = {"Authorization": f"Bearer {r.json()['access_token']}"}
        yield client, app, pub, site, tokens
    pub.close()


NAMES = {"PC": "B1-people_counter", "AG": "B1-access_gate", "AG2": "B1-GATE-SIDE", "OTHER": "B1-meter_water"}


def test_occupancy_api_over_mqtt(occ_app):
    client, app, pub, site, tokens = occ_app
    a = _anchor_before(time.time())
    msgs = [r for r in scripted(a) if r.device_id != "OTHER"]
    for seq, r in enumerate(msgs):
        body = {"ts": r.ts, "seq": seq, **r.values}
        if r.event:
            body["event"] = r.event
        pub.send(f"twin/{site}/{NAMES[r.device_id]}/{r.channel}", body)
    pub.wait()
    wait_until(lambda: app.state.live.pipeline.stats()["stored"] >= len(msgs), what="all messages stored")
    r = client.get("/api/live/occupancy", headers=tokens["staff"])
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) >= {"ts", "buildings"}
    assert body["anchor"] == dt.datetime.fromtimestamp(a, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    b1, b3 = body["buildings"]
    assert (b1["id"], b1["people"], b1["source"]) == ("B1", 13, "counter+gate")  # by hand, as above
    assert b1["zones"] == [{"id": "B1-F01-lobby", "people": 12, "source": "counter"},
                           {"id": "B1-F01-side", "people": 1, "source": "gate"}]
    assert (b3["id"], b3["people"], b3["source"]) == ("B3", 5, "register")
    only = client.get("/api/live/occupancy", params={"building": "B3"}, headers=tokens["planner"]).json()
    assert [b["id"] for b in only["buildings"]] == ["B3"]
    # a late message after the first call is picked up incrementally: +3 at the lobby
    pub.send(f"twin/{site}/B1-people_counter/telemetry", {"ts": a + 70, "seq": 99, "count_in": 3})
    pub.wait()
    wait_until(lambda: client.get("/api/live/occupancy", headers=tokens["operator"]).json()["buildings"][0]["people"] == 16,
               what="the late count")
    # the next night re-anchors to the register: 7 in B1 (4 + 3), 5 in B3
    nxt = app.state.occupancy.current(a + 86400 + 1)
    assert [(b["id"], b["people"], b["source"]) for b in nxt["buildings"]] == [("B1", 7, "register"), ("B3", 5, "register")]
    assert [z["people"] for z in nxt["buildings"][0]["zones"]] == [4, 3]


def test_occupancy_roles_and_errors(occ_app):
    client, app, pub, site, tokens = occ_app
    for role in ("admin", "operator", "planner", "staff"):
        assert client.get("/api/live/occupancy", headers=tokens[role]).status_code == 200
    assert client.get("/api/live/occupancy", headers=tokens["owner"]).status_code == 403
    assert client.get("/api/live/occupancy").status_code == 401
    r = client.get("/api/live/occupancy", params={"building": "B404"}, headers=tokens["admin"])
    assert r.status_code == 404 and "B404" in r.json()["detail"]
    r = client.get("/api/live/occupancy", params={"building": "x" * 129}, headers=tokens["admin"])
    assert r.status_code == 422
