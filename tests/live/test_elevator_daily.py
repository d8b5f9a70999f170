"""Elevator daily rows from live messages (live/elevator_daily.py, services/elevator_live.py,
``twin elevators daily``): hand-computed rows, through a real Mosquitto and the real ingestion
into the history store, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from live.elevator_daily import ROW_COLUMNS, ElevatorDays, daily_rows
from tests.live.common import Publisher, make_community, wait_until

ROOT = Path(__file__).resolve().parents[2]
TZ = "Asia/Shanghai"
ZONE = ZoneInfo(TZ)
ELEVATOR = "B3-elev-1"


def local(day: dt.date, hh: int, mm: int = 0, ss: int = 0) -> float:
    return dt.datetime.combine(day, dt.time(hh, mm, ss), ZONE).timestamp()


def day_of_messages(day: dt.date) -> list[tuple[str, dict]]:
    """(channel, body) of one elevator around ``day`` (site time); the hand computation of
    :data:`EXPECTED` is written next to each message."""
    nxt = day + dt.timedelta(days=1)
    prev = day - dt.timedelta(days=1)
    t = lambda h, m=0, s=0: local(day, h, m, s)  # noqa: E731
    return [
        ("telemetry", {"ts": local(prev, 23, 50), "seq": 1, "trips": 1000, "door_cycles": 2000}),  # baseline
        ("telemetry", {"ts": t(0), "seq": 2, "trips": 1003, "door_cycles": 2006,            # +3 +6
                       "vibration_rms": 0.10, "leveling_error_mm": 2.0, "motor_temp_c": 40.0}),
        ("telemetry", {"ts": t(8), "seq": 3, "trips": 1010, "door_cycles": 2020,            # +7 +14
                       "vibration_rms": 0.20, "leveling_error_mm": 3.0, "motor_temp_c": 44.0}),
        ("event", {"ts": t(8, 0, 5), "seq": 4, "event": "door_reopen"}),                    # reopen 1
        ("event", {"ts": t(9), "seq": 5, "event": "fault", "fault_code": 12}),              # fault 1
        ("event", {"ts": t(9), "seq": 5, "event": "fault", "fault_code": 12}),              # redelivered: 0
        ("telemetry", {"ts": t(12), "seq": 6, "trips": 5, "door_cycles": 9}),               # reset: +5 +9
        ("event", {"ts": t(12, 30), "seq": 7, "event": "door_reopen"}),                     # reopen 2
        ("telemetry", {"ts": t(18), "seq": 8, "trips": 20, "door_cycles": 40,               # +15 +31
                       "vibration_rms": 0.30, "leveling_error_mm": 4.0}),
        ("status", {"ts": t(20), "seq": 9, "online": True}),                                # nothing
        ("telemetry", {"ts": t(23, 59, 59), "seq": 10, "trips": 25, "door_cycles": 50,      # +5 +10
                       "motor_temp_c": 46.0}),
        ("event", {"ts": t(23, 59, 59), "seq": 11, "event": "fault", "fault_code": 7}),     # fault 2
        ("telemetry", {"ts": local(nxt, 0), "seq": 12, "trips": 30, "door_cycles": 61}),    # next day +5 +11
        ("event", {"ts": local(nxt, 0), "seq": 13, "event": "door_reopen"}),                # next day
    ]


def expected(day: dt.date) -> dict:
    """The hand-computed row of ``day`` (see the comments of :func:`day_of_messages`)."""
    return {"elevator_id": ELEVATOR, "date": day.isoformat(),
            "trips": 3 + 7 + 5 + 15 + 5, "door_cycles": 6 + 14 + 9 + 31 + 10,
            "door_reopens": 2, "fault_count": 2,
            "vibration_rms": (0.10 + 0.20 + 0.30) / 3, "leveling_error_mm": (2.0 + 3.0 + 4.0) / 3,
            "motor_temp_c": (40.0 + 44.0 + 46.0) / 3}


def _as_rows(messages):
    return [{"device_id": ELEVATOR, "channel": ch, "ts": b["ts"], "seq": b.get("seq"), "event": b.get("event"),
             "values": {k: v for k, v in b.items() if k not in ("ts", "seq", "event")}} for ch, b in messages]


def _approx(row: dict) -> dict:
    return {k: pytest.approx(v, rel=1e-12) if isinstance(v, float) else v for k, v in row.items()}


# -- the aggregation on its own -----------------------------------------------------------

def test_hand_computed_day_from_the_message_sequence():
    day = dt.date(2026, 3, 14)
    [row] = daily_rows(_as_rows(day_of_messages(day)), day, TZ)
    assert row == _approx(expected(day))
    [nxt] = daily_rows(_as_rows(day_of_messages(day)), day + dt.timedelta(days=1), TZ)
    assert (nxt["trips"], nxt["door_cycles"], nxt["door_reopens"], nxt["fault_count"]) == (5, 11, 1, 0)
    assert nxt["vibration_rms"] is None and nxt["motor_temp_c"] is None


def test_any_arrival_order_gives_the_same_rows_when_sorted_and_duplicates_count_once():
    day = dt.date(2026, 3, 14)
    rows = _as_rows(day_of_messages(day))
    assert daily_rows(list(reversed(rows)) + rows, day, TZ) == daily_rows(rows, day, TZ)


def test_the_day_is_the_site_local_day():
    """23:59:59 and 00:00:00 Shanghai are 15:59:59 and 16:00:00 UTC: a UTC day would put
    both on one day."""
    day = dt.date(2026, 3, 14)
    rows = _as_rows(day_of_messages(day))
    [utc_row] = [r for r in daily_rows(rows, day, "UTC") if r["date"] == day.isoformat()]
    assert utc_row["trips"] != expected(day)["trips"]


def test_other_devices_and_unknown_values_are_ignored():
    acc = ElevatorDays(TZ, [ELEVATOR])
    assert acc.apply("someone-else", 0.0, "telemetry", {"trips": 5}) is False
    assert acc.apply(ELEVATOR, 0.0, "status", {"online": True}) is False
    assert acc.apply(ELEVATOR, 1.0, "telemetry", {"trips": "7", "vibration_rms": float("nan"),
                                                  "motor_temp_c": True}) is True
    [row] = acc.rows(acc.day_of(1.0))
    assert row["trips"] == 0 and row["vibration_rms"] is None and row["motor_temp_c"] is None


def test_a_non_finite_time_is_refused_naming_it():
    with pytest.raises(ValueError, match="ts=nan"):
        ElevatorDays(TZ).apply(ELEVATOR, float("nan"), "telemetry", {"trips": 1})


def test_reopens_never_exceed_door_cycles():
    acc = ElevatorDays("UTC")
    for i in range(3):
        acc.apply(ELEVATOR, float(i), "event", {}, "door_reopen", i)
    [row] = acc.rows(dt.date(1970, 1, 1))
    assert row["door_cycles"] == 0 and row["door_reopens"] == 0


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3 * 86400 - 1), st.integers(0, 50), st.booleans()),
                min_size=1, max_size=40, unique_by=lambda x: x[0]))
def test_daily_trips_add_up_to_the_counter_increase(readings):
    """Plain reference: walk the readings in time order, start a new register at each
    reset; the days' sums equal the total counted by that walk, and without a reset they
    equal last − first."""
    readings = sorted(readings)
    value, values = 1000, []
    for ts, step, reset in readings:
        value = step if reset and values else value + step
        values.append((ts, value))
    total = 0
    for (_, a), (_, b) in zip(values, values[1:]):
        total += b - a if b >= a else b
    acc = ElevatorDays("UTC")
    for ts, v in values:
        acc.apply(ELEVATOR, float(ts), "telemetry", {"trips": v})
    days = [dt.date(1970, 1, 1) + dt.timedelta(days=k) for k in range(3)]
    got = sum(r["trips"] for d in days for r in acc.rows(d))
    assert got == total
    if not any(reset for _, _, reset in readings[1:]):
        assert got == values[-1][1] - values[0][1]


# -- through Mosquitto, the ingestion and the store, SQLite and PostgreSQL ----------------

def _completed_order(session, device_id: str, category: str, completed: dt.datetime | None):
    from services.workorders.models import WorkOrder

    now = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    session.add(WorkOrder(description="半月保", category=category, priority="一般",
                          status="completed" if completed else "assigned", source="preventive",
                          device_id=device_id, reporter="system", created_at=now, updated_at=now,
                          respond_by=now, resolve_by=now, completed_at=completed))


@pytest.mark.mqtt
def test_a_day_of_elevator_messages_through_mqtt_gives_the_hand_computed_row(mqtt_url, db_url, tmp_path):
    from services.db import Database
    from services.elevator_live import daily_rows as service_rows
    from services.live_component import LiveComponent
    from services.settings import Settings
    from twin.io import community_to_dict

    site = f"e{uuid.uuid4().hex[:8]}"
    c = make_community(site)
    c.attributes["timezone"] = TZ
    day = dt.datetime.now(ZONE).date() - dt.timedelta(days=2)
    [dev] = [d for d in c.devices if d.id == ELEVATOR]
    dev.attributes["commissioned"] = (day - dt.timedelta(days=3653)).isoformat()  # 3653 / 365.25 = 10.0014
    db = Database(db_url)
    db.migrate()
    with db.transaction() as s:
        at = lambda d, h: dt.datetime.combine(d, dt.time(h), ZONE).astimezone(dt.timezone.utc)  # noqa: E731
        _completed_order(s, ELEVATOR, "电梯", at(day - dt.timedelta(days=4), 15))   # the last one: 4 days
        _completed_order(s, ELEVATOR, "电梯", at(day - dt.timedelta(days=9), 10))   # older
        _completed_order(s, ELEVATOR, "电梯", at(day + dt.timedelta(days=1), 9))    # after the day
        _completed_order(s, ELEVATOR, "水电", at(day - dt.timedelta(days=1), 9))    # not an elevator job
        _completed_order(s, ELEVATOR, "电梯", None)                                 # not completed
        _completed_order(s, "B1-meter_water", "电梯", at(day - dt.timedelta(days=1), 9))  # other device

    settings = Settings(mqtt_url=mqtt_url, db_url=db_url, data_dir=tmp_path / "data")
    comp = LiveComponent(settings, c, client_id=f"ing-{site}")
    comp.hub = type("Hub", (), {"publish": staticmethod(lambda ev: None)})()
    comp._start_blocking()
    pub = Publisher(mqtt_url)
    try:
        messages = day_of_messages(day)
        for channel, body in messages:
            pub.send(f"twin/{site}/{ELEVATOR}/{channel}", body)
        pub.wait()
        unique = len({(ch, b["seq"]) for ch, b in messages})
        wait_until(lambda: comp.store.count() >= unique, what=f"{unique} stored messages")
        rows = service_rows(comp.store, db, c, day, TZ)
    finally:
        pub.close()
        comp._stop_blocking()
    want = {**expected(day), "age_years": 10.0, "days_since_maintenance": 4}
    assert rows == [_approx({k: want[k] for k in ROW_COLUMNS})]

    # the CLI contract: a JSON array of those rows, numbers as JSON numbers
    site_file = tmp_path / "site.json"
    site_file.write_text(json.dumps(community_to_dict(c), ensure_ascii=False), encoding="utf-8")
    env = {**os.environ, "TWIN_DB_URL": db_url, "TWIN_DATA_DIR": str(tmp_path / "cli")}
    out = subprocess.run([sys.executable, "-m", "services", "elevators", "daily", "--site", str(site_file),
                          "--date", day.isoformat(), "--json"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    cli_rows = json.loads(out.stdout)
    assert cli_rows == [_approx({k: want[k] for k in ROW_COLUMNS})]
    assert isinstance(cli_rows[0]["trips"], int) and isinstance(cli_rows[0]["vibration_rms"], float)
    db.dispose()


@pytest.mark.parametrize("bad", ["2026-13-01", "２０２６-03-14", "2026-03-14x", "", "yesterday", "2026-02-30"])
def test_the_cli_refuses_a_bad_date_in_one_line(bad, tmp_path, capsys):
    from services.cli.main import main
    from twin.io import community_to_dict

    site_file = tmp_path / "site.json"
    site_file.write_text(json.dumps(community_to_dict(make_community("cli"))), encoding="utf-8")
    with pytest.raises(SystemExit) as exit_:
        main(["elevators", "daily", "--site", str(site_file), "--date", bad, "--json"])
    out = capsys.readouterr()
    assert exit_.value.code == 2 and out.out == ""
    assert out.err.count("\n") == 1 and "date=" in out.err


# -- the device simulator streams a plan exactly ------------------------------------------

@pytest.mark.parametrize("heartbeats", [True, False])
def test_the_simulator_streams_the_planned_days_exactly(heartbeats):
    """A hand plan of three days (a breakdown on the second): the daily rows of the stream
    give the plan's counts (the breakdown logs one more fault) and its diagnostics as means
    (per-run noise of 10 % averages out: tolerance 4 standard errors)."""
    from live.registry import DeviceRegistry
    from live.simulator import ElevatorDay, DeviceSimulator

    start = dt.date(2026, 3, 14)
    plan = {start: ElevatorDay(180, 400, 9, 2, 0.15, 2.5, 45.0),
            start + dt.timedelta(days=1): ElevatorDay(240, 530, 30, 4, 0.30, 6.0, 52.0, failure=True),
            start + dt.timedelta(days=2): ElevatorDay(0, 0, 0, 0, 0.2, 3.0, 40.0)}
    reg = DeviceRegistry.from_community(make_community("plan"))
    sim = DeviceSimulator(reg, seed=5, elevator_plan=lambda dev, day: plan.get(day) if dev == ELEVATOR else None,
                          heartbeats=heartbeats, kinds=["elevator_controller"])
    t0 = local(start, 0)
    msgs = [(topic, body) for _t, topic, body in sim.messages(t0, 3 * 86400)]
    acc = ElevatorDays(TZ, [ELEVATOR])
    for topic, body in msgs:
        _, _, dev, channel = topic.split("/")
        values = {k: v for k, v in body.items() if k not in ("ts", "seq", "event")}
        acc.apply(dev, body["ts"], channel, values, body.get("event"), body["seq"])
    acc.apply(ELEVATOR, local(start + dt.timedelta(days=3), 0, 0, 1), "telemetry", {})
    for day, p in plan.items():
        [row] = acc.rows(day)
        first_day = day == start   # the day's first report is only the counters' baseline
        assert row["trips"] <= p.trips and row["trips"] >= p.trips - (5 if first_day else 0)
        if not first_day:
            assert (row["trips"], row["door_cycles"]) == (p.trips, p.door_cycles)
        assert row["door_reopens"] == p.door_reopens
        assert row["fault_count"] == p.fault_count + (1 if p.failure else 0)
        if p.trips:   # >= n / 3 reports of the trips' mean: standard error <= sd * sqrt(3 / n)
            se = (3 / p.trips) ** 0.5
            assert row["vibration_rms"] == pytest.approx(p.vibration_rms, abs=4 * 0.1 * p.vibration_rms * se)
            assert row["leveling_error_mm"] == pytest.approx(p.leveling_error_mm, abs=4 * 0.1 * p.leveling_error_mm * se)
            assert row["motor_temp_c"] == pytest.approx(p.motor_temp_c, abs=4 * 1.0 * se)
    events = [b.get("event") for topic, b in msgs if topic.endswith("/event")]
    assert events.count("fault_cleared") == 1
    statuses = sum(1 for topic, b in msgs if topic.endswith(f"{ELEVATOR}/status"))
    assert (statuses > 3 * 2800) if heartbeats else statuses == 0


def test_demo_history_logs_the_past_days_once_and_scores_yesterday(tmp_path):
    """``elevator_life(history_days=N)`` (``twin demo``) logs exactly the N days before today
    (site time) for every controller, keeps days the log already holds, and scores as of
    yesterday; the simulator's plan starts today at day N of the same process."""
    from services.elevator_live import DailyLog, DAILY_LOG_NAME, elevator_life
    from services.planning import RISK_LOG_NAME

    community = make_community()
    ctrl = sorted(d.id for d in community.devices if d.kind == "elevator_controller")
    assert ctrl
    today = dt.datetime.now(ZoneInfo("Asia/Shanghai")).date()
    first = elevator_life(community.devices, community, history_days=10, data_dir=tmp_path)
    assert first["history"] == {"days": 10, "risks": len(ctrl), "work_orders": 0}
    log = DailyLog(tmp_path / DAILY_LOG_NAME)
    assert log.days() == [(today - dt.timedelta(days=k)).isoformat() for k in range(10, 0, -1)]
    rows = log.rows()
    assert len(rows) == 10 * len(ctrl) and all(set(r) == set(ROW_COLUMNS) for r in rows)
    assert all(r["trips"] >= 0 and r["door_reopens"] <= r["door_cycles"] for r in rows)
    risk = json.loads((tmp_path / RISK_LOG_NAME).read_text(encoding="utf-8"))
    assert list(risk["days"]) == [(today - dt.timedelta(days=1)).isoformat()]
    assert first["elevator_plan"](ctrl[0], today) is not None
    before = (tmp_path / DAILY_LOG_NAME).read_bytes()
    again = elevator_life(community.devices, community, history_days=10, data_dir=tmp_path)
    assert again["history"]["days"] == 0 and (tmp_path / DAILY_LOG_NAME).read_bytes() == before
