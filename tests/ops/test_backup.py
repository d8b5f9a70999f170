"""Backups: round trip on SQLite and PostgreSQL, corrupted archives, a killed backup, the schedule."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tarfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from services.backup import (BackupComponent, BackupError, create_backup, next_run, prune_backups,
                             read_manifest, restore_backup)
from services.db import Database
from tests.conftest import REPO, SAMPLE_SITES, make_pg_database

#: The tables whose every row must survive a round trip (money, work, audit).
COMPARED = ("bills", "bill_lines", "payments", "payment_allocations", "payment_intents", "work_orders",
            "work_order_events", "work_order_attachments", "audit_log", "meter_readings", "users")
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4  # content checked by magic bytes only
READINGS = ("unit_id,kind,month,reading\nA101,electricity,2026-02,1000\nA101,electricity,2026-03,1450\n"
            "A201,electricity,2026-02,500\nA201,electricity,2026-03,600\n")


def _fill(ops) -> dict:
    """Bill run, payments (recorded and by signed callback), work orders with a photo, audit."""
    from services.auth import payment_callback_key

    op = ops.headers("operator")
    assert ops.client.post("/api/billing/readings", headers={**op, "Content-Type": "text/csv"},
                           content=READINGS.encode()).status_code == 200
    r = ops.client.post("/api/billing/runs", headers=op, json={"month": "2026-03"})
    assert r.status_code == 200 and r.json()["created"] == 3, r.text
    for ref, amount, unit in (("CASH-1", "100.00", "A201"), ("CASH-2", "0.01", "A101"), ("BANK-3", "5000.00", "A101")):
        r = ops.client.post("/api/billing/payments", headers=op,
                            json={"unit_id": unit, "amount": amount, "reference": ref, "received_on": "2026-04-20"})
        assert r.status_code in (200, 201), r.text
    it = ops.client.post("/api/billing/payment-intents", headers=ops.headers("owner101"),
                         json={"unit_id": "P001", "amount": "300.00"}).json()
    raw = json.dumps({"intent_id": it["id"], "status": "succeeded", "amount": "300.00", "gateway_ref": "GW-1"}).encode()
    sig = "sha256=" + hmac.new(payment_callback_key(ops.settings), raw, hashlib.sha256).hexdigest()
    assert ops.client.post("/api/billing/payment-callback", content=raw, headers={
        "X-Twin-Signature": sig, "Content-Type": "application/json"}).status_code == 200
    h = ops.headers("owner101")
    wid = ops.client.post("/api/work-orders", headers=h, json={"description": "阳台门关不上 ✓",
                                                               "location": {"unit_id": "A101"}}).json()["id"]
    r = ops.client.post(f"/api/work-orders/{wid}/attachments", headers=h, files={"file": ("门.png", PNG, "image/png")})
    assert r.status_code in (200, 201), r.text
    w2 = ops.client.post("/api/work-orders", headers=op, json={"description": "Toilet is blocked",
                                                               "location": {"space_id": "R2"}}).json()["id"]
    for to in ("in_progress", "completed"):
        assert ops.client.post(f"/api/work-orders/{w2}/transitions", headers=op, json={"to": to}).status_code == 200
    return {"photo_wo": wid}


def _rows(url: str) -> dict[str, list[dict]]:
    engine = sa.create_engine(url)
    try:
        meta = sa.MetaData()
        meta.reflect(engine, only=list(COMPARED))
        with engine.connect() as conn:
            out = {}
            for name in COMPARED:
                t = meta.tables[name]
                out[name] = [dict(r._mapping) for r in conn.execute(sa.select(t).order_by(*t.primary_key.columns))]
            return out
    finally:
        engine.dispose()


def _migrated(url: str) -> str:
    """Bring the database at ``url`` to the newest schema (tables, no rows); return ``url``."""
    db = Database(url)
    try:
        db.migrate()
    finally:
        db.dispose()
    return url


def _fresh(db_url: str, tmp_path: Path, name: str = "restored"):
    """An empty database of the same dialect as ``db_url``: (url, cleanup)."""
    if make_url(db_url).get_backend_name() == "sqlite":
        return f"sqlite:///{tmp_path / (name + '.sqlite')}", lambda: None
    return make_pg_database()


def test_round_trip_identical_rows(ops, db_url, tmp_path):
    _fill(ops)
    before = _rows(db_url)
    # independent expectations of what was filled in, not read back from the code
    assert len(before["bills"]) == 3 and len(before["payments"]) == 4
    assert [a["data"] for a in before["work_order_attachments"]] == [PNG]
    assert {r["action"] for r in before["audit_log"]} >= {"payment.record"}
    (ops.settings.data_dir / "drills").mkdir(parents=True, exist_ok=True)
    (ops.settings.data_dir / "drills" / "drill-1.json").write_text('{"name": "演练"}')
    (ops.settings.data_dir / "secret.key").write_text("x" * 64)
    out = tmp_path / "b.tar"
    t0 = time.perf_counter()
    res = create_backup(db_url, out, data_dir=ops.settings.data_dir, site=SAMPLE_SITES / "lakeside")
    t_backup = time.perf_counter() - t0
    m = read_manifest(out)
    assert m["dialect"] == make_url(db_url).get_backend_name() and m["alembic_revision"]
    assert m["row_counts"]["bills"] == 3 and m["row_counts"]["work_order_attachments"] == 1
    assert "data/drills/drill-1.json" in m["members"]
    assert not any("secret" in n or "payment.key" in n for n in m["members"])  # never the keys
    site_file = SAMPLE_SITES / "lakeside" / "site.json"
    assert m["site"]["files"]["site.json"] == hashlib.sha256(site_file.read_bytes()).hexdigest()
    datetime.fromisoformat(m["created_at"].replace("Z", "+00:00"))
    url2, cleanup = _fresh(db_url, tmp_path)
    data2 = tmp_path / "data2"
    try:
        t0 = time.perf_counter()
        restore_backup(out, url2, data_dir=data2)
        t_restore = time.perf_counter() - t0
        assert _rows(url2) == before
        assert (data2 / "drills" / "drill-1.json").read_text() == '{"name": "演练"}'
        assert not (data2 / "secret.key").exists()
        db2 = Database(url2)  # the restored database is usable: migrations are a no-op
        try:
            assert db2.migrate() == m["alembic_revision"]
        finally:
            db2.dispose()
        # restoring again refuses the now filled database, writing nothing
        with pytest.raises(BackupError, match="not empty"):
            restore_backup(out, url2)
        # --force replaces it: a row added after the backup is gone
        eng = sa.create_engine(url2)
        with eng.begin() as c:
            c.execute(sa.text("DELETE FROM payment_allocations"))
        eng.dispose()
        restore_backup(out, url2, force=True)
        assert _rows(url2) == before
    finally:
        cleanup()
    print(f"\n{m['dialect']}: backup {t_backup:.2f} s, restore {t_restore:.2f} s, {res.size_bytes} bytes")


def test_restore_refuses_other_dialect(db_url, tmp_path):
    _migrated(db_url)
    out = tmp_path / "b.tar"
    create_backup(db_url, out)
    # the dialect is checked before any connection: the other URL need not answer
    other = (f"sqlite:///{tmp_path / 'o.sqlite'}" if db_url.startswith("postgresql")
             else "postgresql+psycopg://nobody@127.0.0.1:9/none")
    with pytest.raises(BackupError, match="cannot be restored into"):
        restore_backup(out, other)
    assert not (tmp_path / "o.sqlite").exists()


# -- corrupted archives: one line, exit 2, nothing written -----------------------------------
def _sqlite_backup(tmp_path: Path) -> Path:
    url = f"sqlite:///{tmp_path / 'src.sqlite'}"
    _migrated(url)
    out = tmp_path / "good.tar"
    create_backup(url, out)
    return out


def _rewrite(src: Path, dst: Path, edit) -> None:
    """Copy the tar ``src`` to ``dst`` passing each (name, bytes) through ``edit``."""
    members = []
    with tarfile.open(src) as tar:
        for info in tar.getmembers():
            members.append((info.name, tar.extractfile(info).read()))
    with tarfile.open(dst, "w") as tar:
        for name, data in edit(members):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def _flip_db_byte(members):
    return [(n, d[:100] + bytes([d[100] ^ 1]) + d[101:] if n == "database.sqlite" else d) for n, d in members]


def _bad_manifest_sum(members):
    out = []
    for n, d in members:
        if n == "manifest.json":
            m = json.loads(d)
            m["members"]["database.sqlite"]["sha256"] = "0" * 64
            d = json.dumps(m).encode()
        out.append((n, d))
    return out


def _version(members, v=2):
    return [(n, json.dumps({**json.loads(d), "schema_version": v}).encode() if n == "manifest.json" else d)
            for n, d in members]


def _smuggle_key(members):
    """A self-consistent archive (checksums right) that carries a key into the data folder."""
    key = b"k" * 64
    out = []
    for n, d in members:
        if n == "manifest.json":
            m = json.loads(d)
            m["members"]["data/secret.key"] = {"sha256": hashlib.sha256(key).hexdigest(), "size": 64}
            d = json.dumps(m).encode()
        out.append((n, d))
    return [*out, ("data/secret.key", key)]


def _manifest_edit(**changes):
    return lambda ms: [(n, json.dumps({**json.loads(d), **changes}).encode() if n == "manifest.json" else d)
                       for n, d in ms]


CORRUPTIONS = {
    "smuggled key": (_smuggle_key, "unexpected member 'data/secret.key'"),
    "members not objects": (_manifest_edit(members={"database.sqlite": "abc"}), "no valid members"),
    "row counts missing": (_manifest_edit(row_counts=None), "no valid row_counts"),
    "row counts negative": (_manifest_edit(row_counts={"users": -1}), "no valid row_counts"),
    "row counts float": (_manifest_edit(row_counts={"users": 1.0}), "no valid row_counts"),
    "not a backup": (_manifest_edit(format="zip"), "is not a twin backup"),
    "unknown revision": (_manifest_edit(alembic_revision="9999"), "revision '9999'"),
    "flipped byte": (_flip_db_byte, "checksum mismatch in database.sqlite"),
    "wrong manifest sum": (_bad_manifest_sum, "checksum mismatch"),
    "extra member": (lambda ms: [*ms, ("data/secret.key", b"x")], "unexpected member 'data/secret.key'"),
    "path traversal": (lambda ms: [*ms, ("../evil", b"x")], "unexpected member '../evil'"),
    "missing member": (lambda ms: [m for m in ms if m[0] != "database.sqlite"], "database.sqlite is missing"),
    "no manifest": (lambda ms: [m for m in ms if m[0] != "manifest.json"], "has no manifest.json"),
    "future version": (_version, "schema_version 2"),
    "manifest not json": (lambda ms: [(n, b"{nope" if n == "manifest.json" else d) for n, d in ms], "not valid JSON"),
}


@pytest.mark.parametrize("kind", sorted(CORRUPTIONS))
def test_corrupted_archive_is_refused_before_writing(tmp_path, kind):
    edit, message = CORRUPTIONS[kind]
    bad = tmp_path / "bad.tar"
    _rewrite(_sqlite_backup(tmp_path), bad, edit)
    target = tmp_path / "target.sqlite"
    with pytest.raises(BackupError, match=message.replace("(", r"\(")):
        restore_backup(bad, f"sqlite:///{target}", data_dir=tmp_path / "d")
    assert not target.exists() and not (tmp_path / "d").exists()


@pytest.mark.parametrize("cut", [0, 1, 511, 512, 1500, -1])
def test_truncated_or_foreign_file_is_one_line_exit_2(tmp_path, cut):
    good = _sqlite_backup(tmp_path).read_bytes()
    bad = tmp_path / "bad.tar"
    bad.write_bytes(good[:cut] if cut >= 0 else b"PK\x03\x04 not a tar at all" * 100)
    target = tmp_path / "target.sqlite"
    r = _cli("backup", "restore", str(bad), env={"TWIN_DB_URL": f"sqlite:///{target}",
                                                   "TWIN_DATA_DIR": str(tmp_path / "d")})
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "bad.tar" in lines[0], r.stderr
    assert not target.exists()


def _cli(*args: str, env: dict) -> subprocess.CompletedProcess:
    full = {**os.environ, **env}
    return subprocess.run([sys.executable, "-m", "services", *args], cwd=REPO, env=full,
                          capture_output=True, text=True, timeout=600)


def test_cli_create_and_restore_json(tmp_path):
    src = f"sqlite:///{tmp_path / 'src.sqlite'}"
    from tests.conftest import make_user

    make_user(src, "alice", "admin")
    out = tmp_path / "cli.tar"
    r = _cli("backup", "create", "--out", str(out), "--json", env={"TWIN_DB_URL": src,
                                                                   "TWIN_DATA_DIR": str(tmp_path / "d")})
    assert r.returncode == 0, r.stderr
    body = json.loads(r.stdout)
    assert body["row_counts"]["users"] == 1 and body["size_bytes"] == out.stat().st_size
    dst = f"sqlite:///{tmp_path / 'dst.sqlite'}"
    r = _cli("backup", "restore", str(out), "--json", env={"TWIN_DB_URL": dst, "TWIN_DATA_DIR": str(tmp_path / "e")})
    assert r.returncode == 0, r.stderr
    again = _cli("backup", "restore", str(out), env={"TWIN_DB_URL": dst, "TWIN_DATA_DIR": str(tmp_path / "e")})
    assert again.returncode == 2 and "--force" in again.stderr and len(again.stderr.strip().splitlines()) == 1
    forced = _cli("backup", "restore", str(out), "--force",
                  env={"TWIN_DB_URL": dst, "TWIN_DATA_DIR": str(tmp_path / "e")})
    assert forced.returncode == 0, forced.stderr
    with sqlite3.connect(tmp_path / "dst.sqlite") as c:
        assert c.execute("SELECT username FROM users").fetchall() == [("alice",)]


# -- PostgreSQL client tools ------------------------------------------------------------------
def test_missing_or_old_pg_tools_named(db_url, tmp_path, monkeypatch):
    import services.backup as backup

    _migrated(db_url)
    real_which = backup.shutil.which
    monkeypatch.setattr(backup.shutil, "which", lambda n: None if n == "pg_dump" else real_which(n))
    if db_url.startswith("sqlite"):  # SQLite needs no client tools at all
        monkeypatch.setattr(backup, "_tool_major", lambda path: 9)
        assert create_backup(db_url, tmp_path / "x.tar").manifest["dialect"] == "sqlite"
        return
    with pytest.raises(BackupError, match="pg_dump is not installed"):
        create_backup(db_url, tmp_path / "x.tar")
    monkeypatch.setattr(backup.shutil, "which", real_which)
    monkeypatch.setattr(backup, "_tool_major", lambda path: 9)
    with pytest.raises(BackupError, match=r"pg_dump is version 9 but the server is version \d+"):
        create_backup(db_url, tmp_path / "x.tar")
    assert not (tmp_path / "x.tar").exists() and not (tmp_path / "x.tar.tmp").exists()


# -- a killed backup leaves the previous one intact ------------------------------------------
def test_killed_backup_leaves_previous_file_intact(tmp_path):
    src = tmp_path / "big.sqlite"
    url = f"sqlite:///{src}"
    _migrated(url)
    with sqlite3.connect(src) as c:  # ~96 MiB: the archive takes a while to write
        c.execute("CREATE TABLE filler (id INTEGER PRIMARY KEY, blob BLOB)")
        c.executemany("INSERT INTO filler (blob) VALUES (?)", ((os.urandom(1 << 20),) for _ in range(96)))
    out = tmp_path / "backups" / "twin.tar"
    out.parent.mkdir()
    out.write_bytes(b"the previous backup " * 1000)
    previous = out.read_bytes()
    tmp = out.with_name("twin.tar.tmp")
    proc = subprocess.Popen([sys.executable, "-m", "services", "backup", "create", "--out", str(out)], cwd=REPO,
                            env={**os.environ, "TWIN_DB_URL": url, "TWIN_DATA_DIR": str(tmp_path / "d")},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while not (tmp.exists() and tmp.stat().st_size > 0) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.001)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the backup finished before it could be killed"
    assert out.read_bytes() == previous  # byte-identical
    assert tmp.stat().st_size < src.stat().st_size  # killed mid-write: the partial is only the .tmp
    # the next backup replaces the stale .tmp and the previous file, and is complete
    create_backup(url, out)
    assert not tmp.exists()
    assert read_manifest(out)["row_counts"]["filler"] == 96


# -- the schedule ---------------------------------------------------------------------------
@pytest.mark.parametrize("hour", range(24))
def test_next_run_is_the_next_local_hour(hour):
    from zoneinfo import ZoneInfo

    now = datetime(2026, 3, 1, 0, 30, tzinfo=timezone.utc)  # 08:30 in Shanghai (UTC+8, no DST)
    local_day = datetime(2026, 3, 1, hour) + (timedelta(days=1) if hour <= 8 else timedelta())
    expected = (local_day - timedelta(hours=8)).replace(tzinfo=timezone.utc)
    assert next_run(now, hour, ZoneInfo("Asia/Shanghai")) == expected


class FakeClock:
    def __init__(self, start: datetime, end: datetime) -> None:
        self.now, self.end = start, end

    def __call__(self) -> datetime:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)
        if self.now >= self.end:
            raise _Done


class _Done(Exception):
    pass


@pytest.mark.parametrize("keep", [1, 2, 3, 5])
def test_daily_backups_keep_the_newest(db_url, tmp_path, keep):
    _migrated(db_url)
    folder = tmp_path / "backups"
    folder.mkdir()
    (folder / "notes.txt").write_text("not a backup")
    (folder / "twin-manual.tar").write_text("named by hand")
    clock = FakeClock(datetime(2026, 3, 1, 0, 30, tzinfo=timezone.utc), datetime(2026, 3, 4, 0, 0, tzinfo=timezone.utc))
    comp = BackupComponent(db_url, folder, hour=3, keep=keep, tz="Asia/Shanghai", clock=clock, sleep=clock.sleep)
    with pytest.raises(_Done):
        asyncio.run(comp.loop())
    # 03:00 Shanghai = 19:00 UTC the day before: runs on Mar 1, 2 and 3 at 19:00 UTC
    runs = ["twin-20260301-190000.tar", "twin-20260302-190000.tar", "twin-20260303-190000.tar"]
    kept = sorted(p.name for p in folder.iterdir() if p.name.startswith("twin-2"))
    assert kept == runs[-keep:]
    assert (folder / "notes.txt").exists() and (folder / "twin-manual.tar").exists()
    for name in kept:
        assert read_manifest(folder / name)["created_at"].startswith(f"2026-03-0{name[12]}T19:00:00")


def test_prune_rejects_keep_zero(tmp_path):
    with pytest.raises(BackupError, match="keep=0"):
        prune_backups(tmp_path, 0)


def test_backup_component_from_settings(tmp_path, monkeypatch):
    from services.backup import backup_component
    from services.settings import Settings

    assert backup_component(Settings(data_dir=tmp_path)) is None  # unset: no scheduled backups
    monkeypatch.setenv("TWIN_BACKUP_DIR", str(tmp_path / "b"))
    monkeypatch.setenv("TWIN_BACKUP_HOUR", "23")
    monkeypatch.setenv("TWIN_BACKUP_KEEP", "7")
    comp = backup_component(Settings(data_dir=tmp_path))
    assert (comp.folder, comp.hour, comp.keep) == (tmp_path / "b", 23, 7)
    assert Settings().backup_hour == 23 and Settings(backup_dir=None).backup_dir is None
    for bad in ("24", "-1", "３"):
        monkeypatch.setenv("TWIN_BACKUP_HOUR", bad)
        with pytest.raises(ValueError, match="backup_hour"):
            Settings()
    monkeypatch.setenv("TWIN_BACKUP_HOUR", "3")
    monkeypatch.setenv("TWIN_BACKUP_KEEP", "0")
    with pytest.raises(ValueError, match="backup_keep"):
        Settings()


def test_component_runs_in_the_app(tmp_path):
    from fastapi.testclient import TestClient

    from services.app import create_app
    from services.settings import Settings
    from tests.ops.common import community

    url = f"sqlite:///{tmp_path / 'twin.sqlite'}"
    comp = BackupComponent(url, tmp_path / "daily", hour=3, keep=2)
    app = create_app(Settings(data_dir=tmp_path, db_url=url), community=community(), components=[comp])
    with TestClient(app) as client:
        body = client.get("/api/health").json()
        assert body["components"]["backup"]["keep"] == 2 and body["components"]["backup"]["ready"] is True
        assert comp._task is not None and not comp._task.done()  # waiting for 03:00
    assert comp._task.cancelled() or comp._task.done()


@pytest.mark.parametrize("url", ["not a url", "postgresql+psycopg://nobody@127.0.0.1:9/none",
                                 "mysql://u@h/db", "sqlite://"])
def test_bad_database_url_is_one_line(tmp_path, url):
    r = _cli("backup", "create", "--out", str(tmp_path / "x.tar"),
             env={"TWIN_DB_URL": url, "TWIN_DATA_DIR": str(tmp_path / "d")})
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    assert not (tmp_path / "x.tar").exists() and not (tmp_path / "x.tar.tmp").exists()


def test_restore_into_a_file_that_is_not_a_database(tmp_path):
    archive = _sqlite_backup(tmp_path)
    target = tmp_path / "junk.sqlite"
    target.write_bytes(b"this is not a database " * 200)
    before = target.read_bytes()
    with pytest.raises(BackupError, match="cannot use the database"):
        restore_backup(archive, f"sqlite:///{target}")
    assert target.read_bytes() == before


# -- properties of the schedule and of retention ------------------------------------------
from hypothesis import given, settings as hsettings, strategies as st  # noqa: E402

ZONES = ["Asia/Shanghai", "UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kathmandu"]


@hsettings(max_examples=300, deadline=None)
@given(now=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1),
                        timezones=st.just(timezone.utc)),
       hour=st.integers(0, 23), zone=st.sampled_from(ZONES))
def test_next_run_property(now, hour, zone):
    from zoneinfo import ZoneInfo

    tz = ZoneInfo(zone)
    run = next_run(now, hour, tz)
    assert run > now and run - now <= timedelta(hours=25)  # within a day (one more across a DST change)
    local = run.astimezone(tz)
    assert local.minute == 0 and local.second == 0 and local.microsecond == 0
    # the local hour is the one asked for, unless that hour does not exist that day (DST gap)
    wall = datetime(local.year, local.month, local.day, hour, tzinfo=tz)
    exists = wall.astimezone(timezone.utc).astimezone(tz).hour == hour
    assert local.hour == hour or not exists


@hsettings(max_examples=200, deadline=None)
@given(seconds=st.sets(st.integers(0, 10 * 365 * 86_400), max_size=30), keep=st.integers(1, 40))
def test_prune_keeps_the_newest(tmp_path_factory, seconds, keep):
    stamps = {datetime(2020, 1, 1) + timedelta(seconds=s) for s in seconds}  # whole seconds: one name each
    folder = tmp_path_factory.mktemp("prune")
    names = {f"twin-{t:%Y%m%d-%H%M%S}.tar" for t in stamps}
    for n in names:
        (folder / n).write_bytes(b"")
    (folder / "twin-20200101-000000.tar.tmp").write_bytes(b"")  # a partial one: never a kept backup
    prune_backups(folder, keep)
    newest = sorted(stamps)[-keep:] if stamps else []
    expected = {f"twin-{t:%Y%m%d-%H%M%S}.tar" for t in newest} | {"twin-20200101-000000.tar.tmp"}
    assert {p.name for p in folder.iterdir()} == expected


def test_second_backup_to_the_same_file_is_refused(tmp_path):
    import fcntl

    src = f"sqlite:///{tmp_path / 'src.sqlite'}"
    _migrated(src)
    out = tmp_path / "b.tar"
    out.write_bytes(b"previous")
    with open(tmp_path / "b.tar.tmp", "wb") as held:  # a running backup holds the lock
        held.write(b"half written by the other backup")
        held.flush()
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        with pytest.raises(BackupError, match="another backup is writing"):
            create_backup(src, out)
        assert (tmp_path / "b.tar.tmp").read_bytes() == b"half written by the other backup"  # left alone
    assert out.read_bytes() == b"previous"
    create_backup(src, out)  # lock released: works
    assert read_manifest(out)["dialect"] == "sqlite"


def test_differing_data_file_needs_force(tmp_path):
    src = f"sqlite:///{tmp_path / 'src.sqlite'}"
    _migrated(src)
    data = tmp_path / "data"
    (data / "drills").mkdir(parents=True)
    (data / "drills" / "a.json").write_text('{"v": 1}')
    (data / "elevator_risk.json").write_text("[]")
    (data / "notes.txt").write_text("not a record")  # not in DATA_ENTRIES: not backed up
    out = tmp_path / "b.tar"
    create_backup(src, out, data_dir=data)
    assert sorted(read_manifest(out)["members"]) == ["data/drills/a.json", "data/elevator_risk.json",
                                                     "database.sqlite"]
    other = tmp_path / "other"
    (other / "drills").mkdir(parents=True)
    (other / "drills" / "a.json").write_text('{"v": 2}')
    target = tmp_path / "t.sqlite"
    with pytest.raises(BackupError, match=r"a\.json exists and differs"):
        restore_backup(out, f"sqlite:///{target}", data_dir=other)
    assert (other / "drills" / "a.json").read_text() == '{"v": 2}' and not target.exists()
    restore_backup(out, f"sqlite:///{target}", data_dir=other, force=True)
    assert (other / "drills" / "a.json").read_text() == '{"v": 1}'
    assert (other / "elevator_risk.json").read_text() == "[]"
