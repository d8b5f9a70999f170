"""Device simulator: determinism, realistic shapes, valid payloads, incidents."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import datetime, timedelta, timezone

import pytest

from live.errors import ScenarioError
from live.ingest import Pipeline
from live.registry import DeviceRegistry
from live.simulator import DeviceSimulator, daily_load, parse_incidents
from tests.live.common import make_community

# 2026-11-18 00:00 in Asia/Shanghai (UTC+8) = 2026-11-17T16:00Z
MIDNIGHT = datetime(2026, 11, 18, tzinfo=timezone(timedelta(hours=8))).timestamp()
CST = timezone(timedelta(hours=8))


@pytest.fixture(scope="module")
def day():
    reg = DeviceRegistry.from_community(make_community("sim"))
    msgs = list(DeviceSimulator(reg, seed=7).messages(MIDNIGHT, 86400))
    return reg, msgs


def test_same_seed_same_stream_other_seed_other_stream():
    reg = DeviceRegistry.from_community(make_community("sim"))
    a = list(DeviceSimulator(reg, seed=3, incidents="fire:B3:12").messages(MIDNIGHT, 1800))
    b = list(DeviceSimulator(reg, seed=3, incidents="fire:B3:12").messages(MIDNIGHT, 1800))
    c = list(DeviceSimulator(reg, seed=4, incidents="fire:B3:12").messages(MIDNIGHT, 1800))
    assert a == b and a != c
    assert [m[0] for m in a] == sorted(m[0] for m in a)


def test_every_simulated_message_passes_validation(day):
    reg, msgs = day
    p = Pipeline(reg, clock=lambda: MIDNIGHT + 86400)
    p.max_age_s = 2 * 86400
    for _t, topic, body in msgs:
        p.handle(topic, json.dumps(body).encode())
    s = p.stats()
    assert s["dead_lettered"] == 0, s["dead_letters"]
    assert s["applied"] == len(msgs)
    # every registered device of a known kind reported at least once
    seen = {topic.split("/")[2] for _t, topic, _b in msgs}
    assert seen == {d.id for d in reg}


def test_meters_are_monotonic_with_an_evening_peak(day):
    reg, msgs = day
    energy = defaultdict(list)
    power_by_hour = defaultdict(list)
    for t, topic, body in msgs:
        if "energy_kwh" in body:
            energy[topic].append(body["energy_kwh"])
            power_by_hour[datetime.fromtimestamp(t, CST).hour].append(body["power_kw"])
    for series in energy.values():
        assert all(b >= a for a, b in zip(series, series[1:]))
        assert len(series) == pytest.approx(96, abs=2)   # every 15 minutes
    # the load curve itself: evening peak > morning peak > night (independent of the noise)
    assert daily_load(20) > daily_load(7.5) > 2 * daily_load(3)
    evening = sum(power_by_hour[20] + power_by_hour[21]) / len(power_by_hour[20] + power_by_hour[21])
    night = sum(power_by_hour[2] + power_by_hour[3]) / len(power_by_hour[2] + power_by_hour[3])
    assert evening > 2 * night


def test_people_counter_morning_out_evening_in(day):
    reg, msgs = day
    out_am = in_am = out_pm = in_pm = 0
    for t, topic, body in msgs:
        if "count_in" in body:
            h = datetime.fromtimestamp(t, CST).hour
            if 7 <= h < 9:
                out_am += body["count_out"]
                in_am += body["count_in"]
            if 17 <= h < 20:
                out_pm += body["count_out"]
                in_pm += body["count_in"]
    assert out_am > 1.5 * in_am and in_pm > 1.5 * out_pm


def test_elevator_trips_and_door_cycles_count_up(day):
    reg, msgs = day
    for dev in ("B3-elev-1", "B1-elevator_controller"):
        trips = [b["trips"] for _t, topic, b in msgs if "trips" in b and f"/{dev}/" in topic]
        cycles = [b["door_cycles"] for _t, topic, b in msgs if "door_cycles" in b and f"/{dev}/" in topic]
        assert len(trips) > 100 and trips == sorted(trips) and cycles == sorted(cycles)
        assert trips[-1] - trips[0] == len(trips) - 1   # one trip per trip report
    status = [b for _t, topic, b in msgs if topic.endswith("B3-elev-1/status")]
    assert len(status) == pytest.approx(86400 / 30, rel=0.01)


def test_incidents_fire_leak_trapped_offline():
    reg = DeviceRegistry.from_community(make_community("sim"))
    sim = DeviceSimulator(reg, seed=1, incidents="fire:B3:12,leak:B1:1@30,trapped:B3@10,offline:B3-F02-smoke@5")
    msgs = list(sim.messages(MIDNIGHT, 600))
    smoke = [(t - MIDNIGHT, b["smoke"]) for t, topic, b in msgs if "smoke" in b and b["smoke"]]
    assert smoke and all(t >= 60 for t, _ in smoke)
    assert {topic.split("/")[2] for t, topic, b in msgs if b.get("smoke")} == {"B3-F12-smoke"}
    temps = [b["temperature_c"] for t, topic, b in msgs if topic.split("/")[2] == "B3-F12-temp" and t >= MIDNIGHT + 60]
    assert temps[0] < temps[3] < temps[6]
    assert any(topic.endswith("B1-leak_sensor/telemetry") and b["leak"] for t, topic, b in msgs)
    trapped = [(t - MIDNIGHT, b) for t, topic, b in msgs if b.get("event") == "passenger_trapped"]
    assert [t for t, _ in trapped] == [10]
    off = [(t - MIDNIGHT, topic, b) for t, topic, b in msgs if "B3-F02-smoke" in topic]
    assert off[-1][1].endswith("/status") and off[-1][2]["online"] is False and off[-1][0] == 5


@pytest.mark.parametrize("spec, msg", [
    ("fire", "must look like"),
    ("fire:B9:1", "building=.B9. is not in the site"),
    ("fire:B3:99", "storey='99'"),
    ("offline:ghost", "'ghost' is not registered"),
    ("leak:B1:2", "no leak_sensor registered"),
])
def test_bad_incidents_are_named(spec, msg):
    reg = DeviceRegistry.from_community(make_community("sim"))
    with pytest.raises(ScenarioError, match=msg):
        parse_incidents(spec, reg)


def test_storey_matching_by_id_name_or_number():
    reg = DeviceRegistry.from_community(make_community("sim"))
    [inc] = parse_incidents("fire:B3:B3-F07", reg)
    assert inc.storey == "B3-F07" and set(inc.devices) == {"B3-F07-smoke", "B3-F07-temp"}
    [inc] = parse_incidents("leak:B3:7@120", reg)
    assert inc.storey == "B3-F07" and inc.devices == ["B3-F07-leak"] and inc.start_s == 120


def test_run_publishes_in_scaled_real_time():
    reg = DeviceRegistry.from_community(make_community("sim"))
    clock = [MIDNIGHT]
    sleeps = []

    def sleep(s):
        sleeps.append(s)
        clock[0] += s
    sent = []
    n = DeviceSimulator(reg, seed=0).run(lambda topic, raw: sent.append((clock[0], json.loads(raw))),
                                         speed=60, duration_s=3600, clock=lambda: clock[0], sleep=sleep)
    assert n == len(sent) > 0
    assert clock[0] - MIDNIGHT == pytest.approx(60, abs=1)   # one simulated hour in a real minute
    assert all(body["ts"] == pytest.approx(t) for t, body in sent)   # ts = publish time
