"""The live component of the service: MQTT ingestion, alarms, subscribers and consumers.

Subscribers registered here (the composition root) run on their own threads behind bounded
queues (:class:`live.bus.EventBus`): the WebSocket hub and the alarm store. Durable
consumers (:mod:`services.consumers`: metering, alarm → work order, ...) are added with
:meth:`LiveComponent.add_consumer` and read the stored history from their own position.

Started and stopped with the app (:func:`services.app.create_app`); exposes itself as
``app.state.live`` for the router :mod:`services.api.live`. Broker from
``settings.mqtt_url`` (unset: an embedded amqtt broker, whose URL is written to
``data_dir/broker.url`` for ``twin devices simulate``), database from
``settings.resolved_db_url``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from pathlib import Path
from typing import Any

import orjson
from fastapi import FastAPI

from live.alarms import Alarm, AlarmBook, WorkOrderSink
from live.broker import BrokerURL, EmbeddedBroker, parse_mqtt_url
from live.errors import LiveError
from live.client import MqttIngestor
from live.bus import EventBus
from live.events import alarm_event, drill_event, escalated_event, public_event
from live.ingest import Pipeline, iso
from live.registry import DeviceRegistry
from live.rules import DEFAULT_RULES_PATH, RuleEngine, load_rules
from live.state import LiveState
from live.store import LiveStore
from services.migrations import upgrade
from services.settings import Settings
from twin.model import Community

__all__ = ["EventHub", "LiveComponent", "Subscriber", "broker_url"]

log = logging.getLogger(__name__)


def broker_url(settings: Settings, role: str, url: str | BrokerURL | None = None, *,
               protocol: int = 5) -> BrokerURL:
    """The broker URL of ``role`` (``"service"`` or ``"simulator"``) with its login and TLS files.

    ``url`` (default ``settings.mqtt_url``) names the broker. The login is
    ``TWIN_MQTT_USERNAME``/``TWIN_MQTT_PASSWORD`` when set, else the role's user of
    ``TWIN_MQTT_CREDENTIALS_FILE``, else the URL's own. For ``mqtts://`` the CA is
    ``TWIN_MQTT_CA_FILE``, else the credentials file's demo CA, else the system's CAs;
    ``TWIN_MQTT_CERT_FILE``/``TWIN_MQTT_KEY_FILE`` add a client certificate.
    """
    from live.credentials import load_credentials

    if url is None:
        url = settings.mqtt_url
    if url is None:
        raise LiveError("no broker URL: set TWIN_MQTT_URL or pass --mqtt")
    parsed = parse_mqtt_url(url, protocol=protocol) if isinstance(url, str) else url
    creds = load_credentials(settings.mqtt_credentials_file) if settings.mqtt_credentials_file else None
    user = password = None
    if settings.mqtt_username:
        user, password = settings.mqtt_username, settings.mqtt_password
    elif creds is not None:
        user, password = creds[role]["username"], creds[role]["password"]
    ca = settings.mqtt_ca_file or (creds.get("ca_file") if creds else None)
    return parsed.with_options(username=user, password=password, ca_file=str(ca) if ca else None,
                               cert_file=str(settings.mqtt_cert_file) if settings.mqtt_cert_file else None,
                               key_file=str(settings.mqtt_key_file) if settings.mqtt_key_file else None)


class Subscriber:
    """One WebSocket client: its filters and a bounded queue of serialized events.

    When the queue is full the client is too slow: its queue is dropped and it is flagged
    for a resync (a fresh snapshot), so ingestion never waits for it.
    """

    def __init__(self, *, building=None, storey=None, kind=None, types=None, maxsize: int = 2000,
                 visible=None) -> None:
        self.building = set(building.split(",")) if building else None
        self.storey = set(storey.split(",")) if storey else None
        self.kind = set(kind.split(",")) if kind else None
        self.types = set(types.split(",")) if types else None
        #: The caller's access policy: ``visible(event) -> bool`` (None: sees everything).
        self.visible = visible or (lambda ev: True)
        self.queue: asyncio.Queue = asyncio.Queue(maxsize=maxsize)
        self.resync = asyncio.Event()
        self.dropped = 0
        self.resyncs = 0

    def wants(self, ev: dict) -> bool:
        """Whether an event passes this client's filters."""
        if self.types is not None and ev.get("type") not in self.types:
            return False
        if self.building is not None and ev.get("building") not in self.building:
            return False
        if self.storey is not None and ev.get("storey") not in self.storey:
            return False
        if self.kind is not None and ev.get("kind") not in self.kind:
            return False
        return self.visible(ev)

    def offer(self, ev: dict, text: str) -> None:
        if not self.wants(ev):
            return
        try:
            self.queue.put_nowait(text)
        except asyncio.QueueFull:
            # too slow: drop what is queued and this event; a snapshot replaces them all
            self.dropped += 1
            while not self.queue.empty():
                if self.queue.get_nowait() is not None:
                    self.dropped += 1
            self.resyncs += 1
            self.resync.set()
            self.queue.put_nowait(None)  # wake the sender


