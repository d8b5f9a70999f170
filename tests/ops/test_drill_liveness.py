"""A drill running in one process reads as running, not failed, in another.

The service's :class:`DrillJobs` keeps ``heartbeat.json`` in a running drill's record;
another process (``twin drill report --drill-id``, a second ``DrillJobs``) checks it: a
fresh heartbeat whose process lives means "still running" (409 / exit 2 saying so), no
heartbeat, a stale one or a dead process means the service stopped ("failed").
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time

import pytest

from services.drills import HEARTBEAT_STALE_S, DrillJobs, check_request, heartbeat_alive, run_seed
from services.errors import Conflict
from tests.conftest import run_cli


def square(x0, y0, x1, y1) -> dict:
    return {"type": "Polygon", "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]}


#: One 20 m × 10 m room, one person 9.5 m from the exit at 1 m/s.
ROOM = {"name": "one room", "seed": 1, "max_time_s": 120, "dt_s": 0.05,
        "floors": [{"id": "F", "elevation_m": 0.0, "walkable": square(0, 0, 20, 10)}],
        "exits": [{"id": "E", "floor": "F", "area": square(0, 4, 0.5, 6)}],
        "agents": [{"id": "p", "floor": "F", "x": 10.0, "y": 5.0, "speed_mps": 1.0, "premovement_s": 0}]}


def dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def beat(folder, **kw) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "heartbeat.json").write_text(json.dumps(kw), encoding="utf-8")


def test_heartbeat_liveness_rule(tmp_path):
    host = socket.gethostname()
    assert not heartbeat_alive(tmp_path / "none")                      # no heartbeat
    beat(tmp_path / "a", pid=os.getpid(), host=host)
    assert heartbeat_alive(tmp_path / "a")                             # fresh, this process
    beat(tmp_path / "b", pid=dead_pid(), host=host)
    assert not heartbeat_alive(tmp_path / "b")                         # fresh, process gone
    beat(tmp_path / "c", pid=1234567, host=host + "-elsewhere")
    assert heartbeat_alive(tmp_path / "c")                             # another host: its age decides
    old = time.time() - HEARTBEAT_STALE_S - 1
    os.utime(tmp_path / "c" / "heartbeat.json", (old, old))
    assert not heartbeat_alive(tmp_path / "c")                         # stale
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "heartbeat.json").write_text("{not json", encoding="utf-8")
    assert not heartbeat_alive(tmp_path / "d")


@pytest.fixture
def held(tmp_path):
    """A service's DrillJobs whose drill stays running until ``release`` is set."""
    release = threading.Event()
    service = DrillJobs(tmp_path / "drills", None)

    def execute(job, text, seeds, folder):
        assert release.wait(120), "the test never released the drill"
        return [run_seed(text, s, None, k == 0) for k, s in enumerate(seeds)]

    service._execute = execute
    drill_id = service.submit(check_request(None, {"scenario": ROOM}))["id"]
    deadline = time.monotonic() + 60
    while service.get(drill_id)["status"] != "running":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    yield service, drill_id, release
    release.set()
    service.close()


def test_a_drill_running_elsewhere_is_running_then_done(tmp_path, held):
    service, drill_id, release = held
    other = DrillJobs(tmp_path / "drills", None)
    job = other.get(drill_id)
    assert job["status"] == "running" and job["elsewhere"] is True
    with pytest.raises(Conflict, match="still running"):
        other.write_report(drill_id, tmp_path / "x.pdf")
    out = tmp_path / "r.pdf"
    cli = run_cli("drill", "report", "--drill-id", drill_id, "--out", str(out), "--site", "sample_sites/tiny",
                  "--dir", str(tmp_path / "drills"))
    assert cli.returncode == 2
    lines = cli.stderr.strip().splitlines()
    assert len(lines) == 1 and "still running" in lines[0] and drill_id in lines[0], cli.stderr
    assert "failed" not in lines[0] and not out.exists()
    release.set()
    deadline = time.monotonic() + 300
    while service.get(drill_id)["status"] == "running":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    done = other.get(drill_id)
    assert done["status"] == "done", done.get("error")
    assert 9.0 < done["result"]["evacuation_time_s"] < 11.0                # 9.5 m at 1 m/s
    assert not (tmp_path / "drills" / f"api-{drill_id}" / "heartbeat.json").exists()


def test_a_drill_whose_service_stopped_reads_failed(tmp_path, held):
    service, drill_id, release = held
    other = DrillJobs(tmp_path / "drills", None)
    folder = tmp_path / "drills" / f"api-{drill_id}"
    beat(folder, pid=dead_pid(), host=socket.gethostname())             # its process is gone
    job = other.get(drill_id)
    assert job["status"] == "failed" and "stopped" in job["error"]
    service._beat(drill_id)                                             # alive again
    assert other.get(drill_id)["status"] == "running"
    service.close()                                                     # the service stops
    job = other.get(drill_id)
    assert job["status"] == "failed" and "stopped" in job["error"]
    with pytest.raises(Conflict, match="failed"):
        other.write_report(drill_id, tmp_path / "x.pdf")
