"""Persistence of the live layer with SQLAlchemy 2 (SQLite by default, PostgreSQL by URL).

Tables live on :data:`LIVE_METADATA` (the service's migrations wire them in; standalone code
calls :meth:`LiveStore.create`). Times are epoch seconds, UTC, as double precision.

- ``live_telemetry``: every applied reading once; unique on device + channel + ts + seq, so
  re-delivered messages (QoS 1 after a restart) are dropped idempotently by the database;
- ``live_rollup``: downsampled history (per device, field and time bucket: n, min, max,
  mean, last) that :meth:`LiveStore.apply_retention` builds from raw rows before deleting
  them;
- ``live_dead_letters``: rejected messages with reason, detail and (truncated) payload;
- ``live_device_state`` and ``live_device_values``: last seen / online per device and last
  value per device and field; updates only win when newer (event time), so several
  ingestion workers on a shared subscription converge on the same state;
- ``live_alarms``: alarms with their lifecycle;
- ``live_rule_tracks`` and ``live_combo_claims``: combination rules of ingestion workers
  sharing a subscription (:mod:`live.shared_rules`).
"""

from __future__ import annotations

import math
import sqlite3
from collections import defaultdict
from typing import Any, Iterable

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

__all__ = ["LIVE_METADATA", "LiveStore", "telemetry", "rollup", "dead_letters", "device_state",
           "device_values", "alarms", "rule_tracks", "combo_claims", "int_range", "SEQ_RANGE", "JSON_INT_RANGE"]

LIVE_METADATA = sa.MetaData()

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

telemetry = sa.Table(
    "live_telemetry", LIVE_METADATA,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("device_id", sa.String(128), nullable=False),
    sa.Column("channel", sa.String(16), nullable=False),
    sa.Column("ts", sa.Float(precision=53), nullable=False, comment="event time, epoch s UTC"),
    sa.Column("seq", sa.BigInteger, nullable=False, server_default="-1", comment="-1 = none"),
    sa.Column("event", sa.String(64)),
    sa.Column("values", sa.JSON, nullable=False),
    sa.Column("received_at", sa.Float(precision=53), nullable=False),
    # the idempotency key; its (device_id, ts) prefix also serves history range queries
    sa.UniqueConstraint("device_id", "ts", "channel", "seq", name="uq_live_telemetry_key"),
    sa.Index("ix_live_telemetry_ts", "ts"),  # retention scans by age
)

rollup = sa.Table(
    "live_rollup", LIVE_METADATA,
    sa.Column("device_id", sa.String(128), primary_key=True),
    sa.Column("field", sa.String(64), primary_key=True),
    sa.Column("bucket_s", sa.Integer, primary_key=True),
    sa.Column("bucket_start", sa.Float(precision=53), primary_key=True),
    sa.Column("n", sa.Integer, nullable=False),
    sa.Column("min", sa.Float(precision=53)),
    sa.Column("max", sa.Float(precision=53)),
    sa.Column("mean", sa.Float(precision=53)),
    sa.Column("last", sa.Float(precision=53)),
    sa.Column("last_ts", sa.Float(precision=53)),
)

dead_letters = sa.Table(
    "live_dead_letters", LIVE_METADATA,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("received_at", sa.Float(precision=53), nullable=False),
    sa.Column("topic", sa.String(512), nullable=False),
    sa.Column("device_id", sa.String(128)),
    sa.Column("reason", sa.String(32), nullable=False, index=True),
    sa.Column("detail", sa.Text, nullable=False),
    sa.Column("payload", sa.Text, comment="first 4 KiB, UTF-8 with replacement"),
    sa.Column("payload_bytes", sa.Integer, nullable=False),
)

device_state = sa.Table(
    "live_device_state", LIVE_METADATA,
    sa.Column("device_id", sa.String(128), primary_key=True),
    sa.Column("kind", sa.String(64)),
    sa.Column("last_ts", sa.Float(precision=53)),
    sa.Column("last_seen", sa.Float(precision=53)),
    sa.Column("online", sa.Boolean),
    sa.Column("last_event", sa.String(64)),
)

device_values = sa.Table(
    "live_device_values", LIVE_METADATA,
    sa.Column("device_id", sa.String(128), primary_key=True),
    sa.Column("field", sa.String(64), primary_key=True),
    sa.Column("value", sa.JSON),
    sa.Column("ts", sa.Float(precision=53), nullable=False),
)


