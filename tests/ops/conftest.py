"""Fixtures of the operations tests: the real app on a fresh SQLite/PostgreSQL database."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient

from services.app import create_app
from services.models import User, UserUnit
from services.dbcomponent import DatabaseComponent
from services.settings import Settings
from tests.ops.common import community

USERS = {
    "admin": ("admin", None, None),
    "operator": ("operator", None, None),
    "planner": ("planner", None, None),
    "plumber": ("staff", None, "W-PLUMB-2"),
    "owner101": ("owner", ["A101", "P001"], None),
    "owner201": ("owner", ["A201"], None),
}
PASSWORD = "correct-horse-9"


@dataclass
class Ops:
    """A running app with users; ``headers(name)`` logs in through the real token endpoint."""

    client: TestClient
    app: object
    settings: Settings
    community: object
    _tokens: dict

    def headers(self, username: str) -> dict[str, str]:
        if username not in self._tokens:
            r = self.client.post("/api/auth/token", data={"username": username, "password": PASSWORD})
            assert r.status_code == 200, r.text
            self._tokens[username] = r.json()["access_token"]
        return {"Authorization": f"Bearer {self._tokens[username]}"}

    @property
    def db(self):
        return self.app.state.db


def make_settings(db_url: str, tmp_path) -> Settings:
    return Settings(db_url=db_url, data_dir=tmp_path / "data", secret_key=secrets.token_hex(16),
                    site=tmp_path / "no-site")


@pytest.fixture(scope="session")
def password_hash() -> str:
    """One real argon2 hash of PASSWORD, computed once (argon2 is slow on purpose)."""
    from pwdlib import PasswordHash

    return PasswordHash.recommended().hash(PASSWORD)


@pytest.fixture
def ops(db_url, tmp_path, password_hash):
    settings = make_settings(db_url, tmp_path)
    c = community()
    app = create_app(settings, community=c, components=[DatabaseComponent(sla_interval_s=0)])
    with TestClient(app) as client:
        with app.state.db.transaction() as s:
            for name, (role, units, staff_id) in USERS.items():
                user = User(username=name, password_hash=password_hash, role=role, staff_id=staff_id,
                            email=f"{name}@example.test" if role == "owner" else None)
                s.add(user)
                s.flush()
                s.add_all(UserUnit(user_id=user.id, unit_id=u) for u in units or [])
        yield Ops(client, app, settings, c, {})
