"""SIGKILL of `twin serve` in the middle of a meter stream, then restart: no consumption
lost, none counted twice (real Mosquitto with a persistent session, SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import signal
import threading
import time

import pytest
import sqlalchemy as sa

from tests.conftest import free_port, run_cli
from tests.live.common import Publisher, start_mosquitto, wait_until
from tests.live.test_live_cli import Serve
from tests.metering.common import local, write_meter_site

pytestmark = pytest.mark.mqtt

#: E-101 reports every 15 min from 02-28 12:00 to 04-01 12:00 (Shanghai): k = 0 … 3072,
#: 0.25 kWh per interval; replaced at k = 1500 (the new register reads 0.25 there).
START, STEP, N, RESET = local("2026-02-28T12:00"), 900.0, 3073, 1500


def value(k: int) -> float:
    return 1000 + 0.25 * k if k < RESET else 0.25 * (k - RESET + 1)


#: By hand: March starts at k = 48 (12 h after the first reading) and ends at
#: k = 48 + 31 × 96 = 3024, both on a reading. Every interval adds 0.25 kWh, the one of the
#: replacement too (new register from 0 → 0.25), so the use is 0.25 × (3024 − 48) = 744.
#: Start register 1000 + 0.25 × 48 = 1012; end register 0.25 × (3024 − 1500 + 1) = 381.25.
EXPECTED = [{"unit_id": "A-101", "device_id": "E-101", "utility": "electricity", "start_value": "1012.000",
             "end_value": "381.250", "consumption": "744.000", "source": "live", "reset": True}]


def _count(engine, table: str) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()


def test_sigkill_mid_stream_loses_nothing_and_counts_nothing_twice(db_url, tmp_path):
    port = free_port()
    broker = start_mosquitto(tmp_path / "mosquitto", port)
    url = f"mqtt://127.0.0.1:{port}"
    folder, site = write_meter_site(tmp_path)
    env = {"TWIN_MQTT_URL": url, "TWIN_DB_URL": db_url, "TWIN_DATA_DIR": str(tmp_path / "data"),
           "TWIN_SECRET_KEY": "k" * 32, "TWIN_LIVE_MAX_AGE_DAYS": str(int((time.time() - START) / 86400) + 30)}
    engine = sa.create_engine(db_url)
    serve = Serve(folder, env)
    pub = Publisher(url)
    try:
        def publish():
            for k in range(N):
                pub.send(f"twin/{site}/E-101/telemetry", {"ts": START + k * STEP, "seq": k, "energy_kwh": value(k)})
                if k % 200 == 0:
                    time.sleep(0.05)
        sender = threading.Thread(target=publish)
        sender.start()
        wait_until(lambda: _count(engine, "live_telemetry") >= 600, timeout=60, what="600 readings stored")
        serve.stop(signal.SIGKILL)            # mid-stream, consumer and writer in flight
        sender.join()
        pub.wait(60)
        stored_at_kill = _count(engine, "live_telemetry")
        assert stored_at_kill < N
        serve = Serve(folder, env)            # the same persistent session: the backlog arrives
        wait_until(lambda: _count(engine, "live_telemetry") == N, timeout=120, what="every reading stored")
        wait_until(lambda: _count(engine, "meter_points") == N, timeout=60, what="the metering consumer caught up")
        with engine.connect() as conn:
            pos = conn.execute(sa.text("SELECT position FROM consumer_offsets WHERE consumer = 'metering'")).scalar_one()
            top = conn.execute(sa.text("SELECT max(id) FROM live_telemetry")).scalar_one()
        assert pos == top
        stats = serve.get("/api/live/stats")
        assert stats["consumers"]["metering"]["errors"] == 0
    finally:
        pub.close()
        serve.stop()
        broker.terminate()
        broker.wait(10)
    out = run_cli("metering", "readings", "--site", str(folder), "--month", "2026-03", "--json",
                  env={"TWIN_DB_URL": db_url, "TWIN_DATA_DIR": str(tmp_path / "data")})
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == EXPECTED
    assert _count(engine, "meter_points") == N   # the CLI's catch-up added nothing either
    engine.dispose()


def test_cli_refuses_a_bad_month_in_one_line(tmp_path):
    folder, _ = write_meter_site(tmp_path)
    out = run_cli("metering", "readings", "--site", str(folder), "--month", "2026-13", "--json",
                  env={"TWIN_DATA_DIR": str(tmp_path / "data")})
    assert out.returncode == 2
    [line] = out.stderr.strip().splitlines()
    assert line.startswith("error: month='2026-13' must be YYYY-MM")
