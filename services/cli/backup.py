"""``twin backup``: ``twin backup create --out FILE [--site DIR]`` and
``twin backup restore FILE [--force]``, on the database of TWIN_DB_URL (see docs/backup.md)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Optional

import typer

from services.cli.common import print_json

__all__ = ["register"]

backup_app = typer.Typer(help="Back up and restore the database and data files.", no_args_is_help=True)


@backup_app.command("create")
def create(
    out: Path = typer.Option(..., "--out", help="archive to write (a tar file; replaced atomically)"),
    site: Optional[Path] = typer.Option(None, "--site", help="site folder whose files' sha256 go into the manifest"),
    json_out: bool = typer.Option(False, "--json", help="print the result as JSON"),
) -> None:
    """Back up the database of TWIN_DB_URL and the data files of TWIN_DATA_DIR into one archive."""
    from services.backup import create_backup
    from services.settings import get_settings

    s = get_settings()
    t0 = time.perf_counter()
    result = create_backup(s.resolved_db_url, out, data_dir=s.data_dir, site=site)
    elapsed = time.perf_counter() - t0
    m = result.manifest
    if json_out:
        print_json({"path": str(result.path), "size_bytes": result.size_bytes, "seconds": round(elapsed, 3),
                    "dialect": m["dialect"], "alembic_revision": m["alembic_revision"],
                    "row_counts": m["row_counts"], "members": sorted(m["members"])})
    else:
        rows = sum(m["row_counts"].values())
        typer.echo(f"backup {result.path}: {m['dialect']}, {rows} rows, {len(m['members'])} members, "
                   f"{result.size_bytes} bytes in {elapsed:.2f} s")


@backup_app.command("restore")
def restore(
    archive: Path = typer.Argument(..., help="archive made by `twin backup create`"),
    force: bool = typer.Option(False, "--force", help="replace a database that holds rows and differing data files"),
    json_out: bool = typer.Option(False, "--json", help="print the result as JSON"),
) -> None:
    """Restore an archive into the (empty) database of TWIN_DB_URL and TWIN_DATA_DIR."""
    from services.backup import restore_backup
    from services.settings import get_settings

    s = get_settings()
    t0 = time.perf_counter()
    m = restore_backup(archive, s.resolved_db_url, data_dir=s.data_dir, force=force)
    elapsed = time.perf_counter() - t0
    if json_out:
        print_json({"restored": str(archive), "seconds": round(elapsed, 3), "dialect": m["dialect"],
                    "created_at": m["created_at"], "alembic_revision": m["alembic_revision"],
                    "row_counts": m["row_counts"]})
    else:
        typer.echo(f"restored {archive} (made {m['created_at']}, revision {m['alembic_revision']}, "
                   f"{sum(m['row_counts'].values())} rows) in {elapsed:.2f} s")


def register(app: typer.Typer) -> None:
    """Attach ``twin backup``."""
    app.add_typer(backup_app, name="backup")
