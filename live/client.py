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

Throughput: the ingestion client is a paho client that, per wake-up of its network loop,
reads every packet already waiting on the socket (stock paho reads one packet, then selects
again), and acknowledges each committed batch with one write of all its PUBACK packets
(stock ``Client.ack`` queues one packet and wakes the network loop per message). Both
use paho's packet reader and writer; see docs/mqtt.md.
"""

from __future__ import annotations

import logging
import struct
import threading
import time
import uuid
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from live.broker import BrokerURL
from live.ingest import Pipeline

__all__ = ["IngestClient", "MqttIngestor", "make_client"]

log = logging.getLogger(__name__)

_PUBACK = struct.Struct("!BBH")


class IngestClient(mqtt.Client):
    """A paho client tuned for draining a busy subscription.

    - :meth:`loop_read` reads up to :attr:`read_burst` packets per wake-up of the network
      loop, stopping as soon as the socket has nothing more (paho's reader is non-blocking);
    - :meth:`ack_many` acknowledges many QoS 1 messages with one queued write.

    Everything else (connection, keep-alive, sessions, reconnects, writes) is paho's.
    """

    #: Most packets read per network-loop wake-up (bounds the delay of outgoing packets).
    read_burst = 256
    #: Bytes asked of the socket per read; paho's reader then takes packets from this buffer.
    read_size = 65536

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._rbuf = b""
        self._rpos = 0
        self._rsock = None

    def _sock_recv(self, bufsize: int) -> bytes:
        # paho reads a packet in three calls (type, length, body); each is a system call that
        # releases the GIL and waits to get it back from the writer or event-loop thread.
        # Serve them from one large read instead.
        buf, pos = self._rbuf, self._rpos
        if pos >= len(buf) or self._rsock is not self._sock:
            buf = super()._sock_recv(max(bufsize, self.read_size))  # raises when nothing waits
            self._rsock = self._sock
            if not buf:
                self._rbuf, self._rpos = b"", 0
                return buf
            pos = 0
        out = buf[pos:pos + bufsize]
        self._rbuf, self._rpos = buf, pos + len(out)
        return out

    def _buffered(self) -> bool:
        return self._rpos < len(self._rbuf) and self._rsock is self._sock

    def loop_read(self, max_packets: int = 1) -> mqtt.MQTTErrorCode:
        reader = getattr(self, "_packet_read", None)
        if reader is None:  # a paho without the packet reader this relies on
            return super().loop_read(max_packets)
        ok, again = mqtt.MQTTErrorCode.MQTT_ERR_SUCCESS, mqtt.MQTTErrorCode.MQTT_ERR_AGAIN
        burst = max(max_packets, self.read_burst)
        n = 0
        # never return with bytes left in the buffer: the loop's select only sees the socket
        while n < burst or self._buffered():
            if self._sock is None:
                return mqtt.MQTTErrorCode.MQTT_ERR_NO_CONN
            rc = reader()
            if rc == again:
                return ok
            if rc > 0:
                return self._loop_rc_handle(rc)
            n += 1
        return ok

    def ack_many(self, mids: list[int]) -> None:
        """Send the PUBACK of every QoS 1 message id in ``mids`` in one write."""
        if not mids:
            return
        queue = getattr(self, "_packet_queue", None)
        if queue is None or not self._manual_ack:
            for mid in mids:
                self.ack(mid, 1)
            return
        pack = _PUBACK.pack
        queue(mqtt.PUBACK, b"".join([pack(mqtt.PUBACK, 2, mid) for mid in mids]), 0, 0)


def make_client(url: BrokerURL, client_id: str, *, persistent: bool = True, manual_ack: bool = False,
                client_class: type[mqtt.Client] = mqtt.Client) -> mqtt.Client:
    """Return a paho client for ``url`` (MQTT 5 or 3.1.1 as the URL says), not yet connected.

    ``client_class``: paho's stock client by default (publishers); the ingestion uses
    :class:`IngestClient`.
    """
    if url.protocol == 5:
        client = client_class(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id,
                              protocol=mqtt.MQTTv5, manual_ack=manual_ack)
    else:
        client = client_class(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id,
                              protocol=mqtt.MQTTv311, clean_session=not persistent, manual_ack=manual_ack)
    if url.username:
        client.username_pw_set(url.username, url.password)
    if url.tls:
        import ssl

        client.tls_set(ca_certs=url.ca_file, certfile=url.cert_file, keyfile=url.key_file,
                       cert_reqs=ssl.CERT_REQUIRED, tls_version=ssl.PROTOCOL_TLS_CLIENT)
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

    Several sites on one session: pass a list of pipelines (one per site); the ingestor
    subscribes each site's topics and hands a message to the pipeline of its site segment
    (one network thread for all; one writer thread per site, so the sites' transactions
    commit in parallel).

    Parameters
    ----------
    pipeline : Pipeline or list of Pipeline
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

    def __init__(self, pipeline: Pipeline | list[Pipeline], url: BrokerURL, *, client_id: str | None = None,
                 group: str | None = None, session_expiry_s: int = 7 * 86400,
                 flush_interval_s: float = 0.1, max_backoff_s: float = 30.0) -> None:
        self.pipelines = list(pipeline) if isinstance(pipeline, (list, tuple)) else [pipeline]
        if not self.pipelines:
            raise ValueError("MqttIngestor needs at least one pipeline")
        self.pipeline = self.pipelines[0]
        self._by_site = {p.registry.site: p for p in self.pipelines}
        self.url = url
        site = self.pipeline.registry.site if len(self.pipelines) == 1 else f"{len(self.pipelines)}sites"
        self.group = group
        self.client_id = client_id or (f"twin-ingest-{site}-{group}-{uuid.uuid4().hex[:6]}" if group
                                       else f"twin-ingest-{site}")
        shared = group if url.protocol == 5 else None
        self.topics = [p.registry.subscription(shared) for p in self.pipelines]
        self.topic = self.topics[0] if len(self.topics) == 1 else ",".join(self.topics)
        self.session_expiry_s = session_expiry_s
        self.flush_interval_s = flush_interval_s
        #: Longest a message waits for others to share its transaction (s); with a broker
        #: that allows only 20 unacknowledged messages in flight, 2 ms caps at ~10k msgs/s.
        self.group_commit_s = 0.002
        #: MQTT 5 Receive Maximum: unacknowledged QoS 1 messages the broker may have in flight
        #: to us. Acks wait for the batch commit, so this must cover a few commits' worth of
        #: messages; far more only lengthens the broker's in-flight list, which Mosquitto
        #: searches on every PUBACK.
        self.receive_max = min(65535, 2000 * len(self.pipelines))
        self.client = make_client(url, self.client_id, persistent=True, manual_ack=True,
                                  client_class=IngestClient)
        self.client.reconnect_delay_set(min_delay=1, max_delay=int(max_backoff_s))
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self.client.suppress_exceptions = True
        for p in self.pipelines:
            p.ack_many = self.client.ack_many
        self.connected = threading.Event()
        self.subscribed = threading.Event()
        self.connects = 0
        self.last_error: str | None = None
        self._stop = threading.Event()
        self._workers: list[threading.Thread] = []

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
            client.subscribe([(t, mqtt.SubscribeOptions(qos=1)) for t in self.topics])
        else:
            client.subscribe([(t, 1) for t in self.topics])
        self.connected.set()
        self.subscribed.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self.connected.clear()
        if not self._stop.is_set():
            self.last_error = f"disconnected: {reason_code}"
            log.warning("MQTT disconnected from %s (%s); reconnecting with back-off", self.url, reason_code)

    def _on_message(self, client, userdata, msg) -> None:
        # the ack token of a QoS 1 message is its id; the pipeline hands the ids of each
        # committed batch to IngestClient.ack_many (one write for all)
        ack = msg.mid if msg.qos > 0 else None
        try:
            topic = msg.topic
        except UnicodeDecodeError:  # dead-lettered as bad_topic by the pipeline
            topic = msg._topic.decode("utf-8", errors="replace")
        pipeline = self.pipeline
        if len(self.pipelines) > 1:  # the site segment picks the pipeline (else: wrong_site)
            parts = topic.split("/", 2)
            pipeline = self._by_site.get(parts[1] if len(parts) > 1 else "", pipeline)
        try:
            pipeline.handle(topic, msg.payload, ack=ack)
        except Exception:  # never let one message stop the network loop
            log.exception("ingesting a message on %r failed", topic)
            if ack is not None:
                client.ack_many([ack])

    # -- lifecycle --------------------------------------------------------------------
    def start(self, wait_s: float | None = 10.0) -> "MqttIngestor":
        """Connect (in the background, retrying) and start the flush/tick worker.

        With ``wait_s``, wait that long for the first subscription (no error if not reached).
        """
        self._stop.clear()
        self.client.connect_async(**connect_kwargs(self.url, persistent=True, session_expiry_s=self.session_expiry_s,
                                                  receive_max=self.receive_max))
        self.client.loop_start()
        self._workers = [threading.Thread(target=self._work, args=(p,), name=f"live-flush-{p.registry.site}",
                                          daemon=True) for p in self.pipelines]
        for w in self._workers:
            w.start()
        if wait_s:
            self.subscribed.wait(wait_s)
        return self

    def _work(self, pipeline: Pipeline) -> None:
        """Writer thread of one pipeline: group-commit its batches, tick it once a second."""
        last_tick = 0.0
        wake = pipeline.flush_wakeup = threading.Event()
        while not self._stop.is_set():
            if wake.wait(self.flush_interval_s) and pipeline.pending < pipeline.batch_size:
                time.sleep(self.group_commit_s)  # let a few more messages join this transaction
            wake.clear()
            try:
                pipeline.flush()
                now = time.time()
                if now - last_tick >= 1.0:
                    pipeline.tick(now)
                    last_tick = now
            except Exception:
                log.exception("live worker step failed")

    def stop(self) -> None:
        """Flush pending writes (sending their acks), then disconnect; the session stays."""
        self._stop.set()
        for p in self.pipelines:
            if p.flush_wakeup is not None:
                p.flush_wakeup.set()
        for w in self._workers:
            w.join(timeout=10)
        for p in self.pipelines:
            p.flush_wakeup = None
            try:
                p.flush()
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