class EventHub:
    """Fans events out to WebSocket subscribers; ``publish`` is callable from any thread.

    Ingestion threads append events to a queue; a task on the event loop collects them.
    While events flow, the task collects every ``interval_s`` on its own; only when it has
    gone idle does a new event wake it (one cross-thread wake-up per quiet period, not one
    per event: each wake-up is a system call in the ingesting thread).
    """

    #: While events flow, the loop collects them this often (s): the fan-out latency it adds.
    interval_s = 0.005

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.subscribers: set[Subscriber] = set()
        self._pending: deque = deque()
        self._idle = True
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task | None = None
        self.published = 0

    def start(self) -> None:
        """Start the collecting task (call on the event loop)."""
        self._wake = asyncio.Event()
        self._task = self.loop.create_task(self._run())

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None

    def publish(self, event: dict) -> None:
        """Queue an event for fan-out (never blocks)."""
        if not self.subscribers:  # nobody listens: do not wake the event loop
            self.published += 1
            return
        self._pending.append(event)
        if self._idle:  # read after the append: see _run for why no wake-up is lost
            self._idle = False
            try:
                self.loop.call_soon_threadsafe(self._wake_up)
            except RuntimeError:  # loop closed during shutdown
                pass

    def _wake_up(self) -> None:
        if self._wake is not None:
            self._wake.set()
        else:  # not started (tests drive the hub by hand)
            self._drain()
            self._idle = True

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while True:
                if self._drain():
                    await asyncio.sleep(self.interval_s)
                    continue
                # idle is set before the last look at the queue, and publish appends before
                # it reads idle: an event is either seen here or wakes us
                self._idle = True
                if not self._pending:
                    break
                self._idle = False

    def _drain(self) -> int:
        pending = self._pending
        subs = list(self.subscribers)
        n = 0
        while True:
            try:
                ev = pending.popleft()
            except IndexError:
                return n
            n += 1
            self.published += 1
            if not subs:
                continue
            text = orjson.dumps(public_event(ev), default=str).decode()  # server-only keys stay here
            for sub in subs:
                sub.offer(ev, text)

    def stats(self) -> dict[str, Any]:
        return {"clients": len(self.subscribers), "published": self.published,
                "dropped": sum(s.dropped for s in self.subscribers),
                "resyncs": sum(s.resyncs for s in self.subscribers)}


class _AlarmHook:
    """Publishes alarm transitions as typed events (stored by the ``alarm_store`` subscriber).

    Called by the alarm book, often inside the ingestion lock: it only queues events.
    """

    def __init__(self, comp: "LiveComponent") -> None:
        self.comp = comp

    def __call__(self, alarm: Alarm, transition: str) -> None:
        comp = self.comp
        kind = None
        if alarm.device_id and comp.registry.get(alarm.device_id):
            kind = comp.registry.get(alarm.device_id).kind
        comp.bus.publish(alarm_event(alarm, transition, kind=kind))
        if transition == "raised" and alarm.drill:
            comp.bus.publish(drill_event(alarm, kind=kind))


