"""Backups of a deployment: one tar archive with the database, the data files and a manifest.

``twin backup create --out FILE`` and ``twin backup restore FILE`` call :func:`create_backup`
and :func:`restore_backup`; :class:`BackupComponent` makes a daily backup inside the
service. The archive (uncompressed tar) holds:

- ``manifest.json``: format and schema version, ``created_at`` (UTC), dialect, Alembic
  revision, rows per table, the sha256 and size of every other member, the excluded
  data-folder entries, and optionally the sha256 of every file of a site folder;
- ``database.sqlite`` (SQLite's online backup API: a consistent copy of a live database)
  or ``database.pgdump`` (``pg_dump -Fc`` on the same snapshot the row counts were read
  from). Work-order photos live in the database (``work_order_attachments``), so they
  travel with it;
- ``data/...``: the records kept as files in the data folder (:data:`DATA_ENTRIES`). Secret
  keys, credentials, the derived-model cache and the database file itself are never
  included (:data:`EXCLUDED_ENTRIES`).

Creation writes ``FILE.tmp``, fsyncs it and renames it over ``FILE``: a killed backup leaves
the previous ``FILE`` intact. Restore checks the manifest and every checksum before it
writes anything, and refuses a database that holds rows unless ``force``.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import logging
import os
import re
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path, PurePosixPath
from typing import Any, Awaitable, Callable
from zoneinfo import ZoneInfo

from sqlalchemy import inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError

from services.errors import ServiceError
from services.communities import DEFAULT_TIMEZONE

__all__ = [
    "BACKUP_NAME", "DATA_ENTRIES", "EXCLUDED_ENTRIES", "SCHEMA_VERSION", "BackupComponent",
    "BackupError", "backup_component", "create_backup", "next_run", "prune_backups",
    "read_manifest", "restore_backup", "scheduled_backup",
]

log = logging.getLogger(__name__)

#: Version of the archive layout (``manifest.json["schema_version"]``).
SCHEMA_VERSION = 1
FORMAT = "twin-backup"
MANIFEST = "manifest.json"
#: Entries of the data folder that are records (copied into ``data/`` of the archive).
DATA_ENTRIES = ("drills", "elevator_risk.json")
#: Entries of the data folder never copied: secrets, credentials, caches, runtime markers,
#: the SQLite database itself (it is in the archive as ``database.sqlite``).
EXCLUDED_ENTRIES = ("secret.key", "payment.key", "credentials.json", "cache", "broker.url",
                    "twin.sqlite", "twin.sqlite-wal", "twin.sqlite-shm")
#: Names of the scheduled backups: ``twin-YYYYMMDD-HHMMSS.tar`` (UTC time of the backup).
BACKUP_NAME = re.compile(r"^twin-\d{8}-\d{6}\.tar$")
_CHUNK = 1 << 20
#: The database member of each dialect: ``database.<suffix>``.
DUMP_SUFFIX = {"sqlite": "sqlite", "postgresql": "pgdump"}


class BackupError(ServiceError):
    """A backup cannot be made or restored (one CLI line, exit code 2)."""


# -- helpers --------------------------------------------------------------------------------
def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def _dialect(url: str) -> str:
    try:
        return make_url(url).get_backend_name()
    except Exception:
        raise BackupError(f"TWIN_DB_URL={url!r} is not a database URL "
                          f"(e.g. sqlite:///twin.sqlite or postgresql+psycopg://user@host/db)") from None


def _connect_error(exc: BaseException) -> BackupError:
    return BackupError(f"cannot use the database: {str(getattr(exc, 'orig', None) or exc).strip().splitlines()[0]}")


def _sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise BackupError(f"cannot back up or restore an in-memory SQLite database ({url})")
    return Path(database)


def _pg_conn_args(url: str) -> tuple[str, dict[str, str]]:
    """A libpq connection string without the password, and the environment carrying it."""
    u = make_url(url)
    env = dict(os.environ)
    if u.password is not None:
        env["PGPASSWORD"] = str(u.password)
    libpq = u.set(drivername="postgresql", password=None).render_as_string(hide_password=False)
    return libpq, env


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise BackupError(f"{name} is not installed or not on PATH; install the PostgreSQL client tools "
                          f"(same major version as the server or newer)")
    return path


def _tool_major(path: str) -> int:
    out = subprocess.run([path, "--version"], capture_output=True, text=True, check=False).stdout
    m = re.search(r"(\d+)(?:\.\d+)?", out)
    if m is None:
        raise BackupError(f"cannot read the version of {path} from {out.strip()!r}")
    return int(m.group(1))


def _check_tool(name: str, server_major: int) -> str:
    path = _tool(name)
    major = _tool_major(path)
    if major < server_major:
        raise BackupError(f"{name} is version {major} but the server is version {server_major}; "
                          f"install {name} {server_major} or newer")
    return path


def _server_major(conn) -> int:
    return int(conn.exec_driver_sql("SHOW server_version_num").scalar()) // 10000


def _all_communities(conn) -> None:
    """PostgreSQL: let this connection see every community's rows (row-level security,
    see services.communities); a backup holds the whole deployment."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SELECT set_config('twin.all_communities', 'on', false)")


