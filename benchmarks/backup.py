"""Benchmark: ``create_backup`` and ``restore_backup`` of a database with work-order photos.

Fills a fresh database (SQLite file, and PostgreSQL when one answers on 127.0.0.1:5432 or
at TWIN_BENCH_PG_URL) with ``--orders`` work orders, each with one photo of ``--photo-kib``
KiB (random bytes, so nothing compresses) and one audit entry, then times a backup and a
restore into a fresh empty database. Baseline, measured in the same run: copying the same
number of bytes as the archive with ``shutil.copyfile`` (the floor any backup pays).

    python benchmarks/backup.py [--orders 500] [--photo-kib 64] [--only sqlite|postgresql]
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sqlalchemy as sa  # noqa: E402

from services.backup import create_backup, restore_backup  # noqa: E402
from services.db import Database, utcnow  # noqa: E402
from services.models import AuditEntry  # noqa: E402
from services.workorders.models import Attachment, WorkOrder  # noqa: E402

PG_ADMIN = os.environ.get("TWIN_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def fill(url: str, orders: int, photo_kib: int) -> None:
    db = Database(url)
    db.migrate()
    now = utcnow()
    with db.transaction() as s:
        for i in range(orders):
            wo = WorkOrder(description=f"order {i}", category="plumbing", priority="normal", status="reported",
                           source="owner", reporter="bench", respond_by=now + timedelta(hours=2),
                           resolve_by=now + timedelta(days=1))
            s.add(wo)
            s.flush()
            photo = b"\x89PNG\r\n\x1a\n" + os.urandom(photo_kib * 1024)
            s.add(Attachment(work_order_id=wo.id, filename=f"p{i}.png", content_type="image/png",
                             size_bytes=len(photo), sha256="0" * 64, data=photo, uploaded_by="bench"))
            s.add(AuditEntry(actor="bench", action="workorder.create", entity="work_order", entity_id=str(wo.id),
                             detail={"i": i}))
    db.dispose()


def pg_database() -> tuple[str, callable] | None:
    host = sa.engine.make_url(PG_ADMIN)
    try:
        socket.create_connection((host.host or "127.0.0.1", host.port or 5432), timeout=0.5).close()
    except OSError:
        return None
    name = f"twin_bench_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(sa.text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as c:
            c.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return PG_ADMIN.rsplit("/", 1)[0] + f"/{name}", drop


def bench(dialect: str, orders: int, photo_kib: int, work: Path) -> None:
    cleanups = []
    try:
        if dialect == "sqlite":
            src, dst = f"sqlite:///{work / 'src.sqlite'}", f"sqlite:///{work / 'dst.sqlite'}"
        else:
            made = [pg_database(), pg_database()]
            if None in made:
                print("postgresql: not reachable, skipped")
                return
            (src, d1), (dst, d2) = made
            cleanups += [d1, d2]
        fill(src, orders, photo_kib)
        out = work / f"{dialect}.tar"
        t0 = time.perf_counter()
        res = create_backup(src, out)
        t_backup = time.perf_counter() - t0
        t0 = time.perf_counter()
        restore_backup(out, dst)
        t_restore = time.perf_counter() - t0
        t0 = time.perf_counter()
        shutil.copyfile(out, work / "copy.bin")  # baseline: moving the archive's bytes once
        t_copy = time.perf_counter() - t0
        mib = res.size_bytes / 2**20
        print(f"{dialect}: {orders} orders, {orders} photos of {photo_kib} KiB; archive {mib:.1f} MiB; "
              f"backup {t_backup:.2f} s ({t_backup / t_copy:.1f}x a plain copy), "
              f"restore {t_restore:.2f} s ({t_restore / t_copy:.1f}x); copy {t_copy:.3f} s")
    finally:
        for c in cleanups:
            c()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--orders", type=int, default=500)
    ap.add_argument("--photo-kib", type=int, default=64)
    ap.add_argument("--only", choices=["sqlite", "postgresql"])
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="twin-bench-backup-") as work:
        for dialect in ("sqlite", "postgresql"):
            if args.only in (None, dialect):
                bench(dialect, args.orders, args.photo_kib, Path(work))


if __name__ == "__main__":
    main()