class LiveComponent:
    """Ingestion + alarms + event hub as a service component.

    Parameters
    ----------
    settings : Settings
    community : Community
    rules_path : path, optional
        Alarm rules file; default ``<site>/rules.yaml`` when given by the caller, else the
        packaged default rules.
    group : str, optional
        Shared-subscription group: run several service processes as ingestion workers.
    work_orders : WorkOrderSink, optional
        Filled in by the ops service.
    shared_broker : object, optional
        A broker already run by the composition root for several communities (its
        ``url`` once started: a :class:`~live.broker.BrokerURL`); default ``TWIN_MQTT_URL``
        or an embedded broker of this component's own.
    """

    name = "live"

    def __init__(self, settings: Settings, community: Community, *, rules_path: str | Path | None = None,
                 group: str | None = None, work_orders: WorkOrderSink | None = None,
                 client_id: str | None = None, shared_broker=None) -> None:
        self.settings = settings
        self.shared_broker = shared_broker
        self.community = community
        self.registry = DeviceRegistry.from_community(community)
        self.rules_path = Path(rules_path) if rules_path else DEFAULT_RULES_PATH
        self.rules = load_rules(self.rules_path)  # fail before starting anything
        self.group = group
        self.work_orders = work_orders
        self.client_id = client_id
        self.embedded: EmbeddedBroker | None = None
        self.store: LiveStore | None = None
        self.hub: EventHub | None = None
        #: Typed events of the pipeline and the alarm book, fanned out to subscribers.
        self.bus = EventBus()
        #: Durable consumers (added by the composition root) and their runners once started.
        self.consumers: list = []
        self.runners: list = []
        self.state = LiveState(self.registry)
        self.book = AlarmBook(on_change=_AlarmHook(self), work_orders=work_orders)
        self.engine = RuleEngine(self.rules, self.state, self.book)
        self.pipeline: Pipeline | None = None
        self.ingestor: MqttIngestor | None = None
        #: The broker URL the service's session connects to (set on start).
        self.broker: BrokerURL | None = None
        self.db_error: str | None = None
        #: Events a WebSocket client may lag behind before it is dropped to a snapshot.
        self.ws_queue_size = 2000
        #: History retention: raw readings kept 7 days, then 15-minute buckets.
        self.raw_keep_s = 7 * 86400.0
        self.bucket_s = 900
        self.retention_every_s = 3600.0
        #: Alarm id → epoch s it was escalated (:mod:`services.alarm_escalation`).
        self.escalated: dict[str, float] = {}
        #: Seconds between two looks for critical alarms to escalate.
        self.escalation_every_s = 15.0

    def check(self) -> None:
        """Validate the broker URL and reach the database (migrate it to the newest revision).

        Raises
        ------
        LiveError
            Naming the bad URL or the database error, for a one-line CLI message.
        """
        import sqlalchemy as sa

        if self.settings.mqtt_url or self.settings.mqtt_credentials_file:
            if self.settings.mqtt_url:
                broker_url(self.settings, "service")
            else:
                from live.credentials import load_credentials

                load_credentials(self.settings.mqtt_credentials_file)
        url = self.settings.resolved_db_url
        try:
            if url.startswith("sqlite:///"):
                Path(url[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
            store = LiveStore(url)
            upgrade(store.engine)           # the live tables come with the migrations
            store.dispose()
        except (sa.exc.SQLAlchemyError, ValueError) as exc:
            shown = sa.engine.make_url(url).render_as_string(hide_password=True) if "://" in url else url
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise LiveError(f"database {shown} is not usable: {first}") from None

    def add_consumer(self, consumer) -> None:
        """Register a durable consumer (:class:`services.consumers.DurableConsumer`) before start."""
        self.consumers.append(consumer)

    def work_order_opened(self, alarm_id: str, work_order_id: str | None) -> None:
        """The alarm → work order consumer opened (or gave up on) an alarm's order."""
        alarm = self.book.get(alarm_id)
        if alarm is not None:
            alarm.work_order_id = work_order_id or alarm.work_order_id
            alarm.work_order = None

    def _save_alarm(self, ev: dict) -> None:
        """The ``alarm_store`` subscriber: persist each alarm transition (own thread)."""
        if self.store is not None:
            self.store.save_alarm(ev["alarm"])

    async def start(self, app: FastAPI) -> None:
        loop = asyncio.get_running_loop()
        self.hub = EventHub(loop)
        self.hub.start()
        self.bus.subscribe("websocket", self.hub.publish, maxsize=100_000)
        # alarms are rare and must all be stored: a deep queue, never expected to fill
        self.bus.subscribe("alarm_store", self._save_alarm, maxsize=1_000_000, types=("alarm",))
        app.state.live = self
        await loop.run_in_executor(None, self._start_blocking)
        self._retention_task = asyncio.create_task(self._retention_loop())
        db = getattr(app.state, "db", None)
        if db is not None and hasattr(db, "event_listeners"):
            # committed work-order changes reach the WebSocket clients through the bus
            db.event_listeners.append(self.bus.publish)
            self._escalation_task = asyncio.create_task(self._escalation_loop(db))

    async def _escalation_loop(self, db) -> None:
        """Escalate critical alarms left unacknowledged (every ``escalation_every_s``)."""
        from services.alarm_escalation import escalate_alarms, escalated_before

        loop = asyncio.get_running_loop()
        try:
            self.escalated.update(await loop.run_in_executor(None, escalated_before, db))
        except Exception:
            log.exception("could not read the escalated alarms; they may be escalated again")
        while True:
            try:
                await loop.run_in_executor(None, lambda: escalate_alarms(
                    self, db, now=time.time(), after_s=self.settings.alarm_escalate_after_min * 60))
            except Exception:
                log.exception("alarm escalation pass failed; retrying at the next one")
            await asyncio.sleep(self.escalation_every_s)

    def publish_escalated(self, alarm: Alarm, at: float) -> None:
        """Publish the ``escalated`` event of ``alarm`` (WebSocket clients mark it)."""
        kind = None
        if alarm.device_id and self.registry.get(alarm.device_id):
            kind = self.registry.get(alarm.device_id).kind
        self.bus.publish(escalated_event(alarm, kind=kind, escalated_at=at))

    async def _retention_loop(self) -> None:
        """Downsample and expire history once an hour (first run a minute after start)."""
        loop = asyncio.get_running_loop()
        delay = 60.0
        while True:
            await asyncio.sleep(delay)
            delay = self.retention_every_s
            try:
                done = await loop.run_in_executor(None, lambda: self.store.apply_retention(
                    time.time(), raw_keep_s=self.raw_keep_s, bucket_s=self.bucket_s))
                if done["downsampled"]:
                    log.info("retention: %s", done)
            except Exception:
                log.exception("retention failed; retrying at the next run")

    def _start_blocking(self, connect: bool = True) -> None:
        s = self.settings
        s.data_dir.mkdir(parents=True, exist_ok=True)
        if self.shared_broker is not None:
            url = self.shared_broker.url
        elif s.mqtt_url:
            url = broker_url(s, "service")
        else:
            self.embedded = self._embedded_broker().start()
            url = broker_url(s, "service", self.embedded.url) if s.mqtt_credentials_file else self.embedded.url
            (s.data_dir / "broker.url").write_text(f"mqtt://127.0.0.1:{self.embedded.port}\n")
        self.store = LiveStore(s.resolved_db_url)
        upgrade(self.store.engine)
        if self.group:
            # workers of one shared subscription see parts of each place: combination
            # rules are evaluated from the shared database (live.shared_rules)
            from live.shared_rules import SharedCombos

            self.engine.shared = SharedCombos(self.store.engine, worker=self.client_id or f"{self.group}@{_host()}",
                                             site=self.registry.site)
        self.pipeline = Pipeline(self.registry, self.state, store=self.store, rules=self.engine,
                                 on_event=self.bus.publish, max_age_s=s.live_max_age_days * 86400.0)
        restored = self.pipeline.restore()
        self.book.load(self.store.load_alarms())
        self._start_consumers()
        log.info("live: %d devices, %d restored states, %d rules", len(self.registry), restored, len(self.rules))
        self.broker = url
        if connect:
            self.ingestor = MqttIngestor(self.pipeline, url, group=self.group, client_id=self.client_id).start(wait_s=15)

    def start_worker(self, connect: bool = True) -> None:
        """Run ingestion alone, without the web app (``twin ingest``): validation, state,
        rules, storage and the alarm store; durable consumers run in ``twin serve``.

        ``connect=False``: everything but the MQTT session (``self.broker`` is its URL); the
        caller feeds ``self.pipeline`` (one :class:`live.client.MqttIngestor` for several sites).
        """
        self.bus.subscribe("alarm_store", self._save_alarm, maxsize=1_000_000, types=("alarm",))
        self._start_blocking(connect)

    def stop_worker(self) -> None:
        """Stop :meth:`start_worker`: pending batches are written and acknowledged first."""
        self._stop_blocking()

    def _embedded_broker(self) -> EmbeddedBroker:
        """The embedded broker: anonymous, or with the credentials file's password file, ACL
        and (when it has them) a TLS listener on a free port."""
        s = self.settings
        if not s.mqtt_credentials_file:
            return EmbeddedBroker()
        from live.broker import free_port
        from live.credentials import load_credentials

        creds = load_credentials(s.mqtt_credentials_file)
        tls = creds.get("cert_file") and creds.get("key_file")
        return EmbeddedBroker(password_file=creds["password_file"], acl_file=creds.get("acl_file"),
                              tls_port=free_port() if tls else None, cert_file=creds.get("cert_file"),
                              key_file=creds.get("key_file"))

    def simulator_url(self) -> BrokerURL:
        """The URL (with the simulator's login when there are credentials) of this service's broker."""
        if self.shared_broker is not None:
            return self.shared_broker.url
        if self.settings.mqtt_url:
            return broker_url(self.settings, "simulator")
        if self.settings.mqtt_credentials_file:
            return broker_url(self.settings, "simulator", self.embedded.url)
        return self.embedded.url

    async def stop(self, app: FastAPI) -> None:
        for name in ("_retention_task", "_escalation_task"):
            task = getattr(self, name, None)
            if task is not None:
                task.cancel()
        db = getattr(app.state, "db", None)
        if db is not None and self.bus.publish in getattr(db, "event_listeners", ()):
            db.event_listeners.remove(self.bus.publish)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, self._stop_blocking)
        if self.hub is not None:
            self.hub.stop()

    def _start_consumers(self) -> None:
        from services.consumers import ConsumerRunner
        from services.db import make_engine

        if not self.consumers:
            return
        self._consumer_engine = make_engine(self.settings.resolved_db_url)
        self.runners = [ConsumerRunner(self._consumer_engine, c).start() for c in self.consumers]
        runners = tuple(self.runners)

        def wake() -> None:
            for r in runners:
                r.wake()
        self.pipeline.on_flushed = wake

    def _stop_blocking(self) -> None:
        if self.ingestor is not None:
            self.ingestor.stop()
        for r in self.runners:
            r.stop()
        self.bus.stop()
        if getattr(self, "_consumer_engine", None) is not None:
            self._consumer_engine.dispose()
        if self.store is not None:
            self.store.dispose()
        if self.embedded is not None:
            self.embedded.stop()
            (self.settings.data_dir / "broker.url").unlink(missing_ok=True)

    def health(self) -> dict[str, Any]:
        broker = self.ingestor.health() if self.ingestor else {"connected": False}
        broker["embedded"] = self.embedded is not None
        db_ok = self.store is not None and (self.pipeline is None or self.pipeline.last_write_error is None)
        database = {"ok": db_ok, "dialect": self.store.engine.dialect.name if self.store else None,
                    "last_error": self.pipeline.last_write_error if self.pipeline else None}
        return {"ready": bool(broker.get("connected")) and db_ok, "broker": broker, "database": database,
                "devices": len(self.registry)}

    def consumer_stats(self) -> dict[str, Any]:
        """Subscribers (queued, delivered, dropped) and durable consumers (position, lag)."""
        return {"bus": self.bus.stats(), "consumers": {r.consumer.name: r.stats() for r in self.runners}}


def _host() -> str:
    import socket

    return socket.gethostname()
