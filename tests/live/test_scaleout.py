"""Ingestion workers on a shared subscription (docs/deploy.md, Scale-out).

- combination rules evaluated from the shared database: the two devices of ``fire`` (smoke +
  temperature rise in one space) delivered to two different workers raise ONE alarm;
- ``twin ingest --group``: two worker processes on one Mosquitto shared subscription and one
  PostgreSQL; one is killed (SIGKILL) mid-stream and restarted: every message stored
  exactly once.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from live.alarms import AlarmBook
from live.ingest import Pipeline
from live.registry import DeviceRegistry
from live.rules import DEFAULT_RULES_PATH, RuleEngine, load_rules
from live.shared_rules import SharedCombos
from live.state import LiveState
from live.store import LiveStore, combo_claims, telemetry
from services.migrations import upgrade
from tests.conftest import REPO, _pg_available, make_pg_database, run_cli
from tests.live.common import make_community, payload

T0 = 1_790_000_000.0  # event time of the timelines (2026-09-21), clock fixed near it


class Worker:
    """One ingestion worker in this process: its own state, rules and alarm book."""

    def __init__(self, community, url: str, name: str, *, shared: bool = True) -> None:
        self.registry = DeviceRegistry.from_community(community)
        self.state = LiveState(self.registry)
        self.book = AlarmBook()
        self.store = LiveStore(url)
        self.shared = SharedCombos(self.store.engine, worker=name, site=self.registry.site) if shared else None
        self.engine = RuleEngine(load_rules(DEFAULT_RULES_PATH), self.state, self.book, shared=self.shared)
        self.pipe = Pipeline(self.registry, self.state, store=self.store, rules=self.engine,
                             clock=lambda: T0 + 1000, max_age_s=1e9)

    def send(self, device: str, ts: float, channel: str = "telemetry", **values) -> str:
        return self.pipe.handle(f"twin/{self.registry.site}/{device}/{channel}", payload(ts, **values))

    def fires(self) -> list:
        return [a for a in self.book.list() if a.rule_id == "fire"]


def _hot(w: Worker, dev: str, t0: float) -> None:
    """A temperature rise of 10 °C within 60 s (rule temperature_rise: 8 °C in 120 s)."""
    for k, temp in enumerate((22.0, 27.0, 32.0)):
        assert w.send(dev, t0 + 30 * k, temperature_c=temp, humidity_pct=50.0) == "applied"


@pytest.fixture
def shared_db(db_url):
    store = LiveStore(db_url)
    upgrade(store.engine)
    store.dispose()
    return db_url


def test_fire_from_two_workers_is_raised_once(shared_db):
    """Smoke on worker A, the temperature rise of the same lobby on worker B: one fire alarm,
    raised by whichever saw the combination complete; an in-memory engine per worker (no
    shared database) misses it on both: the failure the shared evaluation exists for."""
    com = make_community()
    a, b = Worker(com, shared_db, "a"), Worker(com, shared_db, "b")
    assert a.send("B3-F05-smoke", T0 + 10, smoke=True, obscuration_pct_m=4.0) == "applied"
    _hot(b, "B3-F05-temp", T0 + 20)
    fires = a.fires() + b.fires()
    assert len(fires) == 1 and fires[0].space == "B3-F05-lobby" and fires[0].building == "B3"
    assert b.fires() and not a.fires()  # B completed it
    # later readings on either worker do not raise it again
    assert a.send("B3-F05-smoke", T0 + 120, smoke=True, obscuration_pct_m=5.0) == "applied"
    _hot(b, "B3-F05-temp", T0 + 130)
    assert len(a.fires() + b.fires()) == 1 and b.fires()[0].occurrences >= 1
    with a.store.engine.connect() as conn:
        assert conn.execute(sa.select(combo_claims.c.key)).scalars().all() == [f"{com.name}/fire:space:B3-F05-lobby"]
    # another storey: nothing
    assert not [x for x in a.fires() + b.fires() if x.space != "B3-F05-lobby"]

    local_a, local_b = Worker(com, shared_db, "la", shared=False), Worker(com, shared_db, "lb", shared=False)
    local_a.send("B3-F07-smoke", T0 + 10, smoke=True, obscuration_pct_m=4.0)
    _hot(local_b, "B3-F07-temp", T0 + 20)
    assert local_a.fires() == [] and local_b.fires() == []


def test_episode_ends_and_a_new_one_raises_again(shared_db):
    """When no member is active any more (and the window has passed) the claim is released by
    the periodic tick, and the next completion raises a second alarm, once."""
    com = make_community()
    a, b = Worker(com, shared_db, "a"), Worker(com, shared_db, "b")
    a.send("B3-F02-smoke", T0 + 10, smoke=True, obscuration_pct_m=4.0)
    _hot(b, "B3-F02-temp", T0 + 20)
    assert len(a.fires() + b.fires()) == 1
    # the once-a-second tick tells each worker which member tracks are active on any worker
    a.engine.tick(T0 + 100)
    b.engine.tick(T0 + 100)
    assert len(a.fires() + b.fires()) == 1
    # smoke clears on worker B (A saw it raised); the temperature falls back on worker A
    assert b.send("B3-F02-smoke", T0 + 200, smoke=False, obscuration_pct_m=0.1) == "applied"
    for k in range(3):
        a.send("B3-F02-temp", T0 + 210 + 30 * k, temperature_c=22.0, humidity_pct=50.0)
    later = T0 + 200 + 301 + 120  # past both windows (fire 300 s, temperature_rise 120 s)
    a.engine.tick(later)
    b.engine.tick(later)
    with a.store.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(combo_claims)).scalar_one() == 0
    assert [x.state for x in b.fires()] == ["cleared"]
    a.send("B3-F02-smoke", later + 10, smoke=True, obscuration_pct_m=4.0)
    _hot(b, "B3-F02-temp", later + 20)
    assert sorted(x.state for x in a.fires() + b.fires()) == ["cleared", "raised"]


def test_two_communities_in_one_database_never_combine(shared_db):
    """Same storey and device ids in two communities of one database: smoke in one and a
    temperature rise in the other are two places, not one fire."""
    x, y = make_community(), make_community()
    a, b = Worker(x, shared_db, "a"), Worker(y, shared_db, "b")
    a.send("B3-F05-smoke", T0 + 10, smoke=True, obscuration_pct_m=4.0)
    _hot(b, "B3-F05-temp", T0 + 20)
    a.engine.tick(T0 + 100)
    b.engine.tick(T0 + 100)
    assert a.fires() == [] and b.fires() == []
    # the other half in the right community completes each one
    b.send("B3-F05-smoke", T0 + 110, smoke=True, obscuration_pct_m=4.0)
    assert [f.space for f in b.fires()] == ["B3-F05-lobby"] and a.fires() == []


def test_simultaneous_halves_raise_exactly_once(shared_db):
    """The two halves arrive at the same moment on two threads (two workers) in 12 places:
    every place gets its alarm, once (each worker commits its track before it reads)."""
    com = make_community()
    a, b = Worker(com, shared_db, "a"), Worker(com, shared_db, "b")
    for i in range(1, 13):  # temperature readings before the rise, so only the last completes
        b.send(f"B3-F{i:02d}-temp", T0, temperature_c=22.0, humidity_pct=50.0)
        b.send(f"B3-F{i:02d}-temp", T0 + 30, temperature_c=26.0, humidity_pct=50.0)
    start = threading.Barrier(2)

    def smoke():
        for i in range(1, 13):
            start.wait()
            a.send(f"B3-F{i:02d}-smoke", T0 + 60, smoke=True, obscuration_pct_m=4.0)

    def heat():
        for i in range(1, 13):
            start.wait()
            b.send(f"B3-F{i:02d}-temp", T0 + 60, temperature_c=31.0, humidity_pct=50.0)

    threads = [threading.Thread(target=smoke), threading.Thread(target=heat)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    spaces = sorted(x.space for x in a.fires() + b.fires())
    assert spaces == [f"B3-F{i:02d}-lobby" for i in range(1, 13)]


# -- twin ingest: bad input ----------------------------------------------------------------
@pytest.mark.parametrize("args, env, message", [
    (["--group", "g1"], {"TWIN_MQTT_URL": ""}, "needs a broker"),
    (["--group", "a/b", "--mqtt", "mqtt://127.0.0.1:1"], {}, "group='a/b'"),
    (["--group", "a+", "--mqtt", "mqtt://127.0.0.1:1"], {}, "group='a+'"),
    (["--group", "g", "--mqtt", "mqtt://127.0.0.1:1", "--site", "sample_sites/tiny", "--sites", "sample_sites"],
     {}, "not both"),
    (["--group", "g", "--mqtt", "mqtt://127.0.0.1:1", "--sites", " , "], {}, "names no folder"),
    (["--group", "g", "--mqtt", "mqtt://127.0.0.1:1", "--sites", "twin"], {}, "no sub-folder with a site.json"),
    (["--group", "g", "--mqtt", "mqtt://127.0.0.1:1", "--worker", "-1"], {}, "greater than or equal to 0"),
])
def test_ingest_refuses_bad_input_with_one_line(args, env, message, tmp_path):
    r = run_cli("ingest", *args, env={"TWIN_DATA_DIR": str(tmp_path), **env})
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert message in r.stderr and "Traceback" not in r.stderr


# -- worker processes on a broker ---------------------------------------------------------
def _pg_url():
    if not _pg_available():
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL is not reachable on 127.0.0.1:5432 in CI")
        pytest.skip("PostgreSQL is not reachable on 127.0.0.1:5432")
    return make_pg_database()


def _ingest(site: Path, env: dict, group: str, client_id: str, log) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "services", "ingest", "--group", group, "--site", str(site),
                             "--client-id", client_id], cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)


def _end_sessions(mqtt_url: str, client_ids: list[str]) -> None:
    """Remove the persistent sessions a test left on the broker (clean start, no expiry)."""
    from live.broker import parse_mqtt_url
    from live.client import connect_kwargs, make_client

    u = parse_mqtt_url(mqtt_url)
    for cid in client_ids:
        c = make_client(u, cid, persistent=False)
        try:
            c.connect(**connect_kwargs(u, persistent=False, session_expiry_s=0))
            c.loop(0.2)
            c.disconnect()
        except OSError:
            pass


def _stored(url: str) -> tuple[int, int]:
    eng = sa.create_engine(url)
    try:
        with eng.connect() as conn:
            n = conn.execute(sa.select(sa.func.count()).select_from(telemetry)).scalar_one()
            d = conn.execute(sa.select(sa.func.count(sa.distinct(telemetry.c.seq)))).scalar_one()
        return n, d
    finally:
        eng.dispose()


def _wait(cond, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(0.1)
    pytest.fail(f"timed out waiting for {what}")


@pytest.mark.slow
def test_two_ingest_workers_one_killed_nothing_lost(mqtt_url, tmp_path):
    """2 ``twin ingest`` processes share ``$share/<group>/twin/tiny/+/+``; 3,000 QoS 1 messages
    paced over ~6 s; worker 1 is SIGKILLed mid-stream and started again (same client id:
    it takes its persistent session back): every message is stored exactly once."""
    from live.broker import parse_mqtt_url
    from live.client import connect_kwargs, make_client

    url, drop = _pg_url()
    site = REPO / "sample_sites" / "tiny"
    tag = uuid.uuid4().hex[:6]
    env = {**os.environ, "TWIN_DB_URL": url, "TWIN_MQTT_URL": mqtt_url, "TWIN_DATA_DIR": str(tmp_path / "data"),
           "PYTHONPATH": str(REPO)}
    env.pop("TWIN_MQTT_CREDENTIALS_FILE", None)
    meters = [line.split(",")[0] for line in (site / "registers" / "devices.csv").read_text().splitlines()
              if ",meter_electricity," in line]
    group, ids = f"g{tag}", [f"t-{tag}-0", f"t-{tag}-1"]
    log = open(tmp_path / "workers.log", "w")
    procs = []
    pub = None
    try:
        store = LiveStore(url)  # migrated once, before the workers start (docs/deploy.md)
        upgrade(store.engine)
        store.dispose()
        # a group and client ids of this run only (the broker may be shared with other runs)
        procs = [_ingest(site, env, group, ids[i], log) for i in range(2)]
        _wait(lambda: (tmp_path / "workers.log").read_text().count("ingesting ") >= 2, 120, "two workers")
        time.sleep(1.0)
        u = parse_mqtt_url(mqtt_url)
        pub = make_client(u, f"pub-{tag}", persistent=False)
        pub.connect(**connect_kwargs(u, persistent=False, session_expiry_s=0))
        pub.loop_start()
        n, t_start = 3000, time.time()
        infos = []
        for i in range(n):
            due = t_start + i / 500.0
            if due > time.time():
                time.sleep(due - time.time())
            body = json.dumps({"ts": time.time(), "seq": i, "energy_kwh": float(i), "power_kw": 1.0})
            infos.append(pub.publish(f"twin/tiny/{meters[i % len(meters)]}/telemetry", body, qos=1))
            if i == n // 2:
                procs[1].send_signal(signal.SIGKILL)
                procs[1].wait(10)
        _wait(lambda: all(x.is_published() for x in infos), 60, "broker acks of the publisher")
        time.sleep(3.0)
        killed_gap = n - _stored(url)[0]  # what waits in the killed worker's session
        procs[1] = _ingest(site, env, group, ids[1], log)  # the same worker again: same client id
        stored, distinct = _wait(lambda: (lambda s: s if s[0] >= n else None)(_stored(url)), 120, "all stored")
        time.sleep(1.0)
        stored, distinct = _stored(url)
        assert (stored, distinct) == (n, n), (stored, distinct, killed_gap)
    finally:
        if pub is not None:
            pub.disconnect()
            pub.loop_stop()
        for p in procs:
            if p.poll() is None:
                p.terminate()
        for p in procs:
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
        log.close()
        _end_sessions(mqtt_url, ids)
        drop()


def test_one_session_feeds_the_pipeline_of_each_site(mqtt_url):
    """A worker with several sites has one MQTT session subscribing each site's shared topics;
    a message reaches the pipeline of its site segment."""
    from live.broker import parse_mqtt_url
    from live.client import MqttIngestor, connect_kwargs, make_client

    x, y = make_community(), make_community()
    px, py = (Pipeline(DeviceRegistry.from_community(c)) for c in (x, y))
    u = parse_mqtt_url(mqtt_url)
    tag = uuid.uuid4().hex[:6]
    ing = MqttIngestor([px, py], u, group=f"g{tag}", client_id=f"multi-{tag}").start(wait_s=10)
    assert ing.topics == [f"$share/g{tag}/twin/{x.name}/+/+", f"$share/g{tag}/twin/{y.name}/+/+"]
    pub = make_client(u, f"pub-{tag}", persistent=False)
    try:
        pub.connect(**connect_kwargs(u, persistent=False, session_expiry_s=0))
        pub.loop_start()
        time.sleep(0.5)
        for i in range(5):
            pub.publish(f"twin/{x.name}/B1-meter_electricity/telemetry",
                        payload(None, energy_kwh=float(i), power_kw=1.0), qos=1)
        for i in range(3):
            pub.publish(f"twin/{y.name}/B1-meter_water/telemetry", payload(None, volume_m3=float(i)), qos=1)
        _wait(lambda: px.stats()["received"] >= 5 and py.stats()["received"] >= 3, 20, "both sites")
        time.sleep(0.3)
        assert (px.stats()["applied"], py.stats()["applied"]) == (5, 3)
        assert px.stats()["dead_lettered"] == py.stats()["dead_lettered"] == 0
    finally:
        pub.disconnect()
        pub.loop_stop()
        ing.stop()
        _end_sessions(mqtt_url, [f"multi-{tag}"])
