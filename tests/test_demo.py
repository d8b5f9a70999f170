"""``twin demo`` end to end: one command starts broker, database, simulator, API and viewer."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.request

from tests.conftest import REPO, SAMPLE_SITES, free_port


def _get(url: str):
    with urllib.request.urlopen(url, timeout=5) as r:
        return r.status, r.read()


def test_demo_starts_everything_and_devices_stream_in(tmp_path):
    port = free_port()
    env = {**os.environ, "TWIN_SITE": str(SAMPLE_SITES / "tiny"), "TWIN_DATA_DIR": str(tmp_path)}
    env.pop("TWIN_MQTT_URL", None)          # embedded broker
    env.pop("TWIN_DB_URL", None)            # SQLite in the data folder
    proc = subprocess.Popen([sys.executable, "-m", "services", "demo", "--port", str(port),
                             "--duration", "60", "--speed", "120"],
                            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        url = None
        deadline = time.monotonic() + 120
        lines = []
        while url is None and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            m = re.search(r"control-room viewer\s+(http://\S+)", line)
            if m:
                url = m.group(1)
        assert url == f"http://127.0.0.1:{port}/", "".join(lines) + proc.stderr.read()
        status, body = _get(url + "api/health")
        health = json.loads(body)
        assert status == 200 and health["components"]["database"]["ready"]
        assert health["components"]["live"]["broker"]["embedded"] is True
        received = 0
        while time.monotonic() < deadline and received == 0:
            received = json.loads(_get(url + "api/live/stats")[1])["received"]
            time.sleep(0.5)
        assert received > 0                 # the simulator's messages reached ingestion
        token = json.loads(urllib.request.urlopen(urllib.request.Request(
            url + "api/auth/token", data=b"username=owner&password=twin-demo-2026",
            headers={"Content-Type": "application/x-www-form-urlencoded"}), timeout=5).read())
        assert token["access_token"]
    finally:
        proc.terminate()
        proc.wait(timeout=30)
