"""Publish a device simulator's streams to an MQTT broker in real time (QoS 1).

Used by ``twin devices simulate`` and by ``twin demo`` (in a background thread, stopped
with a :class:`threading.Event`).
"""

from __future__ import annotations

import threading
import time
import uuid
from typing import Callable

from live.broker import BrokerURL
from live.client import connect_kwargs, make_client
from live.errors import BrokerError
from live.simulator import DeviceSimulator

__all__ = ["publish_streams"]


class _Stopped(Exception):
    pass


def publish_streams(sim: DeviceSimulator, url: BrokerURL, *, speed: float = 60.0,
                    duration_s: float | None = None, stop: threading.Event | None = None,
                    on_progress: Callable[[int, float], None] | None = None) -> int:
    """Run ``sim`` against the broker at ``url``; return the number of messages published.

    Runs until ``duration_s`` simulated seconds have passed, ``stop`` is set, or Ctrl-C.
    While the broker is unreachable the stream is held (nothing is dropped). On the way out
    it waits up to 10 s for the last messages' acknowledgements (while connected).

    Raises
    ------
    BrokerError
        The broker cannot be reached at start.
    """
    client = make_client(url, f"twin-sim-{sim.registry.site}-{uuid.uuid4().hex[:6]}", persistent=False)
    client.reconnect_delay_set(min_delay=1, max_delay=10)
    refused: list[str] = []

    def on_connect(_client, _userdata, _flags, reason_code, _properties) -> None:
        if reason_code.is_failure:
            refused.append(str(reason_code))
    client.on_connect = on_connect
    try:
        client.connect(**connect_kwargs(url, persistent=False, session_expiry_s=0))
    except OSError as exc:
        raise BrokerError(f"cannot reach the MQTT broker at {url}: {exc}") from None
    client.loop_start()
    infos = []
    published = [0]

    def sleep(delay_s: float) -> None:
        if stop is None:
            time.sleep(delay_s)
        elif stop.wait(delay_s):
            raise _Stopped

    def publish(topic: str, body: bytes) -> None:
        while not client.is_connected():  # broker restarting: hold the stream, lose nothing
            if refused:
                raise BrokerError(f"the MQTT broker at {url} refused the login of {url.username or 'anonymous'}: "
                                  f"{refused[-1]}")
            sleep(0.1)
        infos.append(client.publish(topic, body, qos=1))
        published[0] += 1
        if len(infos) > 5000:
            del infos[:2500]

    try:
        sim.run(publish, speed=speed, duration_s=duration_s, sleep=sleep, on_progress=on_progress)
    except (KeyboardInterrupt, _Stopped):
        pass
    finally:
        deadline = time.monotonic() + 10
        for info in infos[-2500:]:
            # only a connected client still receives acknowledgements: without a broker
            # there is nothing to wait for (a stop would otherwise take the whole 10 s)
            while not info.is_published() and client.is_connected() and time.monotonic() < deadline:
                time.sleep(0.01)
        client.disconnect()
        client.loop_stop()
    return published[0]
