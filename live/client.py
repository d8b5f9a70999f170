"""The MQTT ingestion client (paho-mqtt 2): subscribes the site's topics and feeds a pipeline.

Delivery guarantees:

- QoS 1 subscription with a persistent session (MQTT 5 ``clean_start=False`` and a session
  expiry; MQTT 3.1.1 ``clean_session=False``) under a stable client id, so the broker queues
  messages while the service is down and delivers them after it reconnects;
- manual acknowledgement: the PUBACK of a message is sent only after the pipeline made its
  outcome durable (batch written), so a crash never loses an acknowledged message;
- reconnect with exponential back-off (1 s up to ``max_backoff_s``) handled by paho's loop;
- with ``group``, an MQTT 5 shared subscription ``$share/{group}/twin/{site}/+/+``: several
  worker processes split the messages, each message goes to one of them.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from live.broker import BrokerURL
from live.ingest import Pipeline

__all__ = ["MqttIngestor", "make_client"]

log = logging.getLogger(__name__)


def make_client(url: BrokerURL, client_id: str, *, persistent: bool = True, manual_ack: bool = False) -> mqtt.Client:
    """Return a paho client for ``url`` (MQTT 5 or 3.1.1 as the URL says), not yet connected."""
    if url.protocol == 5:
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id,
                             protocol=mqtt.MQTTv5, manual_ack=manual_ack)
    else:
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id,
                             protocol=mqtt.MQTTv311, clean_session=not persistent, manual_ack=manual_ack)
    if url.username:
        client.username_pw_set(url.username, url.password)
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)
    return client


def connect_kwargs(url: BrokerURL, *, persistent: bool, session_expiry_s: int, receive_max: int = 65535) -> dict:
    """Keyword arguments of ``client.connect`` for a (persistent) session."""
    kw: dict[str, Any] = {"host": url.host, "port": url.port, "keepalive": 30}
    if url.protocol == 5:
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = session_expiry_s if persistent else 0
        props.ReceiveMaximum = receive_max
        kw.update(clean_start=not persistent, properties=props)
    return kw


class MqttIngestor:
    """Subscribes ``twin/{site}/+/+`` and feeds every message into a :class:`Pipeline`.

    Parameters
    ----------
    pipeline : Pipeline
    url : BrokerURL
    client_id : str, optional
        Stable id of the persistent session (default ``twin-ingest-{site}``, plus the group).
    group : str, optional
        Shared-subscription group (MQTT 5 only).
    session_expiry_s : int
        How long the broker keeps the session (and queues QoS 1 messages) while we are away.
    flush_interval_s : float
        Longest time a message waits for its batch write (and its PUBACK).
    """

    def __init__(self, pipeline: Pipeline, url: BrokerURL, *, client_id: str | None = None,
                 group: str | None = None, session_expiry_s: int = 7 * 86400,
                 flush_interval_s: float = 0.1, max_backoff_s: float = 30.0) -> None:
        self.pipeline = pipeline
        self.url = url
        site = pipeline.registry.site
        self.group = group
        self.client_id = client_id or (f"twin-ingest-{site}-{group}-{uuid.uuid4().hex[:6]}" if group
                                       else f"twin-ingest-{site}")
        self.topic = pipeline.registry.subscription(group if url.protocol == 5 else None)
        self.session_expiry_s = session_expiry_s
        self.flush_interval_s = flush_interval_s
        self.client = make_client(url, self.client_id, persistent=True, manual_ack=True)
        self.client.reconnect_delay_set(min_delay=1, max_delay=int(max_backoff_s))
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self.connected = threading.Event()
        self.subscribed = threading.Event()
        self.connects = 0
        self.last_error: str | None = None
        self._stop = threading.Event()
        self._worker: threading.Thread | None = None

    # -- paho callbacks (network thread) ----------------------------------------------
    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            self.last_error = f"connect refused: {reason_code}"
            log.warning("MQTT %s refused the connection: %s", self.url, reason_code)
            return
        self.connects += 1
        self.last_error = None
        present = getattr(flags, "session_present", False)
        log.info("MQTT connected to %s (session present: %s), subscribing %s", self.url, present, self.topic)
        if self.url.protocol == 5:
            client.subscribe(self.topic, options=mqtt.SubscribeOptions(qos=1))
        else:
            client.subscribe(self.topic, qos=1)
        self.connected.set()
        self.subscribed.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self.connected.clear()
        if not self._stop.is_set():
            self.last_error = f"disconnected: {reason_code}"
            log.warning("MQTT disconnected from %s (%s); reconnecting with back-off", self.url, reason_code)

    def _on_message(self, client, userdata, msg) -> None:
        if msg.qos > 0:
            mid, qos = msg.mid, msg.qos

            def ack() -> None:
                client.ack(mid, qos)
        else:
            ack = None
        self.pipeline.handle(msg.topic, msg.payload, ack=ack)

    # -- lifecycle --------------------------------------------------------------------
    def start(self, wait_s: float | None = 10.0) -> "MqttIngestor":
        """Connect (in the background, retrying) and start the flush/tick worker.

        With ``wait_s``, wait that long for the first subscription (no error if not reached).
        """
        self._stop.clear()
        self.client.connect_async(**connect_kwargs(self.url, persistent=True, session_expiry_s=self.session_expiry_s))
        self.client.loop_start()
        self._worker = threading.Thread(target=self._work, name="live-flush", daemon=True)
        self._worker.start()
        if wait_s:
            self.subscribed.wait(wait_s)
        return self

    def _work(self) -> None:
        last_tick = 0.0
        while not self._stop.wait(self.flush_interval_s):
            try:
                self.pipeline.flush()
                now = time.time()
                if now - last_tick >= 1.0:
                    self.pipeline.tick(now)
                    last_tick = now
            except Exception:
                log.exception("live worker step failed")

    def stop(self) -> None:
        """Flush pending writes (sending their acks), then disconnect; the session stays."""
        self._stop.set()
        if self._worker is not None:
            self._worker.join(timeout=10)
        try:
            self.pipeline.flush()
        except Exception:
            log.exception("final flush failed")
        time.sleep(0.05)  # let the network thread send the last PUBACKs
        self.client.disconnect()
        self.client.loop_stop()

    def health(self) -> dict[str, Any]:
        """Broker state for ``/api/health``."""
        return {"url": str(self.url), "connected": self.connected.is_set(), "client_id": self.client_id,
                "subscription": self.topic, "connects": self.connects, "last_error": self.last_error,
                "protocol": "MQTT 5" if self.url.protocol == 5 else "MQTT 3.1.1"}