def _with_all_communities(env: dict | None) -> dict:
    """The environment of pg_dump / pg_restore with every community's rows visible."""
    import os

    env = dict(env if env is not None else os.environ)
    env["PGOPTIONS"] = (env.get("PGOPTIONS", "") + " -c twin.all_communities=on").strip()
    return env


def _row_counts(conn) -> dict[str, int]:
    names = sorted(inspect(conn).get_table_names())
    preparer = conn.dialect.identifier_preparer
    return {n: int(conn.execute(text(f"SELECT count(*) FROM {preparer.quote(n)}")).scalar()) for n in names}


def _revision(conn) -> str | None:
    from services.migrations import current_revision

    try:
        return current_revision(conn)
    except Exception:  # an empty database has no alembic_version table
        return None


def _site_versions(site: Path) -> dict[str, Any]:
    site = Path(site)
    if not site.is_dir():
        raise BackupError(f"site folder {site} does not exist or is not a folder")
    files = {}
    for p in sorted(site.rglob("*")):
        if p.is_file():
            files[p.relative_to(site).as_posix()] = _sha256_file(p)
    return {"name": site.resolve().name, "files": files}


def _data_files(data_dir: Path | None) -> list[tuple[str, Path]]:
    """``(archive name, path)`` of every record file in the data folder."""
    if data_dir is None:
        return []
    out = []
    for entry in DATA_ENTRIES:
        p = Path(data_dir) / entry
        if p.is_file():
            out.append((f"data/{entry}", p))
        elif p.is_dir():
            for f in sorted(p.rglob("*")):
                if f.is_file() and not f.is_symlink():
                    out.append((f"data/{f.relative_to(data_dir).as_posix()}", f))
    return out


# -- create ---------------------------------------------------------------------------------
def _open_exclusive(tmp: Path):
    """Open ``tmp`` for writing under an exclusive lock (a second backup to the same file
    stops with one line instead of interleaving its bytes)."""
    import fcntl

    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise BackupError(f"another backup is writing {tmp}; try again when it has finished") from None
    os.ftruncate(fd, 0)
    return os.fdopen(fd, "wb")


def _dump_sqlite(url: str, dest: Path) -> tuple[dict[str, int], str | None]:
    src_path = _sqlite_path(url)
    if not src_path.is_file():
        raise BackupError(f"SQLite database {src_path} does not exist")
    src = sqlite3.connect(src_path, timeout=30)
    dst = sqlite3.connect(dest)
    try:
        # one step: a read snapshot of the live database (WAL writers carry on meanwhile);
        # a stepwise copy would restart whenever another process writes
        src.backup(dst)
    finally:
        src.close()
        dst.close()
    from sqlalchemy import create_engine

    engine = create_engine(f"sqlite:///{dest}")
    try:
        with engine.connect() as conn:  # counted on the copy: exactly what the archive holds
            return _row_counts(conn), _revision(conn)
    finally:
        engine.dispose()


def _dump_postgresql(url: str, dest: Path) -> tuple[dict[str, int], str | None]:
    from sqlalchemy import create_engine

    engine = create_engine(url, isolation_level="REPEATABLE READ")
    try:
        with engine.connect() as conn:
            pg_dump = _check_tool("pg_dump", _server_major(conn))
            _all_communities(conn)
            # one snapshot for the counts and the dump: they describe the same state
            snapshot = conn.exec_driver_sql("SELECT pg_export_snapshot()").scalar()
            counts, revision = _row_counts(conn), _revision(conn)
            libpq, env = _pg_conn_args(url)
            env = _with_all_communities(env)
            proc = subprocess.run([pg_dump, "-Fc", f"--snapshot={snapshot}", "--no-owner", "--no-privileges",
                                   "--enable-row-security",
                                   "-f", str(dest), f"--dbname={libpq}"],
                                  capture_output=True, text=True, env=env, check=False)
            conn.rollback()
    finally:
        engine.dispose()
    if proc.returncode != 0:
        raise BackupError(f"pg_dump failed: {(proc.stderr.strip().splitlines() or ['no message'])[-1]}")
    return counts, revision


