"""The `twin serve` and `twin devices` commands as separate processes (real broker, real DB)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
import uuid

import pytest
import sqlalchemy as sa

from tests.conftest import REPO, SERVE_SECRETS, TEST_PASSWORD, free_port, make_user, run_cli
from tests.live.common import Publisher, wait_until, write_site

pytestmark = pytest.mark.mqtt

_USERS_MADE: set[str] = set()


def _get(port: int, path: str, headers: dict | None = None):
    try:
        req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers=headers or {})
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")
    except OSError:
        return None, None


class Serve:
    """A `twin serve` process."""

    def __init__(self, site, env, *extra):
        self.port = free_port()
        self.env = {**os.environ, "TWIN_LOG_LEVEL": "WARNING", **SERVE_SECRETS, **env}
        db_url = self.env["TWIN_DB_URL"]
        if db_url not in _USERS_MADE:  # an operator to read the live API as
            make_user(db_url, "op", "operator")
            _USERS_MADE.add(db_url)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "services", "serve", "--site", str(site), "--port", str(self.port), *extra],
            cwd=REPO, env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        wait_until(lambda: self.proc.poll() is not None or _get(self.port, "/api/health")[0] == 200,
                   timeout=60, step=0.2, what="twin serve health 200")
        assert self.proc.poll() is None, self.proc.stderr.read()
        self.token = self._login()

    def _login(self) -> str:
        body = urllib.parse.urlencode({"username": "op", "password": TEST_PASSWORD}).encode()
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}/api/auth/token", data=body)
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read())["access_token"]

    def get(self, path):
        return _get(self.port, path, {"Authorization": f"Bearer {self.token}"})[1]

    def stop(self, sig=signal.SIGTERM):
        self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def test_devices_list_json(tmp_path):
    folder, name, devices = write_site(tmp_path)
    r = run_cli("devices", "list", "--site", str(folder), "--json")
    assert r.returncode == 0, r.stderr
    rows = json.loads(r.stdout)
    assert [row["id"] for row in rows] == [d["id"] for d in devices]
    for row, dev in zip(rows, devices):
        assert {"id", "kind", "building", "storey", "space", "topic"} <= set(row)
        assert (row["kind"], row["building"], row["storey"], row["space"]) == (dev["kind"], dev["building"], dev["storey"], None)
        assert row["topic"] == f"twin/{name}/{dev['id']}/telemetry"


@pytest.mark.parametrize("args, message", [
    (["--scenario", "fire:B9:12"], "building='B9'"),
    (["--scenario", "fire:B3:40"], "storey='40'"),
    (["--scenario", "flood"], "scenario='flood'"),
    (["--speed", "0"], "speed=0.0"),
    (["--mqtt", "http://x"], "mqtt url='http://x'"),
])
def test_devices_simulate_bad_input_is_one_line_exit_2(tmp_path, args, message):
    folder, name, devices = write_site(tmp_path)
    r = run_cli("devices", "simulate", "--site", str(folder), "--mqtt", "mqtt://127.0.0.1:1", *args)
    assert r.returncode == 2
    lines = [ln for ln in r.stderr.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1 and message in lines[0], r.stderr


def test_serve_simulate_fire_and_websocket(tmp_path, mqtt_url):
    import websockets

    folder, name, devices = write_site(tmp_path)
    env = {"TWIN_MQTT_URL": mqtt_url, "TWIN_DB_URL": f"sqlite:///{tmp_path / 'twin.sqlite'}",
           "TWIN_DATA_DIR": str(tmp_path / "data")}
    srv = Serve(folder, env)
    try:
        health = srv.get("/api/health")
        assert health["components"]["live"]["broker"]["connected"] is True
        assert health["components"]["live"]["database"]["ok"] is True

        async def watch():
            uri = f"ws://127.0.0.1:{srv.port}/ws/live?storey=B3-F12"
            async with websockets.connect(uri) as ws:
                await ws.send(json.dumps({"type": "auth", "token": srv.token}))
                first = json.loads(await ws.recv())
                assert first["type"] == "snapshot"
                sim = await asyncio.create_subprocess_exec(
                    sys.executable, "-m", "services", "devices", "simulate", "--site", str(folder),
                    "--mqtt", mqtt_url, "--speed", "600", "--duration", "400", "--scenario", "fire:B3:12@60",
                    cwd=str(REPO), env={**os.environ, **env}, stderr=asyncio.subprocess.PIPE)
                events = []
                deadline = time.monotonic() + 60
                while time.monotonic() < deadline:
                    ev = json.loads(await asyncio.wait_for(ws.recv(), 30))
                    events.append(ev)
                    if ev["type"] == "alarm" and ev["alarm"]["rule_id"] == "fire":
                        break
                _out, err = await sim.communicate()
                assert sim.returncode == 0, err
                return events
        events = asyncio.run(watch())
        for ev in events:
            assert "type" in ev and isinstance(ev["ts"], str)
            if ev["type"] in ("telemetry", "event", "status"):
                assert ev["device_id"] in ("B3-SMOKE-12", "B3-TEMP-12") and ev["storey"] == "B3-F12"
        fire = events[-1]["alarm"]
        assert fire["storey"] == "B3-F12" and fire["building"] == "B3" and fire["severity"] == "critical"
        assert fire["drill"]["building"] == "B3"
        stats = srv.get("/api/live/stats")
        assert stats["applied"] > 20 and stats["dead_lettered"] == 0
        alarms = {a["rule_id"] for a in srv.get("/api/live/alarms?state=open")}
        assert {"smoke", "temperature_rise", "fire"} <= alarms
    finally:
        srv.stop()


def test_service_killed_hard_loses_nothing(tmp_path, mqtt_url):
    """SIGKILL mid-stream: unacknowledged messages are redelivered; every one stored once."""
    folder, name, devices = write_site(tmp_path)
    db = f"sqlite:///{tmp_path / 'twin.sqlite'}"
    env = {"TWIN_MQTT_URL": mqtt_url, "TWIN_DB_URL": db, "TWIN_DATA_DIR": str(tmp_path / "data")}
    srv = Serve(folder, env)
    pub = Publisher(mqtt_url)
    topic = f"twin/{name}/B1-E-101/telemetry"
    t0 = time.time()
    n = 900  # below Mosquitto's default max_queued_messages (1000) per offline session
    try:
        for i in range(n):
            pub.send(topic, {"ts": t0 + i * 0.001, "seq": i, "energy_kwh": float(i)})
            if i == 400:
                srv.stop(signal.SIGKILL)
        pub.wait()
        srv = Serve(folder, env)
        engine = sa.create_engine(db)

        def stored():
            with engine.connect() as conn:
                return conn.execute(sa.text("SELECT COUNT(*), COUNT(DISTINCT seq) FROM live_telemetry")).one()
        wait_until(lambda: stored() == (n, n), timeout=30, what=f"{n} distinct stored readings")
        assert srv.get("/api/live/devices/B1-E-101")["values"]["energy_kwh"] == float(n - 1)
        engine.dispose()
    finally:
        pub.close()
        srv.stop()


def test_two_workers_share_the_subscription(tmp_path, mqtt_url, db_url):
    folder, name, devices = write_site(tmp_path)
    env = {"TWIN_MQTT_URL": mqtt_url, "TWIN_DB_URL": db_url, "TWIN_DATA_DIR": str(tmp_path / "data")}
    group = f"g{uuid.uuid4().hex[:6]}"
    w1 = Serve(folder, env, "--group", group)
    w2 = Serve(folder, env, "--group", group)
    pub = Publisher(mqtt_url)
    try:
        t0 = time.time()
        meters = ["B1-E-101", "B1-W-101"]
        n = 400
        for i in range(n):
            dev = meters[i % 2]
            body = {"ts": t0 + i * 0.01, "seq": i}
            body.update({"energy_kwh": float(i)} if dev == "B1-E-101" else {"volume_m3": float(i)})
            pub.send(f"twin/{name}/{dev}/telemetry", body)
        pub.wait()
        wait_until(lambda: w1.get("/api/live/stats")["applied"] + w2.get("/api/live/stats")["applied"] >= n,
                   timeout=30, what="all messages applied")
        s1, s2 = w1.get("/api/live/stats"), w2.get("/api/live/stats")
        assert s1["applied"] + s2["applied"] == n          # each message once
        assert s1["applied"] > 0 and s2["applied"] > 0     # both workers took a share
        assert s1["duplicates"] == s2["duplicates"] == 0
        engine = sa.create_engine(db_url)

        def db_state():
            with engine.connect() as conn:
                count = conn.execute(sa.text("SELECT COUNT(*) FROM live_telemetry")).scalar_one()
                vals = dict(conn.execute(sa.text(
                    "SELECT device_id, ts FROM live_device_values WHERE field IN ('energy_kwh', 'volume_m3')")).all())
                return count, vals
        wait_until(lambda: db_state()[0] == n, timeout=30, what=f"{n} stored")
        # the shared state holds each meter's newest reading, whichever worker applied it
        count, vals = db_state()
        assert vals == {"B1-E-101": pytest.approx(t0 + (n - 2) * 0.01), "B1-W-101": pytest.approx(t0 + (n - 1) * 0.01)}
        engine.dispose()
    finally:
        pub.close()
        w1.stop()
        w2.stop()


def test_embedded_broker_when_no_broker_is_configured(tmp_path):
    folder, name, devices = write_site(tmp_path)
    env = {"TWIN_MQTT_URL": "", "TWIN_DB_URL": f"sqlite:///{tmp_path / 'twin.sqlite'}",
           "TWIN_DATA_DIR": str(tmp_path / "data")}
    srv = Serve(folder, env)
    try:
        broker = srv.get("/api/health")["components"]["live"]["broker"]
        assert broker["embedded"] is True and broker["connected"] is True and broker["protocol"] == "MQTT 3.1.1"
        # the simulator finds the embedded broker of the running service
        r = run_cli("devices", "simulate", "--site", str(folder), "--speed", "600", "--duration", "300",
                    env=env)
        assert r.returncode == 0, r.stderr
        published = int(r.stderr.rsplit("published", 1)[1].split()[0])
        assert published > 10
        wait_until(lambda: srv.get("/api/live/stats")["applied"] == published, what="all simulated messages")
    finally:
        srv.stop()
    assert not (tmp_path / "data" / "broker.url").exists()


@pytest.mark.parametrize("env, args, message", [
    ({"TWIN_MQTT_URL": "http://broker"}, [], "mqtt url='http://broker'"),
    ({"TWIN_DB_URL": "postgresql+psycopg://nobody@127.0.0.1:1/none"}, [], "database postgresql+psycopg://nobody@127.0.0.1:1/none is not usable"),
    ({}, ["--rules", "RULES"], "rule 'x': severity='loud'"),
    ({"TWIN_SECRET_KEY": "short"}, [], "TWIN_SECRET_KEY is 5 bytes long"),
    ({"TWIN_SECRET_KEY": ""}, [], "TWIN_SECRET_KEY is not set"),
    ({"TWIN_PAYMENT_SECRET": ""}, [], "TWIN_PAYMENT_SECRET is not set"),
    ({"TWIN_PAYMENT_SECRET": SERVE_SECRETS["TWIN_SECRET_KEY"]}, [], "must differ from TWIN_SECRET_KEY"),
    ({"TWIN_MQTT_URL": "mqtt://broker.example.com:1883"}, [], "plain MQTT to another machine"),
])
def test_serve_bad_configuration_is_one_line_exit_2(tmp_path, mqtt_url, env, args, message):
    folder, name, devices = write_site(tmp_path)
    rules = tmp_path / "rules.yaml"
    rules.write_text("rules:\n  - {id: x, offline: true, severity: loud}\n")
    args = [str(rules) if a == "RULES" else a for a in args]
    full_env = {"TWIN_MQTT_URL": mqtt_url, "TWIN_DB_URL": f"sqlite:///{tmp_path / 'db.sqlite'}",
                "TWIN_DATA_DIR": str(tmp_path / "data"), **env}
    r = run_cli("serve", "--site", str(folder), "--port", str(free_port()), *args, env=full_env, timeout=60)
    assert r.returncode == 2, r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1 and message in lines[0], r.stderr


def test_serve_refuses_demo_users(tmp_path, mqtt_url):
    """A database with `twin demo`'s logins (published password) is not served, unless the
    documented override is set."""
    from services.auth import create_user
    from services.db import Database

    folder, name, devices = write_site(tmp_path)
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    db = Database(url)
    db.migrate()
    with db.transaction() as session:
        create_user(session, username="admin", password="twin-demo-2026", role="admin", demo=True)
    db.dispose()
    env = {"TWIN_MQTT_URL": mqtt_url, "TWIN_DB_URL": url, "TWIN_DATA_DIR": str(tmp_path / "data")}
    r = run_cli("serve", "--site", str(folder), "--port", str(free_port()), env=env, timeout=60)
    assert r.returncode == 2, r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1 and "holds the demo users admin" in lines[0], r.stderr
    srv = Serve(folder, {**env, "TWIN_ALLOW_DEMO_USERS": "true"})
    try:
        assert srv.get("/api/health")["status"] == "ok"
    finally:
        srv.stop()