# member-rule tracks and combination claims of ingestion workers (live.shared_rules)
rule_tracks = sa.Table(
    "live_rule_tracks", LIVE_METADATA,
    sa.Column("rule_id", sa.String(64), primary_key=True),
    sa.Column("device_id", sa.String(256), primary_key=True, comment="{site}/{device id}"),
    sa.Column("space_scope", sa.String(160), comment="scope_of(device, 'space') as kind:id"),
    sa.Column("storey_scope", sa.String(160), comment="scope_of(device, 'storey') as kind:id"),
    sa.Column("since", sa.Float(precision=53), comment="active since (event time, epoch s); NULL: not active"),
    sa.Column("last_true", sa.Float(precision=53), comment="last time the rule held (epoch s)"),
    sa.Index("ix_live_rule_tracks_last_true", "last_true"),
)

combo_claims = sa.Table(
    "live_combo_claims", LIVE_METADATA,
    sa.Column("key", sa.String(256), primary_key=True, comment="{rule}:{scope kind}:{scope id}"),
    sa.Column("raised_at", sa.Float(precision=53), nullable=False),
    sa.Column("worker", sa.String(128), nullable=False),
)


def int_range(column: sa.Column) -> tuple[int, int]:
    """Return the inclusive range of an integer column (SmallInteger 16, Integer 32, BigInteger 64 bits).

    Raises
    ------
    TypeError
        When the column is not an integer column.
    """
    t = column.type
    for cls, bits in ((sa.SmallInteger, 16), (sa.BigInteger, 64), (sa.Integer, 32)):
        if isinstance(t, cls):
            return -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    raise TypeError(f"column {column.name!r} of type {t!r} is not an integer column")


#: Accepted ``seq``: 0 up to the largest value of ``live_telemetry.seq`` (-1 stores "none").
SEQ_RANGE = (0, int_range(telemetry.c.seq)[1])
#: Integers inside JSON values: 64-bit (what the JSON writer and PostgreSQL's ``bigint``
#: casts of reports can hold).
JSON_INT_RANGE = (-(2 ** 63), 2 ** 63 - 1)

alarms = sa.Table(
    "live_alarms", LIVE_METADATA,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("rule_id", sa.String(64), nullable=False),
    sa.Column("key", sa.String(256), nullable=False, index=True),
    sa.Column("state", sa.String(16), nullable=False, index=True),
    sa.Column("severity", sa.String(16), nullable=False),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("message_zh", sa.Text),
    sa.Column("message_en", sa.Text),
    sa.Column("device_id", sa.String(128)),
    sa.Column("building", sa.String(128)),
    sa.Column("storey", sa.String(128)),
    sa.Column("space", sa.String(128)),
    sa.Column("raised_at", sa.Float(precision=53), nullable=False),
    sa.Column("last_at", sa.Float(precision=53), nullable=False),
    sa.Column("occurrences", sa.Integer, nullable=False),
    sa.Column("acknowledged_at", sa.Float(precision=53)),
    sa.Column("acknowledged_by", sa.String(128)),
    sa.Column("ack_note", sa.Text),
    sa.Column("cleared_at", sa.Float(precision=53)),
    sa.Column("work_order_id", sa.String(128)),
    sa.Column("drill", sa.JSON),
    # the rule's work_order block while an order is to be opened (the alarm → work order consumer)
    sa.Column("work_order", sa.JSON(none_as_null=True)),
)

_PAYLOAD_KEEP = 4096


def _insert(engine: sa.Engine, table: sa.Table):
    name = engine.dialect.name
    if name == "postgresql":
        return postgresql.insert(table)
    if name == "sqlite":
        return sqlite.insert(table)
    raise ValueError(f"database dialect {name!r} is not supported (SQLite or PostgreSQL)")