@dataclass
class BackupResult:
    """What :func:`create_backup` wrote."""

    path: Path
    size_bytes: int
    manifest: dict[str, Any]


def create_backup(db_url: str, out: Path, *, data_dir: Path | None = None, site: Path | None = None,
                  now: datetime | None = None) -> BackupResult:
    """Write a backup archive of the database at ``db_url`` to ``out`` (atomically).

    ``data_dir`` adds the record files of :data:`DATA_ENTRIES`; ``site`` adds the sha256
    of every file of that site folder to the manifest.
    """
    out = Path(out)
    dialect = _dialect(db_url)
    if dialect not in DUMP_SUFFIX:
        raise BackupError(f"unsupported database {dialect!r}: backups support sqlite and postgresql")
    if out.is_dir():
        raise BackupError(f"--out {out} is a folder; give a file name such as backup.tar")
    out.parent.mkdir(parents=True, exist_ok=True)
    site_info = _site_versions(site) if site is not None else None
    created = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
    with tempfile.TemporaryDirectory(prefix=".twin-backup-", dir=out.parent) as work:
        counts, revision, members = _snapshot(db_url, dialect, Path(work), data_dir)
        manifest = {
            "format": FORMAT,
            "schema_version": SCHEMA_VERSION,
            "created_at": created.isoformat().replace("+00:00", "Z"),
            "dialect": dialect,
            "alembic_revision": revision,
            "row_counts": counts,
            "members": {name: {"sha256": _sha256_file(p), "size": p.stat().st_size} for name, p in members},
            "excluded": list(EXCLUDED_ENTRIES),
            "site": site_info,
        }
        _write_archive(out, manifest, members, int(created.timestamp()))
    return BackupResult(out, out.stat().st_size, manifest)


def _snapshot(db_url: str, dialect: str, work: Path,
              data_dir: Path | None) -> tuple[dict[str, int], str | None, list[tuple[str, Path]]]:
    """Dump the database and copy the data files into ``work``: what the archive will hold,
    fixed before it is hashed (a file changing meanwhile cannot break the checksums)."""
    db_member = f"database.{DUMP_SUFFIX[dialect]}"
    dump = _dump_sqlite if dialect == "sqlite" else _dump_postgresql
    try:
        counts, revision = dump(db_url, work / db_member)
    except (DBAPIError, sqlite3.Error) as exc:
        raise _connect_error(exc) from None
    members = [(db_member, work / db_member)]
    for name, path in _data_files(data_dir):
        copy = work / name
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, copy)
        members.append((name, copy))
    return counts, revision, members


def _write_archive(out: Path, manifest: dict[str, Any], members: list[tuple[str, Path]], mtime: int) -> None:
    """Write ``out.tmp`` (manifest first), fsync it, rename it to ``out``, fsync the folder."""
    tmp = out.with_name(out.name + ".tmp")
    raw = _open_exclusive(tmp)
    try:
        with raw:
            with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
                body = json.dumps(manifest, indent=2, ensure_ascii=False).encode()
                info = tarfile.TarInfo(MANIFEST)
                info.size, info.mtime, info.mode = len(body), mtime, 0o600
                tar.addfile(info, io.BytesIO(body))
                for name, p in members:
                    info = tar.gettarinfo(str(p), arcname=name)
                    info.uid = info.gid = 0
                    info.uname = info.gname = ""
                    info.mode = 0o600
                    with open(p, "rb") as f:
                        tar.addfile(info, f)
            raw.flush()
            os.fsync(raw.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, out)
        _fsync_dir(out.parent)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


# -- restore --------------------------------------------------------------------------------
def _safe_member(name: str) -> bool:
    p = PurePosixPath(name)
    return not p.is_absolute() and ".." not in p.parts and name == p.as_posix()


def _allowed_member(name: str) -> bool:
    """Only the database dumps and the record files of :data:`DATA_ENTRIES` (never a key)."""
    if name in (f"database.{s}" for s in DUMP_SUFFIX.values()):
        return True
    parts = PurePosixPath(name).parts
    return (_safe_member(name) and len(parts) >= 2 and parts[0] == "data" and parts[1] in DATA_ENTRIES
            and (len(parts) > 2 or parts[1].endswith(".json")))


