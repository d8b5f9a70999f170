"""Scale-out benchmark: ingestion workers on a shared subscription, 10 communities, PostgreSQL.

Run from the repository root::

    python benchmarks/scaleout.py [--communities 10] [--speed 30] [--steady-s 900] [--json]

Everything runs in this one invocation, on one Mosquitto (started on a free port, persistence
in a temporary folder) and one PostgreSQL (``TWIN_TEST_PG_URL``'s server; a fresh database
per configuration):

1. ten generated communities (8 towers × 18 storeys × 4 flats each: an electricity, a water
   and a gas meter per flat, a smoke detector, a thermometer and a leak sensor per storey:
   2,160 devices, 21,600 in all) written as site folders; their messages come from the
   device simulator (``live.simulator``) at each kind's real report period (``twin/kinds.py``);
2. for 1 and 2 worker processes (the code of ``twin ingest --group``: one persistent MQTT 5
   session per worker subscribing ``$share/{group}/twin/{site}/+/+`` for each site):
   - burst: every device's first report (the simulator starts every device within a
     minute) published flat out: throughput msgs/s from the first publish to the last
     commit, msgs per CPU second of the workers (robust to other load on the machine), and
     p99 publish → stored;
   - steady: the next ``--steady-s`` of simulated time at ``--speed`` × real time: the
     offered rate, and p99 publish → stored;
3. kill: 2 workers drain a burst; worker 2 gets SIGKILL once a third is stored, then starts
   again under the same client id; stored rows are counted (exactly once each: the table is
   unique on device + channel + ts + seq).

publish → stored: the payload ``ts`` is the publish time; each worker records, for every
reading it writes, the time its transaction committed (same machine, same clock).
Ratios (2 workers / 1 worker) are measured in the same run. On a machine with few cores
shared with other work (publisher, broker, database and workers all on one host) a second
worker may not add throughput: the figures say what this host did.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import signal
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402

from benchmarks.ingest import Mosquitto, free_port, wait_for  # noqa: E402

PG_ADMIN = os.environ.get("TWIN_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
KINDS_PER_FLAT = (("EM", "meter_electricity"), ("WM", "meter_water"), ("GM", "meter_gas"))
KINDS_PER_STOREY = (("SD", "smoke_detector"), ("TH", "temp_humidity"), ("LK", "leak_sensor"))


def log(msg: str) -> None:
    sys.stderr.write(f"[scaleout] {msg}\n")
    sys.stderr.flush()


# -- communities ------------------------------------------------------------------------------
def write_community(folder: Path, name: str, buildings: int, storeys: int, flats: int) -> int:
    """A GIS-only site folder with its device register; return the number of devices."""
    (folder / "gis").mkdir(parents=True)
    (folder / "registers").mkdir()
    feats = []
    for b in range(buildings):
        x0 = 500000 + 40 * b
        ring = [[x0, 3380000], [x0 + 30, 3380000], [x0 + 30, 3380020], [x0, 3380020], [x0, 3380000]]
        feats.append({"type": "Feature", "properties": {"id": f"B{b + 1}", "name": f"{b + 1}号楼", "floors": storeys,
                                                        "height_m": 2.9 * storeys},
                      "geometry": {"type": "Polygon", "coordinates": [ring]}})
    (folder / "gis" / "buildings.geojson").write_text(json.dumps({
        "type": "FeatureCollection", "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::4547"}},
        "features": feats}))
    rows = ["id,kind,name,building,storey,space,x,y,z,feeds,ifc_guid"]
    for b in range(1, buildings + 1):
        for s in range(1, storeys + 1):
            storey = f"B{b}-F{s:02d}"
            for f in range(1, flats + 1):
                for tag, kind in KINDS_PER_FLAT:
                    rows.append(f"{name}-B{b}-{s:02d}{f:02d}-{tag},{kind},{tag},B{b},{storey},,,,,,")
            for tag, kind in KINDS_PER_STOREY:
                rows.append(f"{name}-B{b}-F{s:02d}-{tag},{kind},{tag},B{b},{storey},,,,,,")
    (folder / "registers" / "devices.csv").write_text("\n".join(rows) + "\n")
    (folder / "site.json").write_text(json.dumps({
        "name": name, "crs": "EPSG:4547", "layers": {"buildings": "gis/buildings.geojson"},
        "registers": {"devices": "registers/devices.csv"}}))
    return len(rows) - 1


def streams(folders: list[Path], start: float, steady_s: float) -> tuple[list, list]:
    """(burst, steady) lists of ``(sim_t, topic, payload)``: every device's first report
    (the first simulated minute), then ``steady_s`` of simulated time at real periods."""
    from live.registry import DeviceInfo, DeviceRegistry
    from live.simulator import DeviceSimulator

    burst, steady = [], []
    for k, folder in enumerate(folders):
        name = json.loads((folder / "site.json").read_text())["name"]
        lines = (folder / "registers" / "devices.csv").read_text().splitlines()[1:]
        infos = [DeviceInfo(c[0], c[1], c[2], c[3], c[4], None, name) for c in (ln.split(",") for ln in lines)]
        sim = DeviceSimulator(DeviceRegistry(name, infos), seed=k, heartbeats=False)
        for t, topic, body in sim.messages(start, 60.0 + steady_s):
            (burst if t < start + 60.0 else steady).append((t, topic, body))
    steady.sort(key=lambda m: m[0])
    return burst, steady


# -- database ---------------------------------------------------------------------------------
def new_database() -> tuple[str, callable]:
    import sqlalchemy as sa

    from live.store import LiveStore
    from services.migrations import upgrade

    name = f"twin_scaleout_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    store = LiveStore(url)
    upgrade(store.engine)  # migrated once, before any worker starts
    store.dispose()

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    return url, drop


def stored(url: str) -> tuple[int, int]:
    """(rows, distinct device+channel+ts+seq keys) in live_telemetry."""
    import sqlalchemy as sa

    eng = sa.create_engine(url)
    try:
        with eng.connect() as conn:
            return tuple(conn.execute(sa.text(
                "SELECT count(*), count(DISTINCT (device_id, channel, ts, seq)) FROM live_telemetry")).one())
    finally:
        eng.dispose()


# -- worker process ---------------------------------------------------------------------------
def worker_main(folders: list[str], env: dict, group: str, client_id: str, out: str) -> None:
    """One ingestion worker (the code of ``twin ingest``) that also records, per written
    reading, its payload ts and the commit time; saved to ``out`` on SIGTERM."""
    os.environ.update(env)
    import logging

    logging.basicConfig(level=logging.WARNING)
    from services.cli.ingest import build_workers, start_workers, stop_workers
    from services.settings import get_settings

    comps = build_workers(get_settings(), [Path(f) for f in folders], group=group, client_id=client_id)
    ts_parts, done_parts, batches = [], [], []
    ingestor = start_workers(comps)
    for comp in comps:
        write = comp.store.write_batch

        def timed(readings, rejected=(), states=(), _write=write):
            readings = list(readings)
            n = _write(readings, rejected, states)
            now = time.time()
            ts_parts.append(np.fromiter((r.ts for r in readings), float, len(readings)))
            done_parts.append(np.full(len(readings), now))
            batches.append((now, time.process_time()))
            return n
        comp.store.write_batch = timed
    flag = {"stop": False}
    signal.signal(signal.SIGTERM, lambda *_: flag.__setitem__("stop", True))
    Path(out + ".ready").write_text("1")
    while not flag["stop"]:
        time.sleep(0.1)
    stop_workers(comps, ingestor)
    ts = np.concatenate(ts_parts) if ts_parts else np.zeros(0)
    done = np.concatenate(done_parts) if done_parts else np.zeros(0)
    np.savez(out, rec=np.stack([ts, done]), cpu=np.array(batches).reshape(-1, 2))


class Workers:
    def __init__(self, folders, env, group, tmp: Path, n: int, tag: str) -> None:
        self.args = ([str(f) for f in folders], env, group)
        self.tmp, self.tag = tmp, tag
        self.ctx = mp.get_context("spawn")
        self.procs = [self.start(i) for i in range(n)]

    def out(self, i: int) -> str:
        return str(self.tmp / f"w{self.tag}-{i}")

    def start(self, i: int):
        Path(self.out(i) + ".ready").unlink(missing_ok=True)
        p = self.ctx.Process(target=worker_main, args=(*self.args, f"bench-{self.tag}-{i}", self.out(i)))
        p.start()
        wait_for(lambda: Path(self.out(i) + ".ready").exists() or not p.is_alive(), 300, what=f"worker {i}")
        if not p.is_alive():
            raise RuntimeError(f"worker {i} failed to start")
        return p

    def stop(self) -> tuple[np.ndarray, list]:
        """SIGTERM every worker; return their (ts, committed) records side by side, and per
        worker its (commit time, process CPU s) at each batch."""
        for p in self.procs:
            if p.is_alive():
                os.kill(p.pid, signal.SIGTERM)
        for p in self.procs:
            p.join(60)
        files = [np.load(self.out(i) + ".npz") for i in range(len(self.procs)) if Path(self.out(i) + ".npz").exists()]
        rec = np.concatenate([f["rec"] for f in files], axis=1) if files else np.zeros((2, 0))
        return rec, [f["cpu"] for f in files]


def cpu_s(cpus: list, t0: float, t1: float) -> float:
    """CPU seconds the workers spent on batches committed within [t0, t1] (summed)."""
    total = 0.0
    for c in cpus:
        sel = c[(c[:, 0] >= t0) & (c[:, 0] <= t1)]
        before = c[c[:, 0] < t0]
        if len(sel):
            start = before[-1, 1] if len(before) else sel[0, 1]
            total += sel[-1, 1] - start
    return total


# -- publisher --------------------------------------------------------------------------------
def publish(url: str, msgs: list, speed: float | None) -> tuple[float, float]:
    """Publish (QoS 1) with ``ts`` = publish time; paced at ``speed`` × simulated time, or flat
    out (None). Return (first, last) publish times once the broker acknowledged all."""
    from live.broker import parse_mqtt_url
    from live.client import connect_kwargs, make_client

    u = parse_mqtt_url(url)
    c = make_client(u, f"bench-pub-{uuid.uuid4().hex[:6]}", persistent=False)
    c.connect(**connect_kwargs(u, persistent=False, session_expiry_s=0))
    c.loop_start()
    wait_for(c.is_connected, 10, what="publisher")
    t0 = time.time()
    sim0 = msgs[0][0] if msgs else 0.0
    infos = []
    for sim_t, topic, body in msgs:
        if speed:
            d = t0 + (sim_t - sim0) / speed - time.time()
            if d > 0:
                time.sleep(d)
        infos.append(c.publish(topic, json.dumps({**body, "ts": time.time()}), qos=1))
    t1 = time.time()
    wait_for(lambda: all(i.is_published() for i in infos), 300, what="publisher acks")
    c.disconnect()
    c.loop_stop()
    return t0, t1


def p99_ms(rec: np.ndarray, t0: float, t1: float) -> float:
    sel = (rec[0] >= t0 - 1e-6) & (rec[0] <= t1 + 1e-6)
    lat = rec[1][sel] - rec[0][sel]
    return float(np.percentile(lat, 99) * 1000) if lat.size else float("nan")


def run_config(n_workers: int, mqtt_url: str, folders, burst, steady, speed, tmp: Path) -> dict:
    url, drop = new_database()
    tag = uuid.uuid4().hex[:6]
    env = {"TWIN_DB_URL": url, "TWIN_MQTT_URL": mqtt_url, "TWIN_DATA_DIR": str(tmp / f"data-{tag}")}
    try:
        ws = Workers(folders, env, f"bench{tag}", tmp, n_workers, tag)
        log(f"{n_workers} worker(s) up; burst of {len(burst)}")
        b0, b1 = publish(mqtt_url, burst, None)
        wait_for(lambda: stored(url)[0] >= len(burst), 600, step=0.2, what="burst stored")
        time.sleep(2.0)  # the steady phase starts on an idle system
        log(f"steady: {len(steady)} messages at {speed}x")
        s0, s1 = publish(mqtt_url, steady, speed)
        total = len(burst) + len(steady)
        wait_for(lambda: stored(url)[0] >= total, 600, step=0.2, what="steady stored")
        rows, distinct = stored(url)
        rec, cpus = ws.stop()
        burst_end = rec[1][(rec[0] >= b0) & (rec[0] <= b1 + 1e-6)].max()
        return {"workers": n_workers, "burst_messages": len(burst),
                "burst_publish_msgs_per_s": len(burst) / (b1 - b0),
                "burst_msgs_per_s": len(burst) / (burst_end - b0), "burst_p99_ms": p99_ms(rec, b0, b1),
                "burst_msgs_per_cpu_s": len(burst) / max(cpu_s(cpus, b0, burst_end), 1e-9),
                "steady_messages": len(steady), "steady_offered_msgs_per_s": len(steady) / (s1 - s0),
                "steady_p99_ms": p99_ms(rec, s0, s1), "stored": rows, "distinct": distinct}
    finally:
        drop()


def run_kill(mqtt_url: str, folders, burst, tmp: Path) -> dict:
    url, drop = new_database()
    tag = uuid.uuid4().hex[:6]
    env = {"TWIN_DB_URL": url, "TWIN_MQTT_URL": mqtt_url, "TWIN_DATA_DIR": str(tmp / f"data-{tag}")}
    try:
        ws = Workers(folders, env, f"bench{tag}", tmp, 2, tag)
        ctx = mp.get_context("spawn")
        pub = ctx.Process(target=publish, args=(mqtt_url, burst, None))
        pub.start()
        wait_for(lambda: stored(url)[0] >= len(burst) // 3, 600, step=0.05, what="a third stored")
        os.kill(ws.procs[1].pid, signal.SIGKILL)
        ws.procs[1].join(10)
        pub.join(600)
        last, still = -1, 0
        while still < 3:  # what the surviving worker stores alone
            time.sleep(1.0)
            now = stored(url)[0]
            still = still + 1 if now == last else 0
            last = now
        before = last
        ws.procs[1] = ws.start(1)  # the same client ids: it takes its sessions back
        try:
            wait_for(lambda: stored(url)[0] >= len(burst), 300, step=0.2, what="all stored after restart")
        except TimeoutError:
            pass
        time.sleep(2.0)
        rows, distinct = stored(url)
        ws.stop()
        return {"published": len(burst), "stored_before_restart": before, "stored": rows, "distinct": distinct,
                "lost": len(burst) - distinct, "duplicates": rows - distinct}
    finally:
        drop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--communities", type=int, default=10)
    ap.add_argument("--buildings", type=int, default=8)
    ap.add_argument("--storeys", type=int, default=18)
    ap.add_argument("--flats", type=int, default=4)
    ap.add_argument("--steady-s", type=float, default=900.0, help="simulated seconds of the steady phase")
    ap.add_argument("--speed", type=float, default=10.0, help="steady phase: times real time")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="twin-scaleout-"))
    folders, devices = [], 0
    for k in range(1, args.communities + 1):
        f = tmp / "sites" / f"c{k:02d}"
        devices += write_community(f, f"c{k:02d}", args.buildings, args.storeys, args.flats)
        folders.append(f)
    burst, steady = streams(folders, 1_790_000_000.0, args.steady_s)
    log(f"{args.communities} communities, {devices} devices; burst {len(burst)}, steady {len(steady)} messages")
    broker = Mosquitto(tmp / "broker", free_port()).start()
    url = f"mqtt://127.0.0.1:{broker.port}"
    try:
        one = run_config(1, url, folders, burst, steady, args.speed, tmp)
        two = run_config(2, url, folders, burst, steady, args.speed, tmp)
        kill = run_kill(url, folders, burst, tmp)
    finally:
        broker.stop()
    result = {"communities": args.communities, "devices": devices, "cpus": os.cpu_count(),
              "one": one, "two": two, "kill": kill,
              "ratio_burst_msgs_per_s": two["burst_msgs_per_s"] / one["burst_msgs_per_s"],
              "ratio_burst_msgs_per_cpu_s": two["burst_msgs_per_cpu_s"] / one["burst_msgs_per_cpu_s"],
              "ratio_burst_p99": two["burst_p99_ms"] / one["burst_p99_ms"],
              "ratio_steady_p99": two["steady_p99_ms"] / one["steady_p99_ms"]}
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"{args.communities} communities, {devices} devices, {os.cpu_count()} CPUs, PostgreSQL, Mosquitto")
    print(f"{'':28}{'1 worker':>12}{'2 workers':>12}{'2/1':>8}")
    for key, label in (("burst_publish_msgs_per_s", "burst published msgs/s"),
                       ("burst_msgs_per_s", "burst msgs/s (stored)"),
                       ("burst_msgs_per_cpu_s", "burst msgs per worker CPU s"), ("burst_p99_ms", "burst p99 pub→stored ms"),
                       ("steady_offered_msgs_per_s", "steady offered msgs/s"),
                       ("steady_p99_ms", "steady p99 pub→stored ms")):
        print(f"{label:28}{one[key]:12.1f}{two[key]:12.1f}{two[key] / one[key]:8.2f}")
    print(f"stored exactly once: 1 worker {one['distinct']}/{one['stored']}, 2 workers {two['distinct']}/{two['stored']} "
          f"of {one['burst_messages'] + one['steady_messages']}")
    print(f"kill: published {kill['published']}, stored by the survivor before the restart "
          f"{kill['stored_before_restart']}, after {kill['stored']} (lost {kill['lost']}, duplicates {kill['duplicates']})")


if __name__ == "__main__":
    main()
