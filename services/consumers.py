"""Durable consumers of the live history: their position kept in the database.

A durable consumer (metering, alarm → work order, and later elevator daily rows and
occupancy) reads the stored telemetry history (``live_telemetry``, in id order) from its own
position, applies its effects and stores the new position **in the same transaction**, so
after a crash or restart it resumes where the last committed transaction left it:
at-least-once delivery, and effects that are idempotent (an upsert or insert-if-absent
keyed by what they count), so a row delivered again never counts twice.

It never runs on the MQTT network thread nor inside the ingestion lock: each consumer has
its own thread, woken after every committed ingestion batch (``Pipeline.on_flushed``) and
at least every ``poll_s``. A slow consumer only falls behind; it catches up from the
database (the raw history is kept 7 days, see docs/api-live.md).

Extension point: subclass :class:`DurableConsumer` and implement :meth:`~DurableConsumer.apply`
(and optionally :meth:`~DurableConsumer.wants`); register it with the live component.
Limitation: the position is a row id. With several ingestion workers writing one
PostgreSQL database at once, ids can commit out of order; run durable consumers on a
deployment with one writer per database, or see docs/api-live.md.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from contextlib import contextmanager
from typing import Any, Iterator

import sqlalchemy as sa
from sqlalchemy import BigInteger, Float, String
from sqlalchemy.orm import Mapped, mapped_column

from services.db import Base

__all__ = ["ConsumerOffset", "ConsumerRunner", "DurableConsumer", "load_offset", "save_offset"]

log = logging.getLogger(__name__)


class ConsumerOffset(Base):
    """The position of a durable consumer: the last history row id it has applied."""

    __tablename__ = "consumer_offsets"

    consumer: Mapped[str] = mapped_column(String(64), primary_key=True)
    position: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[float] = mapped_column(Float(precision=53))


_offsets = ConsumerOffset.__table__


def load_offset(conn: sa.Connection, name: str, *, lock: bool = False) -> int:
    """The stored position of consumer ``name`` (0 when it never ran).

    ``lock`` takes the row lock on PostgreSQL (two processes never apply the same rows at
    once); SQLite serialises writers by itself.
    """
    q = sa.select(_offsets.c.position).where(_offsets.c.consumer == name)
    if lock and conn.dialect.name == "postgresql":
        q = q.with_for_update()
    pos = conn.execute(q).scalar()
    return int(pos) if pos is not None else 0


def save_offset(conn: sa.Connection, name: str, position: int) -> None:
    """Store the position of ``name`` (inside the caller's transaction)."""
    done = conn.execute(_offsets.update().where(_offsets.c.consumer == name)
                        .values(position=position, updated_at=time.time())).rowcount
    if not done:
        conn.execute(_offsets.insert().values(consumer=name, position=position, updated_at=time.time()))


class DurableConsumer:
    """Applies stored history rows in id order; subclasses implement :meth:`apply`.

    Invariants: :meth:`apply` gets rows with ids above the stored position, in id order,
    and runs inside the transaction that then stores the new position. It must be
    idempotent: after a crash the same rows come again.
    """

    #: Unique name: the key of its row in ``consumer_offsets``.
    name = "consumer"
    #: Rows read per transaction.
    batch = 2000
    #: Receipt times (epoch s) of the rows of the last batch: the runner's lag figures.
    last_received_at: list = []

    def wants(self, row) -> bool:
        """Whether a row (``id, device_id, channel, ts, seq, event, values, received_at``) matters."""
        return True

    def fetch(self, conn: sa.Connection, position: int) -> tuple[list, int, bool]:
        """Rows to apply after ``position``: ``(wanted rows, new position, more waiting)``.

        The default reads the next :attr:`batch` rows of the telemetry history in id order
        and keeps those :meth:`wants` accepts. A consumer of another durable source
        overrides it.
        """
        from live.store import telemetry as t

        rows = conn.execute(sa.select(t.c.id, t.c.device_id, t.c.channel, t.c.ts, t.c.seq, t.c.event,
                                      t.c["values"], t.c.received_at)
                            .where(t.c.id > position).order_by(t.c.id).limit(self.batch)).all()
        if not rows:
            return [], position, False
        self.last_received_at = [r.received_at for r in rows]
        return [r for r in rows if self.wants(r)], rows[-1].id, len(rows) == self.batch

    def apply(self, conn: sa.Connection, rows: list) -> None:
        """Apply the wanted rows of one batch (inside the transaction)."""
        raise NotImplementedError

    def committed(self) -> None:
        """Called after the transaction of a batch committed (e.g. to update memory)."""

    def setup(self, conn: sa.Connection, position: int) -> int:
        """Called once at start with the stored position; return the position to start from."""
        return position


class ConsumerRunner:
    """Runs one :class:`DurableConsumer` on its own thread against the history table.

    Parameters
    ----------
    engine : sqlalchemy.Engine
        Made by :func:`services.db.make_engine` (SQLite writers take the lock up front).
    consumer : DurableConsumer
    poll_s : float
        Longest wait between two looks at the history without a wake-up.
    """

    def __init__(self, engine: sa.Engine, consumer: DurableConsumer, *, poll_s: float = 1.0) -> None:
        self.engine = engine
        self.consumer = consumer
        self.poll_s = poll_s
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.position = 0
        self.applied_rows = 0
        self.errors = 0
        self.last_error: str | None = None
        #: Seconds from a row's receipt to its commit by this consumer, recent rows.
        self.lags: deque = deque(maxlen=20_000)

    def wake(self) -> None:
        """Look at the history now (called after each committed ingestion batch)."""
        self._wake.set()

    @contextmanager
    def _transaction(self) -> Iterator[sa.Connection]:
        """A write transaction; on SQLite ``BEGIN IMMEDIATE`` (an engine made by
        :func:`services.db.make_engine`), so it queues on the busy timeout instead of failing
        to upgrade a read lock while ingestion writes."""
        with self.engine.connect() as conn:
            conn.execution_options(sqlite_immediate=True)
            with conn.begin():
                yield conn

    def start(self) -> "ConsumerRunner":
        with self._transaction() as conn:
            self.position = self.consumer.setup(conn, load_offset(conn, self.consumer.name))
            save_offset(conn, self.consumer.name, self.position)
        self._thread = threading.Thread(target=self._run, name=f"consumer-{self.consumer.name}", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                more = self.step()
                self.last_error = None
            except Exception as exc:  # keep the consumer alive; the batch is retried
                self.errors += 1
                self.last_error = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
                log.exception("consumer %s failed; retrying", self.consumer.name)
                more = False
                self._stop.wait(min(5.0, self.poll_s * 2))
            if not more:
                self._wake.wait(self.poll_s)
                self._wake.clear()

    def step(self) -> bool:
        """Apply one batch and store the new position in one transaction; return whether
        more rows are waiting."""
        c = self.consumer
        c.last_received_at = []
        with self._transaction() as conn:
            pos = load_offset(conn, c.name, lock=True)
            rows, new_pos, more = c.fetch(conn, pos)
            if rows:
                c.apply(conn, rows)
            if new_pos != pos:
                save_offset(conn, c.name, new_pos)
        c.committed()
        now = time.time()
        self.lags.extend(now - r for r in c.last_received_at)
        self.position = new_pos
        self.applied_rows += len(rows)
        return more

    def drain(self, timeout: float = 30.0) -> None:
        """Apply everything stored now (tests and the CLI); raise TimeoutError if it cannot."""
        deadline = time.monotonic() + timeout
        while self.step():
            if time.monotonic() > deadline:
                raise TimeoutError(f"consumer {self.consumer.name} did not catch up in {timeout} s")

    def stats(self) -> dict[str, Any]:
        lags = sorted(self.lags)
        p99 = lags[min(len(lags) - 1, int(0.99 * len(lags)))] if lags else None
        return {"position": self.position, "applied_rows": self.applied_rows, "errors": self.errors,
                "last_error": self.last_error, "lag_p99_s": None if p99 is None else round(p99, 3)}