def read_manifest(archive: Path) -> dict[str, Any]:
    """Read and check ``archive``: its manifest and the sha256 of every member.

    Raises :class:`BackupError` (nothing written) for a file that is not a backup, a
    manifest of an unknown version, a missing, extra or unsafe member, or a checksum
    mismatch.
    """
    archive = Path(archive)
    if not archive.is_file():
        raise BackupError(f"backup {archive} does not exist")
    try:
        with tarfile.open(archive, mode="r:") as tar:
            manifest = _load_manifest(tar, archive)
            _check_manifest(manifest, archive)
            _verify_members(tar, manifest["members"], archive)
    except tarfile.TarError as exc:
        raise BackupError(f"{archive} is not a readable backup archive ({exc})") from None
    except EOFError:
        raise BackupError(f"{archive} is truncated") from None
    return manifest


def _load_manifest(tar: tarfile.TarFile, archive: Path) -> dict[str, Any]:
    try:
        m = tar.extractfile(MANIFEST)
    except KeyError:
        m = None
    if m is None:
        raise BackupError(f"{archive} is not a twin backup: it has no {MANIFEST}")
    try:
        manifest = json.loads(m.read().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BackupError(f"{archive}: {MANIFEST} is not valid JSON ({exc})") from None
    if not isinstance(manifest, dict):
        raise BackupError(f"{archive}: {MANIFEST} is not an object")
    return manifest


def _check_manifest(manifest: dict[str, Any], archive: Path) -> None:
    if manifest.get("format") != FORMAT:
        raise BackupError(f"{archive} is not a twin backup (format {manifest.get('format')!r})")
    if manifest.get("schema_version") != SCHEMA_VERSION:
        raise BackupError(f"{archive} has backup schema_version {manifest.get('schema_version')!r}; "
                          f"this version reads {SCHEMA_VERSION}")
    if manifest.get("dialect") not in DUMP_SUFFIX:
        raise BackupError(f"{archive}: unknown dialect {manifest.get('dialect')!r}")
    expected = manifest.get("members")
    if not isinstance(expected, dict) or not expected or not all(
            isinstance(v, dict) and isinstance(v.get("sha256"), str) for v in expected.values()):
        raise BackupError(f"{archive}: {MANIFEST} has no valid members (name: {{sha256, size}})")
    counts = manifest.get("row_counts")
    if not isinstance(counts, dict) or not all(
            isinstance(k, str) and type(v) is int and v >= 0 for k, v in counts.items()):
        raise BackupError(f"{archive}: {MANIFEST} has no valid row_counts (table: rows)")
    for name in expected:
        if not _allowed_member(name):
            raise BackupError(f"{archive}: unexpected member {name!r}")
    db_member = f"database.{DUMP_SUFFIX[manifest['dialect']]}"
    if db_member not in expected:
        raise BackupError(f"{archive}: member {db_member} is missing")


def _verify_members(tar: tarfile.TarFile, expected: dict[str, dict], archive: Path) -> None:
    """Every member listed, none more, none twice, each with its sha256."""
    seen: set[str] = set()
    for info in tar.getmembers():
        if info.name == MANIFEST:
            continue
        if not info.isfile() or not _safe_member(info.name) or info.name not in expected:
            raise BackupError(f"{archive}: unexpected member {info.name!r}")
        if info.name in seen:
            raise BackupError(f"{archive}: member {info.name!r} appears twice")
        seen.add(info.name)
        h = hashlib.sha256()
        f = tar.extractfile(info)
        while chunk := f.read(_CHUNK):
            h.update(chunk)
        if h.hexdigest() != expected[info.name]["sha256"]:
            raise BackupError(f"{archive}: checksum mismatch in {info.name} (the file is corrupted)")
    missing = sorted(set(expected) - seen)
    if missing:
        raise BackupError(f"{archive}: member {missing[0]} is missing")


def _database_rows(db_url: str) -> dict[str, int]:
    from sqlalchemy import create_engine

    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            _all_communities(conn)
            return _row_counts(conn)
    except DBAPIError as exc:  # unreachable, or a file that is not a database
        raise _connect_error(exc) from None
    finally:
        engine.dispose()


def _check_revision(revision: str | None) -> None:
    if revision is None:
        return
    from services.migrations import alembic_config  # first: it quiets Alembic's logging

    from alembic.script import ScriptDirectory  # noqa: I001

    try:
        ScriptDirectory.from_config(alembic_config()).get_revision(revision)
    except Exception:
        raise BackupError(f"the backup is at schema revision {revision!r}, which this version of the twin "
                          f"does not know; restore it with the version that made it or a newer one") from None


def restore_backup(archive: Path, db_url: str, *, data_dir: Path | None = None,
                   force: bool = False) -> dict[str, Any]:
    """Restore ``archive`` into the database at ``db_url`` (and the data files into ``data_dir``).

    Refuses a database that holds rows (other than the schema revision) unless ``force``;
    checks the archive completely before writing anything. Returns the manifest.
    """
    manifest = read_manifest(archive)
    dialect = _dialect(db_url)
    if manifest["dialect"] != dialect:
        raise BackupError(f"the backup is of a {manifest['dialect']} database; it cannot be restored into "
                          f"{dialect} (restore into a {manifest['dialect']} database)")
    _check_revision(manifest.get("alembic_revision"))
    data = _data_targets(manifest, data_dir)
    if not force:
        _refuse_filled(db_url, dialect)
        for name, target in data:
            if target.exists() and _sha256_file(target) != manifest["members"][name]["sha256"]:
                raise BackupError(f"{target} exists and differs from the backup; pass --force to replace it")
    db_member = f"database.{DUMP_SUFFIX[dialect]}"
    with tempfile.TemporaryDirectory(prefix=".twin-restore-") as work, tarfile.open(archive, mode="r:") as tar:
        src = Path(work) / db_member
        _extract(tar, db_member, src)
        if _sha256_file(src) != manifest["members"][db_member]["sha256"]:  # re-check what was read
            raise BackupError(f"{archive}: checksum mismatch in {db_member} (the file changed while read)")
        (_restore_sqlite if dialect == "sqlite" else _restore_postgresql)(src, db_url)
        for name, target in data:
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(target.name + ".restore-tmp")
            _extract(tar, name, tmp)
            os.replace(tmp, target)
    after = _database_rows(db_url)
    differ = {t: (n, after.get(t)) for t, n in manifest["row_counts"].items() if after.get(t) != n}
    if differ:
        t, (want, got) = next(iter(sorted(differ.items())))
        raise BackupError(f"restore incomplete: table {t} has {got} rows, the backup {want}")
    return manifest


def _data_targets(manifest: dict[str, Any], data_dir: Path | None) -> list[tuple[str, Path]]:
    if data_dir is None:
        return []
    return [(n, Path(data_dir) / n[len("data/"):]) for n in sorted(manifest["members"]) if n.startswith("data/")]


def _refuse_filled(db_url: str, dialect: str) -> None:
    """Raise unless the database is empty (tables without rows, or none at all)."""
    if dialect == "sqlite" and not _sqlite_path(db_url).is_file():
        return
    filled = {t: n for t, n in _database_rows(db_url).items() if n and t != "alembic_version"}
    if filled:
        t, n = next(iter(sorted(filled.items())))
        raise BackupError(f"the database is not empty ({n} rows in {t}, {len(filled)} tables with rows); "
                          f"restore into an empty database or pass --force to replace it")


def _extract(tar: tarfile.TarFile, name: str, dest: Path) -> None:
    with tar.extractfile(name) as f, open(dest, "wb") as out:
        shutil.copyfileobj(f, out, _CHUNK)


def _restore_sqlite(src: Path, db_url: str) -> None:
    path = _sqlite_path(db_url)
    path.parent.mkdir(parents=True, exist_ok=True)
    s = sqlite3.connect(f"file:{src}?mode=ro", uri=True)
    d = sqlite3.connect(path, timeout=30)
    try:
        s.backup(d)  # replaces every page of the target in one step, live readers included
    finally:
        s.close()
        d.close()


def _restore_postgresql(src: Path, db_url: str) -> None:
    from sqlalchemy import create_engine

    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            pg_restore = _check_tool("pg_restore", _server_major(conn))
    except OperationalError as exc:
        raise _connect_error(exc) from None
    finally:
        engine.dispose()
    libpq, env = _pg_conn_args(db_url)
    env = _with_all_communities(env)
    proc = subprocess.run([pg_restore, "--clean", "--if-exists", "--no-owner", "--no-privileges",
                           "--single-transaction", "--exit-on-error", f"--dbname={libpq}", str(src)],
                          capture_output=True, text=True, env=env, check=False)
    if proc.returncode != 0:
        raise BackupError(f"pg_restore failed (nothing restored): "
                          f"{(proc.stderr.strip().splitlines() or ['no message'])[-1]}")


# -- schedule -------------------------------------------------------------------------------
def next_run(now: datetime, hour: int, tz: ZoneInfo) -> datetime:
    """The first instant after ``now`` (aware) at ``hour``:00 local time in ``tz``, in UTC."""
    local = now.astimezone(tz)
    target = local.replace(hour=hour, minute=0, second=0, microsecond=0)
    if target <= local:
        target = (target + timedelta(days=1)).replace(hour=hour)
    return target.astimezone(timezone.utc)


def prune_backups(folder: Path, keep: int) -> list[Path]:
    """Delete the oldest ``twin-YYYYMMDD-HHMMSS.tar`` files beyond ``keep``; return those deleted.

    Only files named like scheduled backups are considered; anything else in the folder
    is left alone.
    """
    if keep < 1:
        raise BackupError(f"keep={keep} must be at least 1")
    names = sorted(p for p in Path(folder).iterdir() if p.is_file() and BACKUP_NAME.match(p.name))
    old = names[:-keep]
    for p in old:
        p.unlink()
    return old


def scheduled_backup(db_url: str, folder: Path, keep: int, now: datetime, *,
                     data_dir: Path | None = None, site: Path | None = None) -> Path:
    """Make ``folder/twin-YYYYMMDD-HHMMSS.tar`` (UTC ``now``) and prune beyond ``keep``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / f"twin-{now.astimezone(timezone.utc):%Y%m%d-%H%M%S}.tar"
    create_backup(db_url, out, data_dir=data_dir, site=site, now=now)
    prune_backups(folder, keep)
    return out


class BackupComponent:
    """The daily backup of the service: at ``hour`` local time, keep the newest ``keep``.

    ``clock`` (aware UTC now) and ``sleep`` (an async sleep of seconds) are injectable so a
    test can run days of schedule in milliseconds.
    """

    name = "backup"

    def __init__(self, db_url: str, folder: Path, *, hour: int = 3, keep: int = 14, tz: str = DEFAULT_TIMEZONE,
                 data_dir: Path | None = None, site: Path | None = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        if not 0 <= hour <= 23:
            raise BackupError(f"TWIN_BACKUP_HOUR={hour} must be an hour 0-23")
        if keep < 1:
            raise BackupError(f"TWIN_BACKUP_KEEP={keep} must be at least 1")
        self.db_url, self.folder, self.hour, self.keep = db_url, Path(folder), hour, keep
        self.tz = ZoneInfo(tz)
        self.data_dir, self.site = data_dir, site
        self.clock, self.sleep = clock, sleep
        self.last: Path | None = None
        self.last_error: str | None = None
        self._task: asyncio.Task | None = None

    async def start(self, app=None) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self._task = asyncio.create_task(self.loop())

    async def loop(self) -> None:
        """Sleep until the next backup hour, back up, prune; forever."""
        while True:
            due = next_run(self.clock(), self.hour, self.tz)
            while (wait := (due - self.clock()).total_seconds()) > 0:
                await self.sleep(min(wait, 3600.0))  # re-read the clock: suspend, clock changes
            try:
                self.last = await asyncio.to_thread(scheduled_backup, self.db_url, self.folder, self.keep,
                                                    self.clock(), data_dir=self.data_dir, site=self.site)
                self.last_error = None
                log.info("backup written to %s", self.last)
            except Exception as exc:  # keep the schedule alive; report in health
                self.last_error = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                log.exception("scheduled backup failed")

    async def stop(self, app=None) -> None:
        from services.app import cancel_task

        await cancel_task(self._task)

    def health(self) -> dict[str, Any]:
        """Public (``/api/health``): the schedule and the last backup's file name, never paths
        or error texts (those go to the log)."""
        return {"ready": True, "hour": self.hour, "keep": self.keep,
                "last": self.last.name if self.last else None, "last_failed": self.last_error is not None}


def backup_component(settings, db_url: str | None = None, site: Path | None = None) -> BackupComponent | None:
    """The scheduled backup for ``settings`` (``TWIN_BACKUP_DIR`` unset: None, no backups)."""
    if settings.backup_dir is None:
        return None
    return BackupComponent(db_url or settings.resolved_db_url, settings.backup_dir, hour=settings.backup_hour,
                           keep=settings.backup_keep, tz=settings.timezone, data_dir=settings.data_dir, site=site)
