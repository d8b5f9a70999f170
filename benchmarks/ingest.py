"""Ingestion benchmark: bare paho vs the full pipeline (1 and 2 workers), latency, zero loss.

Run from the repository root::

    python benchmarks/ingest.py [--messages 20000] [--rate 2000] [--devices 200] [--phases throughput,latency,loss]

Everything runs in this one invocation on one broker (a Mosquitto started on a free port
with persistence in a temporary folder; ``--mqtt URL`` to use another):

1. baseline: the publisher process queues N messages (QoS 1) in the persistent session of
   a bare paho-mqtt subscriber (MQTT 5) that is offline; the subscriber then reconnects and
   drains them: msgs/s from its first to its last message (consumer capacity, independent
   of how fast the publisher is);
2. the full pipeline (``twin serve``: validation, state, rules, SQLite batches, every
   subscriber and durable consumer on — WebSocket hub, alarm store, metering (every meter
   feeds a flat), alarm → work order — with a connected WebSocket client) drains the same N from its own session with 1 worker,
   then with 2 workers on a shared subscription; msgs/s from the first to the last message
   received (the workers' ``first_received_at`` / ``last_received_at``);
3. latency publish → WebSocket at a paced ``--rate`` (default 2,000 msgs/s) and at a
   quarter of it: p50 / p99 (payload ``ts`` = publish time, same clock); and the metering
   consumer's lag (receipt → committed meter point) p99;
4. zero loss: a paced stream during which the service is stopped and restarted and then
   the broker is restarted; the messages stored in the database are counted end to end.

Prints one table; ratios are against the baseline measured in the same run, both in
wall-clock msgs/s and in msgs per CPU second of the consuming process(es) (robust to other
load on the machine; the pipeline's CPU excludes start-up: it is read at its first and last
message).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from live.broker import parse_mqtt_url  # noqa: E402
from live.client import connect_kwargs, make_client  # noqa: E402


def log(msg: str) -> None:
    sys.stderr.write(f"[ingest-bench] {msg}\n")
    sys.stderr.flush()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(cond, timeout: float, step: float = 0.02, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(step)
    raise TimeoutError(what)


# -- broker ---------------------------------------------------------------------------------
class Mosquitto:
    def __init__(self, folder: Path, port: int) -> None:
        self.folder, self.port = folder, port
        self.proc = None

    def start(self) -> "Mosquitto":
        exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        self.folder.mkdir(parents=True, exist_ok=True)
        user = "root" if os.geteuid() == 0 else "mosquitto"
        conf = self.folder / "mosquitto.conf"
        conf.write_text(f"user {user}\nlistener {self.port} 127.0.0.1\nallow_anonymous true\npersistence true\n"
                        f"persistence_location {self.folder}/\nautosave_interval 5\nmax_queued_messages 1000000\n"
                        "max_inflight_messages 0\n")
        self.proc = subprocess.Popen([exe, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        def up():
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return True
            except OSError:
                return False
        wait_for(up, 10, what="mosquitto")
        return self

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=20)


# -- site -----------------------------------------------------------------------------------
def write_site(folder: Path, name: str, n_devices: int) -> list[str]:
    (folder / "gis").mkdir(parents=True)
    (folder / "registers").mkdir()
    ring = [[500000, 3380000], [500030, 3380000], [500030, 3380030], [500000, 3380030], [500000, 3380000]]
    (folder / "gis" / "buildings.geojson").write_text(json.dumps({
        "type": "FeatureCollection", "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::4547"}},
        "features": [{"type": "Feature", "properties": {"id": "B1", "name": "B1", "floors": 20, "height_m": 60},
                      "geometry": {"type": "Polygon", "coordinates": [ring]}}]}))
    ids = [f"M{i:04d}" for i in range(n_devices)]
    # every meter feeds its own flat, so the metering consumer has work on every message
    rows = ["id,kind,name,building,storey,space,x,y,z,feeds,ifc_guid"]
    rows += [f"{d},meter_electricity,{d},B1,B1-F{(i % 20) + 1:02d},,,,,U{d}," for i, d in enumerate(ids)]
    (folder / "registers" / "devices.csv").write_text("\n".join(rows) + "\n")
    units = ["id,kind,building,storey,space,feature,area_m2,owner,phone"]
    units += [f"U{d},apartment,B1,B1-F{(i % 20) + 1:02d},,,90.00,," for i, d in enumerate(ids)]
    (folder / "registers" / "billing_units.csv").write_text("\n".join(units) + "\n")
    (folder / "site.json").write_text(json.dumps({
        "name": name, "crs": "EPSG:4547", "layers": {"buildings": "gis/buildings.geojson"},
        "registers": {"devices": "registers/devices.csv", "billing_units": "registers/billing_units.csv"}}))
    return ids


# -- publisher process ----------------------------------------------------------------------
def publisher(url: str, site: str, ids: list[str], start_seq: int, n: int, rate: float | None, out) -> None:
    """Publish n QoS 1 messages round-robin over the devices (rate msgs/s, None = flat out).

    Waits out broker outages (a device keeps its outbox): a message counts as sent once the
    broker acknowledged it. Reports (t_start, t_end, sent) on ``out``.
    """
    u = parse_mqtt_url(url)
    c = make_client(u, f"bench-pub-{os.getpid()}", persistent=False)
    c.reconnect_delay_set(min_delay=0.2, max_delay=1)
    c.connect(**connect_kwargs(u, persistent=False, session_expiry_s=0))
    c.loop_start()
    wait_for(c.is_connected, 10, what="publisher connect")
    topics = [f"twin/{site}/{d}/telemetry" for d in ids]
    pending: list = []
    t0 = time.time()
    i = 0
    while i < n:
        if rate:
            due = t0 + i / rate
            d = due - time.time()
            if d > 0:
                time.sleep(d)
        if not c.is_connected():
            time.sleep(0.05)
            continue
        seq = start_seq + i
        now = time.time()
        body = json.dumps({"ts": now, "seq": seq, "energy_kwh": float(seq), "power_kw": 1.0}).encode()
        info = c.publish(topics[seq % len(topics)], body, qos=1)
        if info.rc != 0:  # not queued: the broker went away; retry this one
            time.sleep(0.05)
            continue
        pending.append(info)
        i += 1
        if len(pending) > 20000:
            pending = _settle(pending)
    deadline = time.time() + 120
    while pending and time.time() < deadline:
        time.sleep(0.02)
        pending = _settle(pending)
    out.put((t0, time.time(), n - len(pending)))
    c.disconnect()
    c.loop_stop()


def _settle(pending: list) -> list:
    """Messages the broker has not acknowledged yet (paho re-sends them after a reconnect)."""
    return [p for p in pending if not p.is_published()]


# -- bare paho subscriber -------------------------------------------------------------------
def bare_subscriber(url: str, client_id: str, topic: str, n: int, out) -> None:
    """Resume a persistent session holding n queued messages; report (first, last, count)."""
    import paho.mqtt.client as mqtt

    u = parse_mqtt_url(url)
    c = make_client(u, client_id, persistent=True, client_class=mqtt.Client)  # stock paho
    state = {"count": 0, "first": None, "last": None, "cpu0": None, "cpu1": None}

    def on_message(client, userdata, msg):
        now = time.time()
        if state["first"] is None:
            state["first"] = now
            state["cpu0"] = time.process_time()
        state["count"] += 1
        state["last"] = now
        state["cpu1"] = time.process_time()

    def on_connect(client, userdata, flags, rc, props):
        client.subscribe(topic, options=mqtt.SubscribeOptions(qos=1))
    c.on_message = on_message
    c.on_connect = on_connect
    c.connect(**connect_kwargs(u, persistent=True, session_expiry_s=3600))
    c.loop_start()
    wait_for(lambda: state["count"] >= n, 600, step=0.01, what="bare subscriber")
    out.put((state["first"], state["last"], state["count"], state["cpu1"] - state["cpu0"]))
    c.disconnect()
    c.loop_stop()


def make_session(url: str, client_id: str, topic: str) -> None:
    """Create a persistent QoS 1 session subscribed to topic, then leave it offline."""
    import paho.mqtt.client as mqtt

    u = parse_mqtt_url(url)
    c = make_client(u, client_id, persistent=True)
    c.connect(**connect_kwargs(u, persistent=True, session_expiry_s=3600))
    c.loop_start()
    wait_for(c.is_connected, 10, what="session connect")
    info = c.subscribe(topic, options=mqtt.SubscribeOptions(qos=1))
    time.sleep(0.3)
    c.disconnect()
    c.loop_stop()


# -- twin serve -----------------------------------------------------------------------------
#: `twin serve` refuses to start without its two secrets; the benchmark makes throwaway ones
#: (the caller's own, when set, win).
SECRETS = {"TWIN_SECRET_KEY": os.environ.get("TWIN_SECRET_KEY") or secrets.token_hex(32),
           "TWIN_PAYMENT_SECRET": os.environ.get("TWIN_PAYMENT_SECRET") or secrets.token_hex(32)}


#: The benchmark's login (the live API and /ws/live answer logged-in users only).
BENCH_USER, BENCH_PASSWORD = "ingest-bench", "bench-" + secrets.token_hex(8)


class Serve:
    def __init__(self, site_dir: Path, env: dict, *extra: str, wait: bool = True) -> None:
        self.env = env
        self._token: str | None = None
        self.port = free_port()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "services", "serve", "--site", str(site_dir), "--port", str(self.port), *extra],
            cwd=REPO, env={**os.environ, "TWIN_LOG_LEVEL": "WARNING", **SECRETS, **env},
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if wait:
            self.wait()

    def wait(self) -> "Serve":
        wait_for(lambda: self.health() == 200, 180, step=0.1, what="twin serve health")
        return self

    def health(self):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/api/health", timeout=2) as r:
                return r.status
        except Exception:
            return None

    def token(self) -> str:
        """A bearer token of the benchmark's admin login in this service's database (created
        once per database: `twin users create` refuses a second one, which is fine)."""
        if self._token is None:
            subprocess.run([sys.executable, "-m", "services", "users", "create", "--username", BENCH_USER,
                            "--password", BENCH_PASSWORD, "--role", "admin"], cwd=REPO,
                           env={**os.environ, **SECRETS, **self.env}, capture_output=True, timeout=120)
            body = f"username={BENCH_USER}&password={BENCH_PASSWORD}".encode()
            req = urllib.request.Request(f"http://127.0.0.1:{self.port}/api/auth/token", data=body,
                                         headers={"Content-Type": "application/x-www-form-urlencoded"})
            with urllib.request.urlopen(req, timeout=10) as r:
                self._token = json.loads(r.read())["access_token"]
        return self._token

    def stats(self) -> dict:
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}/api/live/stats",
                                     headers={"Authorization": f"Bearer {self.token()}"})
        with urllib.request.urlopen(req, timeout=5) as r:
            return json.loads(r.read())

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


async def ws_collect(port: int, n: int, latencies: list | None, timeout: float,
                     token: str) -> tuple[float, int]:
    """Receive telemetry events until n arrived; return (time of the last one, count)."""
    import websockets

    count, last = 0, 0.0
    async with websockets.connect(f"ws://127.0.0.1:{port}/ws/live?types=telemetry", max_size=None,
                                  compression=None, subprotocols=["twin.v1", f"bearer.{token}"]) as ws:
        await ws.recv()  # snapshot
        ws_ready.set()

        async def receive() -> None:
            # lean on purpose (this client shares the machine's cores with the pipeline): no
            # timer per message, and JSON parsed only where the latency is needed
            nonlocal count, last
            async for raw in ws:
                if latencies is None:
                    if not raw.startswith('{"type":"telemetry"'):
                        continue
                    count += 1
                    last = time.time()
                else:
                    now = time.time()
                    ev = json.loads(raw)
                    if ev.get("type") != "telemetry":
                        continue
                    count += 1
                    last = now
                    latencies.append(now - ev["ts_epoch"])
                if count >= n or stop_ws.is_set():
                    return

        async def stopper() -> None:
            while not stop_ws.is_set():
                await asyncio.sleep(0.1)

        tasks = [asyncio.create_task(receive()), asyncio.create_task(stopper())]
        await asyncio.wait(tasks, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        for t in tasks:
            t.cancel()
    return last, count


ws_ready = None
stop_ws = None


def run_ws(srv, n, latencies, timeout, result):
    global ws_ready, stop_ws
    import threading

    ws_ready = threading.Event()
    stop_ws = threading.Event()
    token = srv.token()

    def target():
        result.append(asyncio.run(ws_collect(srv.port, n, latencies, timeout, token)))
    th = threading.Thread(target=target, daemon=True)
    th.start()
    ws_ready.wait(10)
    return th


def percentile(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    if not xs:
        return float("nan")
    k = (len(xs) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


# -- phases ---------------------------------------------------------------------------------
def publish_all(url, site, ids, seq0, n, rate=None):
    ctx = mp.get_context("spawn")
    pout = ctx.Queue()
    pub = ctx.Process(target=publisher, args=(url, site, ids, seq0, n, rate, pout))
    pub.start()
    t0, t1, sent = pout.get(timeout=600)
    pub.join()
    return t0, t1, sent


def phase_bare(url, site, ids, n, seq0):
    """Consumer capacity of a bare paho subscriber: drain n messages queued in its session."""
    ctx = mp.get_context("spawn")
    cid = f"bench-bare-{os.getpid()}"
    make_session(url, cid, f"twin/{site}/+/+")
    t0, t1, _ = publish_all(url, site, ids, seq0, n)
    out = ctx.Queue()
    sub = ctx.Process(target=bare_subscriber, args=(url, cid, f"twin/{site}/+/+", n, out))
    sub.start()
    first, last, count, cpu = out.get(timeout=600)
    sub.join()
    return {"rate": count / (last - first), "count": count, "pub_rate": n / (t1 - t0), "cpu_rate": count / cpu}


def phase_pipeline(url, site_dir, site, ids, n, workers, tmp, seq0):
    """Consumer capacity of the full pipeline: `twin serve` workers drain n queued messages
    (validation, state, rules, SQLite batches, events to a connected WebSocket client)."""
    env = {"TWIN_MQTT_URL": url, "TWIN_DB_URL": f"sqlite:///{tmp / f'w{workers}-{seq0}.sqlite'}",
           "TWIN_DATA_DIR": str(tmp / "data")}

    def extra(i):
        base = ("--client-id", f"bench-w{workers}-{i}-{seq0}")
        return base + (("--group", f"bench{seq0}") if workers > 1 else ())
    servers = [Serve(site_dir, env, *extra(i)) for i in range(workers)]
    for srv in servers:   # sessions exist; now away while the messages are queued
        srv.stop()
    publish_all(url, site, ids, seq0, n)
    servers = [Serve(site_dir, env, *extra(i), wait=False) for i in range(workers)]  # start together
    for srv in servers:
        srv.wait()
    try:
        result: list = []
        th = run_ws(servers[0], n, None, 600, result)

        def done():
            stats = [srv.stats() for srv in servers]
            return sum(s["applied"] for s in stats) >= n and stats
        stats = wait_for(done, 600, step=0.25, what="workers")
        stop_ws.set()
        th.join(60)
        first = min(s["first_received_at"] for s in stats)
        last = max(s["last_received_at"] for s in stats)
        cpu = sum(s["last_received_cpu_s"] - s["first_received_cpu_s"] for s in stats)
        ws_count = result[0][1] if result else 0
        return {"rate": n / (last - first), "applied": [s["applied"] for s in stats], "ws": ws_count,
                "cpu_rate": n / cpu}
    finally:
        for s in servers:
            s.stop()


def phase_latency(url, site_dir, site, ids, rate, seconds, tmp, seq0):
    ctx = mp.get_context("spawn")
    env = {"TWIN_MQTT_URL": url, "TWIN_DB_URL": f"sqlite:///{tmp / 'lat.sqlite'}", "TWIN_DATA_DIR": str(tmp / "data")}
    env = {**env, "TWIN_DB_URL": f"sqlite:///{tmp / f'lat{seq0}.sqlite'}"}
    srv = Serve(site_dir, env)
    n = int(rate * seconds)
    try:
        lat: list[float] = []
        result: list = []
        th = run_ws(srv, n, lat, seconds + 60, result)
        pout = ctx.Queue()
        pub = ctx.Process(target=publisher, args=(url, site, ids, seq0, n, rate, pout))
        pub.start()
        t_start, t_end, _ = pout.get(timeout=300)
        pub.join()
        th.join(120)
        consumers = wait_for(lambda: _caught_up(srv), 120, step=0.25, what="durable consumers caught up")
        return {"n": n, "received": len(lat), "achieved_rate": n / (t_end - t_start),
                "consumer_lag_p99_s": consumers["metering"]["lag_p99_s"],
                "consumer_rows": consumers["metering"]["applied_rows"],
                "p50_ms": 1000 * percentile(lat, 0.5), "p99_ms": 1000 * percentile(lat, 0.99),
                "max_ms": 1000 * max(lat) if lat else float("nan")}
    finally:
        srv.stop()


def _caught_up(srv) -> dict | None:
    """The durable consumers' stats once every stored message reached them."""
    s = srv.stats()
    c = s.get("consumers", {})
    if "metering" in c and s["pending_writes"] == 0 and c["metering"]["applied_rows"] >= s["stored"]:
        return c
    return None