class LiveStore:
    """Batched persistence of readings, dead letters, device state and alarms.

    Parameters
    ----------
    engine : sqlalchemy.Engine or str
        An engine or a SQLAlchemy URL (``sqlite:///...``, ``postgresql+psycopg://...``).
    """

    #: SQLite: how long a write waits for another writer's lock before failing (ms).
    busy_timeout_ms = 10_000

    def __init__(self, engine: sa.Engine | str) -> None:
        if isinstance(engine, str):
            kwargs = {"pool_pre_ping": True}
            engine = sa.create_engine(engine, **kwargs)
        self.engine = engine
        if engine.dialect.name == "postgresql" or sqlite3.sqlite_version_info >= (3, 32):
            self.max_params = 32766
        if engine.dialect.name == "sqlite":
            @sa.event.listens_for(engine, "connect")
            def _pragmas(dbapi_conn, _rec):  # WAL: readers never block the batch writer
                cur = dbapi_conn.cursor()
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute("PRAGMA synchronous=NORMAL")  # WAL: durable across process crashes
                cur.execute(f"PRAGMA busy_timeout={int(self.busy_timeout_ms)}")
                cur.close()

    def ping(self) -> bool:
        """Whether the database accepts writes right now (SQLite: its write lock can be taken)."""
        try:
            if self.engine.dialect.name == "sqlite":
                raw = self.engine.raw_connection()
                try:
                    cur = raw.driver_connection.cursor()
                    cur.execute("BEGIN IMMEDIATE")
                    cur.execute("ROLLBACK")
                    cur.close()
                finally:
                    raw.close()
                return True
            with self.engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
            return True
        except Exception:
            return False

    def create(self) -> None:
        """Create the live tables when they do not exist."""
        LIVE_METADATA.create_all(self.engine)

    def dispose(self) -> None:
        """Close pooled connections."""
        self.engine.dispose()

    # -- writes -----------------------------------------------------------------------
    def write_batch(self, readings: Iterable, rejected: Iterable[dict] = (),
                    states: Iterable = ()) -> int:
        """Persist a batch in one transaction; return the number of new telemetry rows.

        Parameters
        ----------
        readings : iterable of live.payload.Reading
            Applied readings (duplicates already stored are ignored).
        rejected : iterable of dict
            Dead letters: ``received_at, topic, device_id, reason, detail, payload`` (bytes).
        states : iterable of live.state.DeviceState
            Device states to upsert (a row only changes when the new ``last_ts`` is newer).
        """
        dumps = _dumps
        rows = []
        value_rows: dict[tuple[str, str], tuple] = {}
        for r in readings:
            values = r.values if r.channel != "status" else {**r.values, "online": r.online}
            rows.append((r.device_id, r.channel, r.ts, -1 if r.seq is None else r.seq, r.event,
                         dumps(values), r.received_at))
            for k, v in values.items():
                old = value_rows.get((r.device_id, k))
                if old is None or old[3] <= r.ts:
                    value_rows[(r.device_id, k)] = (r.device_id, k, dumps(v), r.ts)
        dl_rows = [self._dead_row(d) for d in rejected]
        state_rows = [(s.device_id, s.kind, s.last_ts, s.last_seen, s.online, s.last_event) for s in states]
        sql = self._sql
        inserted = 0
        with self.engine.begin() as conn:
            if rows:
                inserted = self._insert_rows(conn, sql["telemetry"], rows)
            if dl_rows:
                conn.execute(dead_letters.insert(), dl_rows)
            if value_rows:
                self._insert_rows(conn, sql["values"], list(value_rows.values()))
            if state_rows:
                self._insert_rows(conn, sql["state"], state_rows)
        return inserted

    @property
    def _sql(self) -> dict[str, tuple[str, str, str]]:
        """Hot-path statements as driver SQL: ``(head, one row's VALUES, tail)`` each.

        Batches are written as multi-row ``INSERT ... VALUES (..), (..)`` statements (see
        :meth:`_insert_rows`); the ON CONFLICT syntax is the same on SQLite and PostgreSQL.
        """
        cached = getattr(self, "_sql_cache", None)
        if cached is not None:
            return cached
        pg = self.engine.dialect.name == "postgresql"
        ph = "%s" if pg else "?"
        js = f"CAST({ph} AS JSON)" if pg else ph
        self._sql_cache = {
            "telemetry": ('INSERT INTO live_telemetry (device_id, channel, ts, seq, event, "values", received_at) VALUES ',
                          f"({ph}, {ph}, {ph}, {ph}, {ph}, {js}, {ph})",
                          " ON CONFLICT (device_id, ts, channel, seq) DO NOTHING"),
            "values": ("INSERT INTO live_device_values (device_id, field, value, ts) VALUES ",
                       f"({ph}, {ph}, {js}, {ph})",
                       " ON CONFLICT (device_id, field) DO UPDATE SET value = excluded.value, ts = excluded.ts "
                       "WHERE live_device_values.ts <= excluded.ts"),
            "state": ("INSERT INTO live_device_state (device_id, kind, last_ts, last_seen, online, last_event) VALUES ",
                      f"({ph}, {ph}, {ph}, {ph}, {ph}, {ph})",
                      " ON CONFLICT (device_id) DO UPDATE SET kind = excluded.kind, last_ts = excluded.last_ts, "
                      "last_seen = excluded.last_seen, online = excluded.online, last_event = excluded.last_event "
                      "WHERE live_device_state.last_ts IS NULL OR live_device_state.last_ts <= excluded.last_ts"),
        }
        return self._sql_cache

    #: Most bound parameters in one statement (SQLite before 3.32 allows 999; PostgreSQL 65,535).
    max_params = 999

    def _insert_rows(self, conn, stmt: tuple[str, str, str], rows: list[tuple]) -> int:
        """Insert ``rows`` with as few multi-row statements as the parameter limit allows.

        One statement per chunk instead of one execution per row: far less Python work per
        row, and the database driver releases the GIL once per chunk instead of once per row
        (which would hand the GIL back and forth with the MQTT network thread). Returns the
        rows the database reports as changed.
        """
        head, one, tail = stmt
        width = len(rows[0])
        chunk = max(1, self.max_params // width)
        cursor = conn.connection.driver_connection.cursor()
        changed = 0
        try:
            for i in range(0, len(rows), chunk):
                part = rows[i:i + chunk]
                sql = head + ", ".join([one] * len(part)) + tail
                cursor.execute(sql, [v for row in part for v in row])
                changed += cursor.rowcount if cursor.rowcount is not None and cursor.rowcount >= 0 else len(part)
        finally:
            cursor.close()
        return changed

    @staticmethod
    def _dead_row(d: dict) -> dict:
        payload = d.get("payload") or b""
        text = payload[:_PAYLOAD_KEEP].decode("utf-8", errors="replace") if isinstance(payload, bytes) else str(payload)[:_PAYLOAD_KEEP]
        size = d.get("payload_bytes")
        return {"received_at": d["received_at"], "topic": _text(d["topic"], 512),
                "device_id": None if d.get("device_id") is None else _text(d["device_id"], 128),
                "reason": d["reason"], "detail": _text(d["detail"], 2000), "payload": _text(text, _PAYLOAD_KEEP),
                "payload_bytes": len(payload) if size is None else size}

    def save_alarm(self, record: dict) -> None:
        """Insert or update one alarm record (see :meth:`live.alarms.Alarm.to_record`).

        A stored ``work_order_id`` is kept when the record has none (the work-order
        consumer sets it in the database while the in-memory alarm may not know it yet).
        """
        ins = _insert(self.engine, alarms)
        keep = {"work_order_id": sa.func.coalesce(ins.excluded.work_order_id, alarms.c.work_order_id)}
        with self.engine.begin() as conn:
            conn.execute(ins.on_conflict_do_update(
                index_elements=["id"], set_={k: keep.get(k, getattr(ins.excluded, k)) for k in record if k != "id"}),
                [record])

    # -- reads ------------------------------------------------------------------------
    def load_states(self) -> dict[str, dict]:
        """Return ``{device_id: {values, last_ts, last_seen, online, last_event}}``."""
        out: dict[str, dict] = {}
        with self.engine.connect() as conn:
            for row in conn.execute(sa.select(device_state)).mappings():
                out[row["device_id"]] = {**dict(row), "values": {}}
            for row in conn.execute(sa.select(device_values)).mappings():
                rec = out.setdefault(row["device_id"], {"device_id": row["device_id"], "values": {},
                                                         "last_ts": None, "last_seen": None, "online": None})
                rec["values"][row["field"]] = row["value"]
        return out

    def load_alarms(self, states: Iterable[str] | None = None) -> list[dict]:
        """Alarm records, optionally only those in the given lifecycle states."""
        q = sa.select(alarms).order_by(alarms.c.raised_at)
        if states is not None:
            q = q.where(alarms.c.state.in_(list(states)))
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(q).mappings()]

    def history(self, device_id: str, *, start: float | None = None, end: float | None = None,
                limit: int = 10_000) -> list[dict]:
        """Raw readings of a device in ``[start, end)`` ordered by event time."""
        q = sa.select(telemetry).where(telemetry.c.device_id == device_id)
        if start is not None:
            q = q.where(telemetry.c.ts >= start)
        if end is not None:
            q = q.where(telemetry.c.ts < end)
        q = q.order_by(telemetry.c.ts, telemetry.c.seq).limit(limit)
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(q).mappings()]

    def rollups(self, device_id: str, field: str | None = None) -> list[dict]:
        """Downsampled buckets of a device (optionally one field), oldest first."""
        q = sa.select(rollup).where(rollup.c.device_id == device_id)
        if field is not None:
            q = q.where(rollup.c.field == field)
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(q.order_by(rollup.c.bucket_start)).mappings()]

    def dead_letters(self, limit: int = 100, reason: str | None = None) -> list[dict]:
        """Most recent dead letters first."""
        q = sa.select(dead_letters).order_by(dead_letters.c.id.desc()).limit(limit)
        if reason:
            q = q.where(dead_letters.c.reason == reason)
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(q).mappings()]

    def count(self, table: sa.Table = telemetry) -> int:
        """Number of rows of a live table."""
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())

    # -- retention --------------------------------------------------------------------
    def apply_retention(self, now: float, *, raw_keep_s: float = 7 * 86400, bucket_s: int = 900,
                        rollup_keep_s: float = 400 * 86400, dead_letter_keep_s: float = 30 * 86400,
                        chunk: int = 50_000) -> dict[str, int]:
        """Downsample raw readings older than ``raw_keep_s`` into ``bucket_s`` buckets, then delete.

        Numeric (and boolean, as 0/1) fields become one ``live_rollup`` row per device, field
        and bucket (``n, min, max, mean, last``), merged with a bucket already there. Rollups
        older than ``rollup_keep_s`` and dead letters older than ``dead_letter_keep_s`` are
        deleted. Return counts ``{"downsampled", "rollups", "deleted_rollups", "deleted_dead_letters"}``.
        """
        if bucket_s <= 0:
            raise ValueError(f"bucket_s={bucket_s} must be > 0")
        cutoff = now - raw_keep_s
        # Only whole buckets are downsampled, so a bucket never mixes raw and rolled-up rows.
        cutoff = math.floor(cutoff / bucket_s) * bucket_s
        done = {"downsampled": 0, "rollups": 0}
        with self.engine.begin() as conn:
            while True:
                rows = conn.execute(
                    sa.select(telemetry.c.id, telemetry.c.device_id, telemetry.c.ts, telemetry.c["values"])
                    .where(telemetry.c.ts < cutoff).order_by(telemetry.c.ts).limit(chunk)).all()
                if not rows:
                    break
                acc: dict[tuple, list] = defaultdict(list)
                for _id, dev, ts, values in rows:
                    for k, v in (values or {}).items():
                        if isinstance(v, bool):
                            v = float(v)
                        if isinstance(v, (int, float)) and math.isfinite(v):
                            acc[(dev, k, math.floor(ts / bucket_s) * bucket_s)].append((ts, float(v)))
                for (dev, k, start), pts in acc.items():
                    self._merge_bucket(conn, dev, k, bucket_s, start, pts)
                ids = [r[0] for r in rows]
                for i in range(0, len(ids), 1000):
                    conn.execute(telemetry.delete().where(telemetry.c.id.in_(ids[i:i + 1000])))
                done["downsampled"] += len(ids)
                done["rollups"] += len(acc)
            done["deleted_rollups"] = conn.execute(
                rollup.delete().where(rollup.c.bucket_start < now - rollup_keep_s)).rowcount or 0
            done["deleted_dead_letters"] = conn.execute(
                dead_letters.delete().where(dead_letters.c.received_at < now - dead_letter_keep_s)).rowcount or 0
        return done

    @staticmethod
    def _merge_bucket(conn, dev: str, field: str, bucket_s: int, start: float, pts: list) -> None:
        pts.sort()
        vals = [v for _, v in pts]
        n, lo, hi, mean = len(vals), min(vals), max(vals), sum(vals) / len(vals)
        last_ts, last = pts[-1]
        key = (rollup.c.device_id == dev) & (rollup.c.field == field) & \
              (rollup.c.bucket_s == bucket_s) & (rollup.c.bucket_start == start)
        old = conn.execute(sa.select(rollup).where(key)).mappings().first()
        if old is not None:
            tot = old["n"] + n
            mean = (old["mean"] * old["n"] + mean * n) / tot
            lo, hi = min(lo, old["min"]), max(hi, old["max"])
            if old["last_ts"] is not None and old["last_ts"] > last_ts:
                last_ts, last = old["last_ts"], old["last"]
            conn.execute(rollup.update().where(key).values(n=tot, min=lo, max=hi, mean=mean, last=last, last_ts=last_ts))
        else:
            conn.execute(rollup.insert().values(device_id=dev, field=field, bucket_s=bucket_s, bucket_start=start,
                                                n=n, min=lo, max=hi, mean=mean, last=last, last_ts=last_ts))


def _text(value: str, limit: int) -> str:
    """``value`` cut to ``limit`` characters, storable as text on SQLite and PostgreSQL (no NUL,
    no lone surrogate)."""
    value = value[:limit].replace("\x00", "\ufffd")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        value = value.encode("utf-8", "replace").decode("utf-8")
    return value


def _dumps(value) -> str:
    """JSON text of a validated value (finite numbers, text, booleans, dicts of them)."""
    return orjson.dumps(value).decode()
