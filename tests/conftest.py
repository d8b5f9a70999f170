"""Fixtures shared by every test module: real files, a real database, a real broker.

- ``shared_dir``: the ``shared/`` folder beside the checkout (tests skip when it is absent).
- ``db_url``: parametrized over SQLite and PostgreSQL; each test gets a fresh, empty database
  (PostgreSQL on 127.0.0.1:5432 with trust auth, or ``TWIN_TEST_PG_URL``); the PostgreSQL
  case is skipped only when no server answers.
- ``mqtt_url``: a running Mosquitto (127.0.0.1:1883 when it answers, else one started on a
  free port for the session).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("TWIN_SHARED_DIR") or REPO.parent / "shared")
SAMPLE_SITES = REPO / "sample_sites"


def _port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def free_port() -> int:
    """Return a TCP port that is free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"shared/ folder beside the checkout is absent under CI ({SHARED.name})")
        pytest.skip("shared/ folder beside the checkout is absent")
    return SHARED


@pytest.fixture(scope="session")
def shared_ifc(shared_dir: Path) -> Path:
    folder = shared_dir / "ifc"
    if not folder.is_dir():
        if os.environ.get("CI"):
            pytest.fail("shared/ifc is absent under CI")
        pytest.skip("shared/ifc is absent")
    return folder


#: Secrets for services the tests start (``twin serve`` refuses to start without them).
SERVE_SECRETS = {"TWIN_SECRET_KEY": "test-signing-key-" + uuid.uuid4().hex + uuid.uuid4().hex,
                 "TWIN_PAYMENT_SECRET": "test-payment-key-" + uuid.uuid4().hex + uuid.uuid4().hex}
#: Password of the users the tests create with :func:`make_user`.
TEST_PASSWORD = "correct-horse-9"


def make_user(db_url: str, username: str, role: str, *, units: tuple[str, ...] = (),
              staff_id: str | None = None) -> None:
    """Create a user with :data:`TEST_PASSWORD` in the database at ``db_url`` (migrated first)."""
    from services.auth import create_user
    from services.db import Database

    db = Database(db_url)
    try:
        db.migrate()
        with db.transaction() as session:
            create_user(session, username=username, password=TEST_PASSWORD, role=role,
                        unit_ids=list(units), staff_id=staff_id)
    finally:
        db.dispose()


def bearer(client, username: str, password: str = TEST_PASSWORD) -> dict[str, str]:
    """Log in through the real token endpoint; return the Authorization header."""
    r = client.post("/api/auth/token", data={"username": username, "password": password})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def run_cli(*args: str, cwd: Path | None = None, env: dict | None = None,
            timeout: float = 600, input: str | None = None) -> subprocess.CompletedProcess:
    """Run ``twin ARGS`` in a fresh interpreter of this venv from the repo root."""
    full_env = dict(os.environ)
    full_env.setdefault("TWIN_DATA_DIR", str(REPO / ".twin-test"))
    for key, value in SERVE_SECRETS.items():
        full_env.setdefault(key, value)
    if env:
        full_env.update(env)
    return subprocess.run(
        [sys.executable, "-m", "services", *args], cwd=cwd or REPO, env=full_env,
        capture_output=True, text=True, timeout=timeout, input=input,
    )


# -- databases --------------------------------------------------------------------------
PG_ADMIN_URL = os.environ.get("TWIN_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def _pg_available() -> bool:
    return _port_open("127.0.0.1", 5432)


def make_pg_database() -> tuple[str, callable]:
    """Create a fresh PostgreSQL database; return its URL and a function that drops it."""
    import sqlalchemy as sa

    name = f"twin_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return url, drop


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path) -> str:
    """A fresh empty database URL, once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'twin.sqlite'}"
        return
    if not _pg_available():
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL is not reachable on 127.0.0.1:5432 in CI")
        pytest.skip("PostgreSQL is not reachable on 127.0.0.1:5432")
    url, drop = make_pg_database()
    yield url
    drop()


# -- MQTT ---------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def mqtt_url(tmp_path_factory) -> str:
    """URL of a running Mosquitto: the local one on 1883, else one started for the session."""
    if _port_open("127.0.0.1", 1883):
        yield "mqtt://127.0.0.1:1883"
        return
    exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    if not Path(exe).exists():
        pytest.fail("mosquitto is not installed (the CI script installs it)")
    port = free_port()
    conf = tmp_path_factory.mktemp("mosquitto") / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
    proc = subprocess.Popen([exe, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while not _port_open("127.0.0.1", port):
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail("mosquitto did not start")
        time.sleep(0.05)
    yield f"mqtt://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(timeout=10)