def phase_zero_loss(broker: Mosquitto, url, site_dir, site, ids, rate, seconds, tmp, seq0):
    """Paced stream; service restart at 25 %, broker restart at 60 %; count stored rows."""
    import sqlalchemy as sa

    ctx = mp.get_context("spawn")
    db = f"sqlite:///{tmp / 'zero.sqlite'}"
    env = {"TWIN_MQTT_URL": url, "TWIN_DB_URL": db, "TWIN_DATA_DIR": str(tmp / "data")}
    n = int(rate * seconds)
    srv = Serve(site_dir, env)
    pout = ctx.Queue()
    pub = ctx.Process(target=publisher, args=(url, site, ids, seq0, n, rate, pout))
    pub.start()
    time.sleep(seconds * 0.25)
    log("  stopping the service")
    srv.stop()
    time.sleep(seconds * 0.1)
    srv = Serve(site_dir, env)
    log("  service back; restarting the broker")
    time.sleep(seconds * 0.2)
    broker.stop()
    time.sleep(0.5)
    broker.start()
    log("  broker back")
    _t0, _t1, sent = pout.get(timeout=600)
    pub.join()
    engine = sa.create_engine(db)

    def stored():
        with engine.connect() as conn:
            return conn.execute(sa.text("SELECT COUNT(DISTINCT seq) FROM live_telemetry WHERE seq >= :a"),
                                {"a": seq0}).scalar_one()
    try:
        wait_for(lambda: stored() >= sent, 120, step=0.2, what="all stored")
    except TimeoutError:
        pass
    got = stored()
    srv.stop()
    engine.dispose()
    return {"sent": sent, "stored": got, "lost": sent - got}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--messages", type=int, default=20000)
    ap.add_argument("--rate", type=float, default=2000.0, help="paced rate for latency and zero-loss (msgs/s)")
    ap.add_argument("--seconds", type=float, default=5.0, help="duration of the paced phases (s)")
    ap.add_argument("--devices", type=int, default=200)
    ap.add_argument("--mqtt", default=None, help="use this broker (the broker restart phase is skipped)")
    ap.add_argument("--phases", default="throughput,latency,loss",
                    help="comma-separated subset of throughput,latency,loss (default: all)")
    args = ap.parse_args()
    phases = set(args.phases.split(","))
    unknown = phases - {"throughput", "latency", "loss"}
    if unknown:
        ap.error(f"unknown phase(s): {', '.join(sorted(unknown))}")
    tmp = Path(tempfile.mkdtemp(prefix="twin-ingest-bench-"))
    site = f"bench{os.getpid()}"
    site_dir = tmp / site
    ids = write_site(site_dir, site, args.devices)
    broker = None
    if args.mqtt:
        url = args.mqtt
    else:
        port = free_port()
        broker = Mosquitto(tmp / "broker", port).start()
        url = f"mqtt://127.0.0.1:{port}"
    rows = []
    try:
        n = args.messages
        if "throughput" in phases:
            log(f"baseline: bare paho subscriber drains {n} queued messages")
            bare = phase_bare(url, site, ids, n, 0)
            log("full pipeline, 1 worker, drains the same")
            one = phase_pipeline(url, site_dir, site, ids, n, 1, tmp, 1_000_000)
            log("full pipeline, 2 workers (shared subscription)")
            two = phase_pipeline(url, site_dir, site, ids, n, 2, tmp, 2_000_000)
            rows.append(("bare paho subscriber (baseline), wall", f"{bare['rate']:,.0f} msgs/s", "1.00",
                         f"publisher alone {bare['pub_rate']:,.0f} msgs/s"))
            rows.append(("full pipeline, 1 worker, wall", f"{one['rate']:,.0f} msgs/s", f"{one['rate'] / bare['rate']:.2f}",
                         f"WebSocket client got {one['ws']}/{n}"))
            rows.append(("full pipeline, 2 workers, wall", f"{two['rate']:,.0f} msgs/s", f"{two['rate'] / bare['rate']:.2f}",
                         f"split {two['applied']}"))
            rows.append(("bare paho subscriber, per CPU second", f"{bare['cpu_rate']:,.0f} msgs/CPU-s", "1.00",
                         "consumer process CPU only"))
            rows.append(("full pipeline, 1 worker, per CPU second", f"{one['cpu_rate']:,.0f} msgs/CPU-s",
                         f"{one['cpu_rate'] / bare['cpu_rate']:.2f}", ""))
            rows.append(("full pipeline, 2 workers, per CPU second", f"{two['cpu_rate']:,.0f} msgs/CPU-s",
                         f"{two['cpu_rate'] / bare['cpu_rate']:.2f}", "both workers' CPU"))
        if "latency" in phases:
            low = args.rate / 4
            for rate, seq0 in ((args.rate, 3_000_000), (low, 3_500_000)):
                log(f"latency at {rate:g} msgs/s")
                lat = phase_latency(url, site_dir, site, ids, rate, args.seconds, tmp, seq0)
                rows.append((f"latency publish→WebSocket at {rate:g} msgs/s",
                             f"p50 {lat['p50_ms']:.1f} ms, p99 {lat['p99_ms']:.1f} ms", "",
                             f"max {lat['max_ms']:.1f} ms, {lat['received']}/{lat['n']} received, "
                             f"achieved {lat['achieved_rate']:,.0f} msgs/s"))
                rows.append((f"durable consumer lag at {rate:g} msgs/s", f"p99 {lat['consumer_lag_p99_s']:.2f} s", "",
                             f"metering, receipt → committed meter point, {lat['consumer_rows']} rows"))
        if "loss" in phases and broker is not None:
            log("zero loss across a service restart and a broker restart")
            zero = phase_zero_loss(broker, url, site_dir, site, ids, min(args.rate, 1000.0), max(args.seconds, 8), tmp, 4_000_000)
            rows.append(("zero loss (service + broker restart, QoS 1)", f"lost {zero['lost']}", "",
                         f"sent {zero['sent']}, stored {zero['stored']}"))
    finally:
        if broker is not None:
            broker.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"ingest benchmark: {args.messages} messages, {args.devices} devices, {os.cpu_count()} CPUs")
    print(f"{'case':48} {'figure':34} {'ratio':6} notes")
    for case, fig, ratio, note in rows:
        print(f"{case:48} {fig:34} {ratio:6} {note}")


if __name__ == "__main__":
    main()
