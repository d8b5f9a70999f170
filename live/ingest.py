"""The ingestion pipeline: raw MQTT message → validated reading → state, rules, events, store.

Transport-free: the MQTT client (:mod:`live.client`) and tests call :meth:`Pipeline.handle`
with the topic and payload bytes. Every message ends in exactly one outcome: ``applied``,
``late`` (stored in the history, not applied: see :meth:`Pipeline.handle`) or a dead-letter
reason (:data:`DEAD_LETTER_REASONS`); counters at :meth:`Pipeline.stats`. Events are built
by :mod:`live.events` and handed to ``on_event``, which must only queue them (subscribers
run on their own threads, never inside the ingestion lock).
Nothing a message carries can raise out of :meth:`handle` or change state before it is
fully validated.
Durability (group commit): with a store, applied readings and dead letters queue for the
writer thread, which writes everything pending in one transaction as soon as it is free;
the ``ack`` callback of each message runs only after its transaction committed, so an MQTT
client that acknowledges (PUBACK) in that callback never loses a QoS 1 message to a crash
or a database outage, and batches grow with the load.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import Counter, OrderedDict, deque
from typing import Any, Callable

from live.errors import PayloadError
from live.events import dead_letter_event, iso, offline_event, reading_event
from live.kinds import KINDS
from live.payload import MAX_PAYLOAD_BYTES, Reading, decode
from live.registry import DeviceRegistry, parse_topic, topic_for
from live.state import DeviceState, LiveState

__all__ = ["DEAD_LETTER_REASONS", "MAX_TOPIC_CHARS", "Pipeline", "iso"]

log = logging.getLogger(__name__)

#: Every dead-letter reason, documented in docs/mqtt.md.
DEAD_LETTER_REASONS = (
    "oversized", "bad_topic", "wrong_site", "unknown_device", "unknown_kind", "not_json",
    "not_object", "missing_ts", "bad_ts", "future_ts", "stale_ts", "wrong_type", "not_finite",
    "out_of_range", "unknown_field", "unknown_event", "missing_field", "empty", "duplicate",
    "out_of_order", "duplicate_key", "too_deep", "storage_rejected", "internal_error",
)

#: Longer topics are dead-lettered (``bad_topic``) before they are split (the dead-letter
#: table keeps 512 characters of a topic).
MAX_TOPIC_CHARS = 512

EventSink = Callable[[dict], None]


class Pipeline:
    """Validates, deduplicates and applies device messages of one site.

    Parameters
    ----------
    registry : DeviceRegistry
    state : LiveState, optional
        Created from the registry when omitted.
    store : live.store.LiveStore, optional
        Batched persistence; without it nothing is written and acks run at once.
    rules : live.rules.RuleEngine, optional
    on_event : callable, optional
        Receives each WebSocket-ready event dict (must not block).
    clock : callable
        Receiver clock in epoch seconds (tests pass a fixed one).
    batch_size : int
        Readings per database batch.
    dedup_size : int
        How many recent message keys are remembered for duplicate detection.
    """

    def __init__(self, registry: DeviceRegistry, state: LiveState | None = None, *, store=None,
                 rules=None, on_event: EventSink | None = None, clock: Callable[[], float] = time.time,
                 batch_size: int = 500, dedup_size: int = 200_000, max_future_s: float = 300.0,
                 max_age_s: float = 30 * 86400.0) -> None:
        self.registry = registry
        self.state = state or LiveState(registry)
        self.store = store
        self.rules = rules
        self.on_event = on_event
        self.clock = clock
        self.batch_size = batch_size
        self.max_future_s = max_future_s
        self.max_age_s = max_age_s
        self.counters: Counter = Counter()
        self.dead: Counter = Counter()
        self.recent_dead: deque = deque(maxlen=200)
        self._seen: OrderedDict = OrderedDict()
        #: Valid topics seen so far → (device id, channel, kind): at most 3 per registered device.
        self._topics: dict[str, tuple] = {}
        self._dedup_size = dedup_size
        self._lock = threading.RLock()
        self._batch: list[Reading] = []
        self._batch_dead: list[dict] = []
        self._batch_states: dict[str, DeviceState] = {}
        #: ack tokens aligned with ``_batch`` and ``_batch_dead`` (None: nothing to ack)
        self._batch_acks: list = []
        self._dead_acks: list = []
        #: reading key → writes it failed alone with an error not about its data
        self._attempts: dict[tuple, int] = {}
        self._retry_at = 0.0
        self._retry_s = 0.0
        self._flush_lock = threading.Lock()
        self.write_errors = 0
        self.last_write_error: str | None = None
        #: Set by a writer thread (``live.client``) to flush full batches off the receive path.
        self.flush_wakeup: threading.Event | None = None
        self.first_received_at: float | None = None
        self.last_received_at: float | None = None
        #: Process CPU seconds at the first and (within ``cpu_sample_s``) the latest message:
        #: the ingestion cost per message. Reading the process CPU clock is a system call that
        #: sums every thread, so it is sampled at most every ``cpu_sample_s`` of wall time.
        self.first_received_cpu_s: float | None = None
        self.last_received_cpu_s: float | None = None
        self.cpu_sample_s = 0.005
        self._cpu_sampled_at = 0.0
        #: Called (by the writer, outside the ingestion lock) after each committed batch:
        #: durable consumers reading the history wake up on it. Must not block.
        self.on_flushed: Callable[[], None] | None = None
        #: Acknowledges a list of ``ack`` tokens at once (set by a client that batches its
        #: acknowledgements); without it every token is called.
        self.ack_many: Callable[[list], None] | None = None

    # -- restart --------------------------------------------------------------------------
    def restore(self) -> int:
        """Load persisted device state and recent message keys from the store; return devices."""
        if self.store is None:
            return 0
        states = self.store.load_states()
        for dev, rec in states.items():
            self.state.restore(dev, values=rec.get("values", {}), last_ts=rec.get("last_ts"),
                               last_seen=rec.get("last_seen"), online=rec.get("online"))
        import sqlalchemy as sa
        from live.store import telemetry

        with self.store.engine.connect() as conn:
            q = (sa.select(telemetry.c.device_id, telemetry.c.channel, telemetry.c.ts, telemetry.c.seq)
                 .order_by(telemetry.c.id.desc()).limit(self._dedup_size // 2))
            for dev, ch, ts, seq in conn.execute(q):
                self._seen[(dev, ch, ts, seq)] = None
        return len(states)

    # -- the one entry point -------------------------------------------------------------
    def handle(self, topic: str, payload: bytes, ack: Callable[[], None] | None = None) -> str:
        """Process one message; return ``"applied"``, ``"late"`` or its dead-letter reason.

        ``late``: the message is older than the last applied one of its device and channel
        (a concentrator uploading a backlog): it is stored in the history (metering counts
        it) and published as a ``late`` event, but never applied to the live state or rules.

        ``ack`` runs once the outcome is durable (after the batch holding it is written).
        """
        now = self.clock()
        with self._lock:
            self.counters["received"] += 1
            if self.first_received_at is None:
                self.first_received_at = now
                self.first_received_cpu_s = time.process_time()
            self.last_received_at = now
            if now - self._cpu_sampled_at >= self.cpu_sample_s:
                self._cpu_sampled_at = now
                self.last_received_cpu_s = time.process_time()
            device_id = None
            try:
                reading = self._validate(topic, payload, now)
                device_id = reading.device_id
                if reading.key in self._seen:
                    raise PayloadError("duplicate", f"device {device_id} ts={reading.ts} seq={reading.seq} already applied")
                late = self.state.is_out_of_order(reading)
            except PayloadError as exc:
                self._reject(topic, payload, exc.reason, exc.detail, now, device_id or _device_of(topic), ack)
                return exc.reason
            except Exception as exc:  # never let a message stop ingestion
                log.exception("internal error on %s", topic)
                self._reject(topic, payload, "internal_error", repr(exc)[:500], now, _device_of(topic), ack)
                return "internal_error"
            self._remember(reading.key)
            if late:  # history and metering keep it; the live state never goes back
                self.counters["late"] += 1
                st = self.state.get(reading.device_id)
                self._emit(reading_event(reading, st, {}, late=True))
                self._queue(reading, None, ack)
                result = "late"
            else:
                result = self._apply(reading, topic, ack)
        self._maybe_flush()
        return result

    def _apply(self, reading: Reading, topic: str, ack) -> str:
        """Apply a new (in-order) reading: state, event, rules, batch (under the lock)."""
        st, changed = self.state.apply(reading)
        self.counters["applied"] += 1
        self._emit(reading_event(reading, st, changed))
        if self.rules is not None:
            try:
                self.rules.on_reading(reading, st)
            except Exception:
                log.exception("rule evaluation failed on %s", topic)
                self.counters["rule_errors"] += 1
        self._queue(reading, st, ack)
        return "applied"

    def _validate(self, topic: str, payload: bytes, now: float) -> Reading:
        if len(topic) > MAX_TOPIC_CHARS:
            raise PayloadError("bad_topic", f"topic of {len(topic)} characters exceeds {MAX_TOPIC_CHARS}")
        if len(payload) > MAX_PAYLOAD_BYTES:
            raise PayloadError("oversized", f"payload of {len(payload)} bytes exceeds {MAX_PAYLOAD_BYTES}")
        device_id, channel, kind = self._resolve(topic)
        return decode(payload, device_id=device_id, channel=channel, kind=kind, now=now,
                      max_future_s=self.max_future_s, max_age_s=self.max_age_s)

    def _resolve(self, topic: str) -> tuple:
        """(device id, channel, kind) of a topic, or the PayloadError saying why it is bad."""
        known = self._topics.get(topic)
        if known is not None:  # a valid topic seen before: registered device, known kind
            return known
        parts = parse_topic(topic)
        if parts is None:
            raise PayloadError("bad_topic", f"topic={topic!r} is not twin/{{site}}/{{device_id}}/{{telemetry|event|status}}")
        site, device_id, channel = parts
        if site != self.registry.site:
            raise PayloadError("wrong_site", f"site={site!r} is not {self.registry.site!r}")
        info = self.registry.get(device_id)
        if info is None:
            raise PayloadError("unknown_device", f"device_id={device_id!r} is not in the register")
        kind = KINDS.get(info.kind)
        if kind is None:
            raise PayloadError("unknown_kind", f"device {device_id!r} has kind={info.kind!r} the live layer does not know")
        known = self._topics[topic] = (device_id, channel, kind)
        return known

    def _remember(self, key) -> None:
        self._seen[key] = None
        if len(self._seen) > self._dedup_size:
            self._seen.popitem(last=False)

    def _reject(self, topic, payload, reason, detail, now, device_id, ack) -> None:
        self.dead[reason] += 1
        if reason == "duplicate":
            self.counters["duplicates"] += 1
        rec = {"received_at": now, "topic": topic, "device_id": device_id, "reason": reason,
               "detail": detail, "payload": payload}
        self.recent_dead.append({**rec, "payload": payload[:512].decode("utf-8", "replace"),
                                 "payload_bytes": len(payload)})
        self._emit(dead_letter_event(now=now, reason=reason, topic=topic, device_id=device_id, detail=detail))
        # duplicates are already stored; they are counted, not stored again
        if self.store is not None and reason != "duplicate":
            # only what is stored is kept: an oversized payload is not held in full
            self._batch_dead.append({**rec, "payload": payload[:4096], "payload_bytes": len(payload)})
            self._dead_acks.append(ack)
        elif ack is not None:
            self._run_acks([ack])

    def _queue(self, reading: Reading, st: DeviceState, ack) -> None:
        if self.store is None:
            if ack is not None:
                self._run_acks([ack])
            return
        self._batch.append(reading)
        if st is not None:  # a late reading is stored without touching the live state
            self._batch_states[st.device_id] = st
        self._batch_acks.append(ack)  # one per row (None too): bisection pairs rows and acks

    # -- events ---------------------------------------------------------------------------
    def _emit(self, event: dict) -> None:
        if self.on_event is not None:
            try:
                self.on_event(event)
            except Exception:
                log.exception("event sink failed")

    def device_event(self, st: DeviceState, etype: str, t: float) -> dict:
        """A device event dict for ``st`` (used for offline transitions, see :mod:`live.events`)."""
        ev = offline_event(st, t)
        ev["type"] = etype
        return ev

    # -- time -----------------------------------------------------------------------------
    def tick(self, now: float | None = None) -> None:
        """Heartbeat timeouts → offline, duration rules; call about once a second."""
        now = self.clock() if now is None else now
        with self._lock:
            for st in self.state.check_offline(now):
                self.counters["went_offline"] += 1
                self._emit(self.device_event(st, "offline", now))
                self._batch_states[st.device_id] = st
                if self.rules is not None:
                    self.rules.on_offline(st, now)
            if self.rules is not None:
                self.rules.tick(now)

    # -- persistence ----------------------------------------------------------------------
    def _maybe_flush(self) -> None:
        if self.store is None:
            return
        wake = self.flush_wakeup
        if wake is not None:
            # group commit: the writer thread writes whatever is pending as soon as it is
            # free, so acks wait one transaction, and batches grow with the load
            if not wake.is_set():
                wake.set()
        elif len(self._batch) + len(self._batch_dead) >= self.batch_size:
            self.flush()

    #: A reading that fails alone this many times with an error that is not about its data
    #: (the database answers, yet refuses the row) is dead-lettered as ``storage_rejected``.
    max_row_attempts = 3
    #: Back-off between writes while the database is unreachable (s): doubles up to the max.
    retry_min_s = 0.1
    retry_max_s = 5.0

    def flush(self) -> int:
        """Write the pending batch, then run its acks; return telemetry rows written.

        A batch the database refuses is written in halves until the refused rows are found
        (bisection); each refused row is dead-lettered alone (``storage_rejected`` with the
        database's first error line), the rest is stored, and every message is acknowledged.
        While the database is unreachable nothing is dropped: the batch is kept and retried
        with back-off (:attr:`retry_min_s` doubling up to :attr:`retry_max_s`).
        """
        if self.store is None:
            return 0
        with self._flush_lock:
            if self._retry_at and time.monotonic() < self._retry_at:
                return 0
            with self._lock:
                batch, dead, states = self._batch, self._batch_dead, list(self._batch_states.values())
                r_acks, d_acks = self._batch_acks, self._dead_acks
                self._batch, self._batch_dead, self._batch_states = [], [], {}
                self._batch_acks, self._dead_acks = [], []
            if not (batch or dead or states):
                return 0
            try:
                n = self.store.write_batch(batch, dead, states)
            except Exception as exc:
                return self._write_failed(exc, batch, r_acks, dead, d_acks, states)
            self._write_ok()
            self.counters["stored"] += n
            self._run_acks([a for a in r_acks if a is not None] + [a for a in d_acks if a is not None])
            if self.on_flushed is not None and batch:
                try:
                    self.on_flushed()
                except Exception:
                    log.exception("on_flushed hook failed")
            return n

    def _write_ok(self) -> None:
        self.last_write_error = None
        self._retry_at = self._retry_s = 0.0

    def _hold(self, items: list, states: list, exc: BaseException, backoff: bool = True) -> None:
        """Put unwritten items back in front of the batch (and back off)."""
        with self._lock:
            self._batch[:0] = [it[1] for it in items if it[0]]
            self._batch_acks[:0] = [it[2] for it in items if it[0]]
            self._batch_dead[:0] = [it[1] for it in items if not it[0]]
            self._dead_acks[:0] = [it[2] for it in items if not it[0]]
            for s in states:
                self._batch_states.setdefault(s.device_id, s)
        if not backoff:
            log.error("%d messages kept for the next write (%s)", len(items), _first_line(exc))
            return
        self._retry_s = min(self.retry_max_s, max(self.retry_min_s, self._retry_s * 2))
        self._retry_at = time.monotonic() + self._retry_s
        log.error("writing %d messages failed (%s); retrying in %.1f s", len(items), _first_line(exc), self._retry_s)

    def _write_failed(self, exc, batch, r_acks, dead, d_acks, states) -> int:
        self.write_errors += 1
        self.last_write_error = _first_line(exc)
        items = [(True, r, a) for r, a in zip(batch, r_acks)] + [(False, d, a) for d, a in zip(dead, d_acks)]
        if not items or (_transient(exc) and not self.store.ping()):
            self._hold(items, states, exc)
            return 0
        done: list = []
        failed: list = []
        try:
            n = self._isolate(items, exc, done, failed)
        except _Unreachable as down:
            written = {id(it) for it in done}
            self.counters["stored"] += sum(1 for it in done if it[0])
            self._hold([it for it in items if id(it) not in written], states, down.exc)
            self._run_acks([it[2] for it in done if it[2] is not None])
            return 0
        self.counters["stored"] += n
        keep, rejected = [], []
        for item, err in failed:
            rec = self._reject_stored(item, err, keep)
            if rec is not None:
                rejected.append((False, rec, item[2]))
        acks = [it[2] for it in done if it[2] is not None]
        if rejected:
            try:
                self.store.write_batch([], [it[1] for it in rejected], [])
                acks += [it[2] for it in rejected if it[2] is not None]
            except Exception as exc2:
                keep += rejected
                exc = exc2
        try:
            self.store.write_batch([], [], states)
            states = []
        except Exception as exc2:
            exc = exc2
        if keep or states:
            self._hold(keep, states, exc, backoff=False)
        else:
            self._write_ok()
        self._run_acks(acks)
        return n

    def _write_items(self, items: list) -> int:
        return self.store.write_batch([it[1] for it in items if it[0]], [it[1] for it in items if not it[0]], ())

    def _isolate(self, items: list, exc: BaseException, done: list, failed: list) -> int:
        """Write ``items`` (refused together with ``exc``) in halves; collect written items in
        ``done`` and each item refused alone, with its error, in ``failed``; return rows written."""
        if len(items) == 1:
            failed.append((items[0], exc))
            return 0
        mid = len(items) // 2
        n, errors = 0, []
        for part in (items[:mid], items[mid:]):
            try:
                n += self._write_items(part)
                done.extend(part)
            except Exception as err:
                errors.append((part, err))
        if len(errors) == 2 and all(_transient(e) for _, e in errors) and not self.store.ping():
            raise _Unreachable(errors[-1][1])  # the database, not a row
        for part, err in errors:
            n += self._isolate(part, err, done, failed)
        return n

    def _reject_stored(self, item: tuple, err: BaseException, keep: list) -> dict | None:
        """The dead letter of an item the database refused alone (None: keep it or drop it)."""
        is_reading, obj, ack = item
        if not is_reading:
            if obj.get("_retried"):
                log.error("dead letter on %r cannot be stored (%s); dropped", obj.get("topic"), _first_line(err))
                self.counters["dead_letter_write_failures"] += 1
                return None
            # store what can be stored: escaped text only
            return {**obj, "topic": ascii(obj["topic"])[1:-1], "detail": ascii(obj["detail"])[1:-1],
                    "payload": ascii(bytes(obj.get("payload") or b""))[2:-1].encode(), "_retried": True}
        key = obj.key
        tries = self._attempts.get(key, 0) + 1
        if not _data_error(err) and tries < self.max_row_attempts:
            self._attempts[key] = tries
            keep.append(item)
            return None
        self._attempts.pop(key, None)
        detail = _first_line(err) if _data_error(err) else f"failed {tries} times alone: {_first_line(err)}"
        topic = topic_for(self.registry.site, obj.device_id, obj.channel)
        body = json.dumps(obj.raw, ensure_ascii=True, default=repr).encode()
        now = self.clock()
        with self._lock:
            self.counters["applied"] -= 1
            self.dead["storage_rejected"] += 1
            self.recent_dead.append({"received_at": now, "topic": topic, "device_id": obj.device_id,
                                     "reason": "storage_rejected", "detail": detail,
                                     "payload": body[:512].decode(), "payload_bytes": len(body)})
        self._emit({"type": "dead_letter", "ts": iso(now), "reason": "storage_rejected", "topic": topic,
                    "device_id": obj.device_id, "detail": detail})
        log.error("reading of %s on %s refused by the database: %s", obj.device_id, obj.channel, detail)
        return {"received_at": obj.received_at or now, "topic": topic, "device_id": obj.device_id,
                "reason": "storage_rejected", "detail": detail, "payload": body, "_retried": False}

    def _run_acks(self, acks: list) -> None:
        """Acknowledge messages whose outcome is durable (all at once with ``ack_many``)."""
        if not acks:
            return
        many = self.ack_many
        if many is not None:
            try:
                many(acks)
            except Exception:
                log.exception("acknowledging %d messages failed", len(acks))
            return
        for a in acks:
            try:
                a()
            except Exception:
                log.exception("ack failed")

    @property
    def pending(self) -> int:
        """Messages waiting for the next batch write."""
        return len(self._batch) + len(self._batch_dead)

    def stats(self) -> dict[str, Any]:
        """The ``GET /api/live/stats`` counters."""
        with self._lock:
            return {
                "received": self.counters["received"],
                "applied": self.counters["applied"],
                "late": self.counters["late"],
                "duplicates": self.counters["duplicates"],
                "dead_lettered": sum(self.dead.values()),
                "dead_letters": dict(sorted(self.dead.items())),
                "stored": self.counters["stored"],
                "pending_writes": self.pending,
                "write_errors": self.write_errors,
                "went_offline": self.counters["went_offline"],
                "devices": len(self.registry),
                "first_received_at": self.first_received_at,
                "last_received_at": self.last_received_at,
                "first_received_cpu_s": self.first_received_cpu_s,
                "last_received_cpu_s": self.last_received_cpu_s,
            }


class _Unreachable(Exception):
    """The database refuses every write: keep the batch and retry later."""

    def __init__(self, exc: BaseException) -> None:
        super().__init__(str(exc))
        self.exc = exc


def _first_line(exc: BaseException) -> str:
    """``Type: first line`` of an error (database errors run over many lines)."""
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0][:500] if text else ''}"


def _chain(exc: BaseException):
    """The error and the driver errors it wraps (SQLAlchemy's ``orig``, ``__cause__``)."""
    seen = 0
    while exc is not None and seen < 5:
        yield exc
        exc = getattr(exc, "orig", None) or exc.__cause__
        seen += 1


def _data_error(exc: BaseException) -> bool:
    """Whether the database refused the data itself (so retrying the same row cannot help):
    DB-API ``DataError`` / ``IntegrityError``, or the driver refusing a Python value."""
    for e in _chain(exc):
        names = {c.__name__ for c in type(e).__mro__}
        if names & {"DataError", "IntegrityError"}:
            return True
        if isinstance(e, (OverflowError, ValueError, TypeError)):
            return True
    return False


def _transient(exc: BaseException) -> bool:
    """Whether an error may go away by itself (connection lost, database locked or down)."""
    return not _data_error(exc)


def _device_of(topic: str) -> str | None:
    parts = topic.split("/")
    return parts[2][:128] if len(parts) >= 3 and parts[0] == "twin" else None
