"""Benchmark: an MQTT message to a recoloured marker in the viewer, against the WebSocket alone.

One run starts its own Mosquitto on a free port, ``twin serve`` on a small site and the
viewer in headless Chromium. A smoke detector's telemetry is published ``--rounds`` times,
alternating ``smoke: true`` / ``false`` (each flips its marker between alarm and ok). For
each message the page records

- ``ws``: when a second, bare WebSocket client in the same page (``/ws/live``) received
  the event (the baseline: broker, ingestion, fan-out, network);
- ``marker``: when the viewer recoloured the marker (``twinViewer.markerChangedAt``),

both against the publisher's clock (same machine). Prints the median and p95 of both in
milliseconds and ``marker/ws`` (the viewer's own share). Target: marker latency under 1 s
(it was asserted in ``tests/viewer/test_live_e2e.py`` before; the test now prints it).

Usage::

    python benchmarks/live_marker.py [--rounds 20] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.ingest import Mosquitto, Serve, free_port, percentile  # noqa: E402
from tests.live.common import write_site  # noqa: E402
from tests.viewer.browser import browser_page  # noqa: E402

DEVICE = "B3-SMOKE-12"
PROBE = """(dev) => new Promise((ok) => {
  window._wsSeen = new Map();
  const ws = new WebSocket(location.origin.replace('http', 'ws') + '/ws/live');
  ws.onmessage = (m) => { const ev = JSON.parse(m.data);
    if (ev.device_id === dev && ev.type === 'telemetry') window._wsSeen.set(ev.seq ?? ev.values?.seq, Date.now()); };
  ws.onopen = () => ok(true);
})"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    import paho.mqtt.client as mqtt

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        broker = Mosquitto(tmp / "broker", free_port()).start()
        url = f"mqtt://127.0.0.1:{broker.port}"
        folder, site, _ = write_site(tmp / "site")
        serve = Serve(folder, {"TWIN_MQTT_URL": url, "TWIN_DATA_DIR": str(tmp / "data"),
                               "TWIN_DB_URL": f"sqlite:///{tmp / 'twin.sqlite'}"})
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        client.connect("127.0.0.1", broker.port)
        client.loop_start()
        ws_ms, marker_ms = [], []
        try:
            with browser_page() as page:
                page.goto(f"http://127.0.0.1:{serve.port}/")
                page.evaluate("window.twinViewer.ready")
                page.wait_for_function("window.twinViewer.liveConnected()", timeout=30_000)
                page.evaluate(PROBE, DEVICE)
                for k in range(args.rounds):
                    smoke = k % 2 == 0
                    sent = time.time()
                    client.publish(f"twin/{site}/{DEVICE}/telemetry",
                                   json.dumps({"ts": sent, "seq": k + 1, "smoke": smoke}), qos=1).wait_for_publish(5)
                    want = "alarm" if smoke else "ok"
                    page.wait_for_function(f"window.twinViewer.markerState('{DEVICE}') === '{want}'",
                                           timeout=10_000, polling=5)
                    marker_ms.append(page.evaluate(f"window.twinViewer.markerChangedAt('{DEVICE}')") - sent * 1000)
                    seen = page.wait_for_function(f"window._wsSeen.get({k + 1}) ?? null", timeout=10_000, polling=5)
                    ws_ms.append(seen.json_value() - sent * 1000)
        finally:
            client.loop_stop()
            client.disconnect()
            serve.stop()
            broker.stop()
    out = {"rounds": args.rounds,
           "ws_ms": {"p50": percentile(ws_ms, 0.5), "p95": percentile(ws_ms, 0.95)},
           "marker_ms": {"p50": percentile(marker_ms, 0.5), "p95": percentile(marker_ms, 0.95)},
           "marker/ws_p50": round(percentile(marker_ms, 0.5) / max(percentile(ws_ms, 0.5), 1e-3), 2)}
    print(json.dumps(out) if args.json else
          f"publish -> WebSocket p50 {out['ws_ms']['p50']:.1f} ms (p95 {out['ws_ms']['p95']:.1f}); "
          f"publish -> marker p50 {out['marker_ms']['p50']:.1f} ms (p95 {out['marker_ms']['p95']:.1f}); "
          f"marker/ws {out['marker/ws_p50']}")


if __name__ == "__main__":
    main()
