"""Fixtures of the event tests."""

from __future__ import annotations

import pytest

from services.db import Database


@pytest.fixture
def db(tmp_path):
    """A migrated SQLite database whose committed events are collected in ``db.heard``."""
    d = Database(f"sqlite:///{tmp_path / 'twin.sqlite'}")
    d.migrate()
    heard: list[dict] = []
    d.event_listeners.append(heard.append)
    d.heard = heard
    yield d
    d.dispose()
