"""Fan-out of pipeline events to subscribers, each on its own thread behind a bounded queue.

The pipeline calls :meth:`EventBus.publish` inside its ingestion lock; publishing only
appends the event to each subscriber's queue (no lock, no system call while the
subscriber's thread is busy), so no subscriber runs inside the ingestion lock or on the
MQTT network thread, and a slow subscriber never slows ingestion: when its queue is full,
the newest events are dropped for it alone, counted, and its ``on_overflow`` runs on its
own thread (the WebSocket hub then resyncs its clients with a snapshot). Subscribers that
must see every event (metering, work orders) are *durable consumers* instead: they read
the stored history from their own position in the database (``services.consumers``).

Lifecycle of a :class:`Subscription`: created by :meth:`EventBus.subscribe` (its thread
starts at once), fed by :meth:`EventBus.publish`, stopped by :meth:`EventBus.stop` (the
queue is drained first, up to a timeout).
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from typing import Any, Callable, Iterable

__all__ = ["EventBus", "Subscription"]

log = logging.getLogger(__name__)

Handler = Callable[[dict], None]


class Subscription:
    """One subscriber: a bounded queue and the thread that calls its handler.

    Parameters
    ----------
    name : str
    handler : callable
        Called with each event dict, on the subscription's thread.
    maxsize : int
        Events that may wait; beyond it new events are dropped for this subscriber.
    types : iterable of str, optional
        Only these event types are queued (None: all).
    on_overflow : callable, optional
        Called (on the subscription's thread) after events were dropped.
    """

    def __init__(self, name: str, handler: Handler, *, maxsize: int = 10_000,
                 types: Iterable[str] | None = None, on_overflow: Callable[[int], None] | None = None) -> None:
        if maxsize < 1:
            raise ValueError(f"maxsize={maxsize} must be >= 1")
        self.name = name
        self.handler = handler
        self.maxsize = maxsize
        self.types = frozenset(types) if types is not None else None
        self.on_overflow = on_overflow
        self.queue: deque = deque()
        self.delivered = 0
        self.dropped = 0
        self.errors = 0
        self._reported_drops = 0
        self._idle = True
        self._wake = threading.Event()
        self._stop = False
        self._thread = threading.Thread(target=self._run, name=f"bus-{name}", daemon=True)
        self._thread.start()

    def offer(self, ev: dict) -> None:
        """Queue ``ev`` (never blocks; drops it when the queue is full)."""
        if self.types is not None and ev.get("type") not in self.types:
            return
        if len(self.queue) >= self.maxsize:
            self.dropped += 1
        else:
            self.queue.append(ev)
        if self._idle:  # one wake-up per quiet period, not one per event
            self._idle = False
            self._wake.set()

    def _run(self) -> None:
        queue = self.queue
        while True:
            self._wake.wait()
            self._wake.clear()
            while True:
                while queue:
                    ev = queue.popleft()
                    try:
                        self.handler(ev)
                        self.delivered += 1
                    except Exception:
                        self.errors += 1
                        log.exception("subscriber %s failed on a %s event", self.name, ev.get("type"))
                self._report_drops()
                # idle is set before the last look at the queue, and offer appends before it
                # reads idle: an event is either seen here or sets the wake-up
                self._idle = True
                if not queue:
                    break
                self._idle = False
            if self._stop:
                return

    def _report_drops(self) -> None:
        dropped = self.dropped
        if dropped != self._reported_drops and self.on_overflow is not None:
            try:
                self.on_overflow(dropped - self._reported_drops)
            except Exception:
                log.exception("overflow handler of %s failed", self.name)
        self._reported_drops = dropped

    def stop(self, timeout: float = 5.0) -> None:
        """Deliver what is queued (up to ``timeout`` s), then end the thread."""
        self._stop = True
        self._wake.set()
        self._thread.join(timeout)

    def stats(self) -> dict[str, Any]:
        return {"queued": len(self.queue), "delivered": self.delivered, "dropped": self.dropped,
                "errors": self.errors, "maxsize": self.maxsize}


class EventBus:
    """Publishes events to every registered subscription (``publish`` from any thread)."""

    def __init__(self) -> None:
        self._subs: tuple[Subscription, ...] = ()
        self.published = 0

    def subscribe(self, name: str, handler: Handler, **kwargs) -> Subscription:
        """Register a subscriber (see :class:`Subscription` for the keywords); return it."""
        if any(s.name == name for s in self._subs):
            raise ValueError(f"subscriber name={name!r} is already registered")
        sub = Subscription(name, handler, **kwargs)
        self._subs = (*self._subs, sub)
        return sub

    def publish(self, ev: dict) -> None:
        """Queue ``ev`` for every subscriber (never blocks)."""
        self.published += 1
        for sub in self._subs:
            sub.offer(ev)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop every subscription (each drains its queue first)."""
        for sub in self._subs:
            sub.stop(timeout)

    def stats(self) -> dict[str, Any]:
        return {"published": self.published, "subscribers": {s.name: s.stats() for s in self._subs}}
