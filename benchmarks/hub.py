"""Benchmark of the WebSocket event hub: publishing never waits for a slow client.

Publishes a burst of events (default 50, as in the API test, and 20,000) through
:class:`services.live_component.EventHub` and fans them out (the hub's drain, run by hand)
to one subscriber

- ``fast``: a queue large enough for the burst (the baseline);
- ``slow``: a queue of 5 that nobody reads, so it overflows, is dropped and flagged for a
  resync;

and prints seconds per event and ``slow/fast`` (target about 1: a slow client costs the
publisher nothing more; it was asserted as ``publish_s < 0.5`` in a unit test before).
Each figure is the best of ``--repeat`` interleaved rounds.

Usage::

    python benchmarks/hub.py [--events 50 20000] [--repeat 5] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from services.live_component import EventHub, Subscriber  # noqa: E402


def burst(n: int, maxsize: int) -> float:
    """Seconds to publish and fan out ``n`` events to one subscriber of queue ``maxsize``."""
    loop = asyncio.new_event_loop()
    try:
        hub = EventHub(loop)  # not started: the drain runs here, as the loop's task would
        hub.subscribers.add(Subscriber(building="B1", maxsize=maxsize))
        events = [{"type": "telemetry", "ts": "x", "device_id": "B1-meter_water", "building": "B1",
                   "storey": "B1-F01", "kind": "meter_water", "n": i} for i in range(n)]
        t = time.perf_counter()
        for ev in events:
            hub.publish(ev)
        hub._drain()
        return time.perf_counter() - t
    finally:
        loop.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, nargs="+", default=[50, 20_000])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    rows = []
    for n in args.events:
        fast, slow = [], []
        for _ in range(args.repeat):  # interleaved: both see the same machine load
            fast.append(burst(n, maxsize=n + 1))
            slow.append(burst(n, maxsize=5))
        rows.append({"events": n, "fast_s": min(fast), "slow_s": min(slow),
                     "slow_per_event_us": min(slow) / n * 1e6,
                     "slow/fast": round(min(slow) / min(fast), 2)})
    if args.json:
        print(json.dumps(rows))
    else:
        for r in rows:
            print(f"{r['events']:>7} events: fast {r['fast_s'] * 1e3:.2f} ms, slow {r['slow_s'] * 1e3:.2f} ms "
                  f"({r['slow_per_event_us']:.1f} us/event), slow/fast {r['slow/fast']}")


if __name__ == "__main__":
    main()
