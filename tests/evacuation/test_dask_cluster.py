"""Drill ensembles on a real dask.distributed cluster: a ``dask scheduler`` process and two
``dask worker`` processes started by the test on free ports, as in a deployment across
machines (docs/deploy.md, Scale-out)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import numpy as np
import pytest

from sim.evacuation import parse_scenario, simulate
from sim.evacuation.drills import variant_scenario
from tests.conftest import free_port, run_cli
from tests.evacuation.test_drills import _two_exit


def _start(args: list[str], log) -> subprocess.Popen:
    env = {**os.environ, "DASK_DISTRIBUTED__WORKER__DAEMON": "False"}
    return subprocess.Popen([sys.executable, "-m", *args], stdout=log, stderr=subprocess.STDOUT, env=env)


@pytest.fixture
def dask_cluster(tmp_path):
    """``tcp://`` address of a scheduler process with two single-threaded worker processes."""
    from dask.distributed import Client

    port = free_port()
    addr = f"tcp://127.0.0.1:{port}"
    log = open(tmp_path / "dask.log", "w")
    procs = [_start(["distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", str(port),
                     "--dashboard-address", ":0", "--no-show"], log)]
    try:
        for i in range(2):
            procs.append(_start(["distributed.cli.dask_worker", addr, "--nworkers", "1", "--nthreads", "1",
                                 "--no-dashboard", "--name", f"w{i}", "--local-directory", str(tmp_path / f"w{i}")], log))
        deadline = time.monotonic() + 90
        with Client(addr, timeout=60) as client:
            while len(client.scheduler_info(n_workers=-1)["workers"]) < 2:
                if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
                    pytest.fail("dask cluster did not start: " + (tmp_path / "dask.log").read_text()[-2000:])
                time.sleep(0.2)
        yield addr
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in reversed(procs):
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
        log.close()


@pytest.mark.slow
def test_ensemble_on_a_scheduler_with_two_worker_processes(dask_cluster):
    """The CLI sends the ensemble to the scheduler; both worker processes compute runs, and
    the results are those of direct runs of the same seeds (the simulation is pure)."""
    from dask.distributed import Client

    with Client(dask_cluster, timeout=30) as client:
        before = client.run(lambda dask_worker: dask_worker.state.executed_count)
        pids = client.run(os.getpid)
    assert len(before) == 2 and os.getpid() not in pids.values()
    assert len(set(pids.values())) == 2  # two separate worker processes

    seeds = 4
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        p = os.path.join(d, "s.json")
        with open(p, "w") as f:
            json.dump(_two_exit(), f)
        r = run_cli("drill", "ensemble", p, "--seeds", str(seeds), "--variant", "west=W",
                    "--scheduler", dask_cluster, timeout=600)
    assert r.returncode == 0, r.stderr
    assert f"ensemble {2 * seeds}/{2 * seeds} done" in r.stderr
    out = json.loads(r.stdout)["variants"]
    for name, blocked in (("base", []), ("west", ["W"])):
        times = [simulate(parse_scenario(variant_scenario(_two_exit(), seed=s, blocked=blocked)))["evacuation_time_s"]
                 for s in range(1, seeds + 1)]
        assert out[name]["runs"] == times
        assert out[name]["mean_s"] == pytest.approx(np.mean(times), abs=1e-4)

    with Client(dask_cluster, timeout=30) as client:
        after = client.run(lambda dask_worker: dask_worker.state.executed_count)
    done = {w: after[w] - before[w] for w in after}
    # 8 runs on two single-threaded workers: each process computed some of them
    assert sum(done.values()) >= 2 * seeds and all(n >= 1 for n in done.values()), done
