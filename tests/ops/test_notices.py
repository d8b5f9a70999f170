"""Notices: targeting checked against the lakeside register, read counts, scheduling, the
email outbox, and the in-app message a repair's state change sends its owner.

Expected recipients are computed here from ``registers/billing_units.csv`` with the csv
module and the register's id rule (``B1-U2-0301``: building B1, entrance 2, floor 3), not
from the twin or the code under test.
"""

from __future__ import annotations

import csv
from datetime import datetime, timedelta, timezone

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from services.app import create_app
from services.dbcomponent import DatabaseComponent
from services.models import Notification, User, UserUnit
from services.notices import entrance_of, publish_due
from services.sites import load_site
from tests.conftest import SAMPLE_SITES
from tests.ops.conftest import PASSWORD, make_settings
from twin.model import BillingUnit

LAKESIDE = SAMPLE_SITES / "lakeside"
STAFF_USERS = {"op": "operator", "plan": "planner", "w1": "staff", "w2": "staff", "w3": "staff"}


def _register() -> list[dict[str, str]]:
    with open(LAKESIDE / "registers" / "billing_units.csv", newline="", encoding="utf-8") as f:
        return [row for row in csv.DictReader(f) if row["kind"] == "apartment"]


def _owner(unit_id: str) -> str:
    return "o-" + unit_id.lower()


@pytest.fixture(scope="module")
def lakeside():
    return load_site(LAKESIDE)


@pytest.fixture
def site(db_url, tmp_path, password_hash, lakeside):
    """Lakeside with one owner per apartment (every third with an email), office and staff
    users (one staff user inactive)."""
    app = create_app(make_settings(db_url, tmp_path), community=lakeside,
                     components=[DatabaseComponent(sla_interval_s=0)])
    with TestClient(app) as client:
        with app.state.db.transaction() as s:
            for name, role in {"admin": "admin", **STAFF_USERS}.items():
                s.add(User(username=name, password_hash=password_hash, role=role, active=name != "w3"))
            for i, row in enumerate(_register()):
                user = User(username=_owner(row["id"]), password_hash=password_hash, role="owner",
                            email=f"{row['id']}@example.test" if i % 3 == 0 else None)
                s.add(user)
                s.flush()
                s.add(UserUnit(user_id=user.id, unit_id=row["id"]))
        tokens = {}

        def headers(name):
            if name not in tokens:
                r = client.post("/api/auth/token", data={"username": name, "password": PASSWORD})
                assert r.status_code == 200, r.text
                tokens[name] = r.json()["access_token"]
            return {"Authorization": f"Bearer {tokens[name]}"}
        yield client, headers, app


def _expected(pred) -> set[str]:
    return {_owner(r["id"]) for r in _register() if pred(r)}


def _floor(unit_id: str) -> int:
    return int(unit_id.rsplit("-", 1)[1][:2])


def _entrance(unit_id: str) -> int:
    return int(unit_id.split("-")[1][1:])


def _reached(app, notice_id: int) -> set[str]:
    from services.models import NoticeRecipient

    with app.state.db.transaction(write=False) as s:
        return set(s.scalars(select(NoticeRecipient.username).where(NoticeRecipient.notice_id == notice_id)))


@pytest.mark.parametrize("target, pred", [
    ({"building": "B3"}, lambda r: r["building"] == "B3"),
    ({"building": "B6"}, lambda r: r["building"] == "B6"),
    ({"building": "B1", "entrance": 2}, lambda r: r["building"] == "B1" and _entrance(r["id"]) == 2),
    ({"building": "B2", "floor": 7}, lambda r: r["building"] == "B2" and _floor(r["id"]) == 7),
    ({"building": "B4", "entrance": 1, "floor": 1},
     lambda r: r["building"] == "B4" and _entrance(r["id"]) == 1 and _floor(r["id"]) == 1),
    ({"unit_id": "B5-U1-0301"}, lambda r: r["id"] == "B5-U1-0301"),
    ({"role": "owner"}, lambda r: True),
    ({"role": "owner", "building": "B5"}, lambda r: r["building"] == "B5"),
])
def test_a_notice_reaches_exactly_the_owners_of_its_target(site, target, pred):
    client, headers, app = site
    expected = _expected(pred)
    assert expected  # the register has such owners (a target reaching nobody proves nothing)
    r = client.post("/api/notices", headers=headers("op"), json={
        "title": "停水通知", "body": "明日 9:00-12:00 停水", "title_en": "Water cut", "body_en": "9-12 tomorrow",
        "target": target})
    assert r.status_code == 201, r.text
    notice = r.json()
    assert notice["published"] is True and notice["recipients"] == len(expected) and notice["read_count"] == 0
    assert _reached(app, notice["id"]) == expected
    # every third owner has an email address: one outbox message each, none for the others
    with app.state.db.transaction(write=False) as s:
        mails = set(s.scalars(select(Notification.recipient).where(
            Notification.channel == "email", Notification.kind == "notice", Notification.ref == str(notice["id"]))))
    with_email = {f"{r['id']}@example.test" for i, r in enumerate(_register()) if i % 3 == 0 and pred(r)}
    assert mails == with_email
    # one owner inside, one outside: only the first lists it
    inside = sorted(expected)[0]
    outside = sorted(_expected(lambda r: True) - expected)
    assert notice["id"] in {n["id"] for n in client.get("/api/notices", headers=headers(inside)).json()}
    if outside:
        assert notice["id"] not in {n["id"] for n in client.get("/api/notices", headers=headers(outside[0])).json()}
        assert client.post(f"/api/notices/{notice['id']}/read", headers=headers(outside[0])).status_code == 404


def test_building_counts_match_the_register_for_every_building(site):
    client, headers, app = site
    buildings = sorted({r["building"] for r in _register()})
    assert buildings == ["B1", "B2", "B3", "B4", "B5", "B6"]
    for b in buildings:
        n = client.post("/api/notices", headers=headers("admin"), json={
            "title": f"{b} 通知", "body": "消防检查", "target": {"building": b}, "email": False}).json()
        assert n["recipients"] == sum(1 for r in _register() if r["building"] == b), b


def test_role_targeted_reaches_that_roles_active_users_only(site):
    client, headers, app = site
    r = client.post("/api/notices", headers=headers("op"), json={
        "title": "排班调整", "body": "下周起早班 7:00", "target": {"role": "staff"}})
    assert r.status_code == 201, r.text
    assert _reached(app, r.json()["id"]) == {"w1", "w2"}  # w3 is inactive
    assert [n["title"] for n in client.get("/api/notices", headers=headers("w1")).json()] == ["排班调整"]
    assert client.get("/api/notices", headers=headers(_owner("B1-U1-0101"))).json() == []


def test_read_counts(site):
    client, headers, app = site
    n = client.post("/api/notices", headers=headers("op"), json={
        "title": "电梯维保", "body": "2号梯周三维保", "target": {"building": "B6"}}).json()
    readers = sorted(_expected(lambda r: r["building"] == "B6"))[:5]
    for name in readers + readers[:2]:  # reading twice counts once
        r = client.post(f"/api/notices/{n['id']}/read", headers=headers(name))
        assert r.status_code == 200 and r.json() == {"id": n["id"], "read": True}
    listed = {x["id"]: x for x in client.get("/api/notices", headers=headers("plan")).json()}
    assert listed[n["id"]]["read_count"] == 5 and listed[n["id"]]["recipients"] == 24
    mine = client.get("/api/notices", headers=headers(readers[0])).json()
    assert mine[0]["read"] is True and "recipients" not in mine[0] and "target" not in mine[0]


def test_a_scheduled_notice_is_invisible_before_publish_at(site, lakeside):
    client, headers, app = site
    at = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(hours=2)
    r = client.post("/api/notices", headers=headers("op"), json={
        "title": "明晚停电", "body": "检修配电房", "target": {"building": "B6"},
        "publish_at": at.isoformat().replace("+00:00", "Z")})
    assert r.status_code == 201, r.text
    n = r.json()
    assert n["published"] is False and n["recipients"] == 0
    owner = sorted(_expected(lambda r: r["building"] == "B6"))[0]
    assert client.get("/api/notices", headers=headers(owner)).json() == []
    assert client.post(f"/api/notices/{n['id']}/read", headers=headers(owner)).status_code == 404
    with app.state.db.transaction() as s:
        assert publish_due(s, lakeside, now=at - timedelta(seconds=1)) == []
        assert s.scalar(select(Notification.id).where(Notification.ref == str(n["id"]))) is None
    with app.state.db.transaction() as s:
        assert publish_due(s, lakeside, now=at) == [n["id"]]
    with app.state.db.transaction() as s:
        assert publish_due(s, lakeside, now=at + timedelta(hours=1)) == []  # once only
    assert [x["id"] for x in client.get("/api/notices", headers=headers(owner)).json()] == [n["id"]]
    assert len(_reached(app, n["id"])) == 24


@pytest.mark.parametrize("body, needle", [
    ({"target": {}}, "at least one"),
    ({"target": {"entrance": 1}}, "needs a building"),
    ({"target": {"floor": 3}}, "needs a building"),
    ({"target": {"role": "staff", "building": "B1"}}, "cannot be combined"),
    ({"target": {"role": "janitor"}}, "role"),
    ({"target": {"building": "B1", "entrance": "２"}}, "entrance"),
    ({"target": {"building": "B1", "floor": 2**31}}, "floor"),
    ({"target": {"wing": "A"}}, "wing"),
    ({"target": {"building": "B1"}, "publish_at": "2026-12-03T09:00:00"}, "timezone"),
    ({"target": {"building": "B1"}, "title": ""}, "title"),
    ({"target": {"building": "B1"}, "title": "  "}, "title"),
    ({"target": {"building": "B1"}, "publish_at": "0001-01-01T00:00:00+01:00"}, "publish_at"),
    ({"target": {"building": "B1"}, "publish_at": "9999-12-31T23:59:59-01:00"}, "publish_at"),
    ({"target": {"building": "B1"}, "publish_at": "1999-12-31T23:59:59Z"}, "publish_at"),
    ({"target": {"building": "B1"}, "body": "x" * 10_001}, "body"),
])
def test_bad_notices_are_refused_naming_the_value(site, body, needle):
    client, headers, app = site
    payload = {"title": "t", "body": "b", **body}
    r = client.post("/api/notices", headers=headers("op"), json=payload)
    assert r.status_code == 422, r.text
    assert needle in r.text
    assert client.get("/api/notices", headers=headers("op")).json() == []


def test_owner_and_staff_roles_may_not_compose(site):
    client, headers, app = site
    for name in ("plan", "w1", _owner("B1-U1-0101")):
        r = client.post("/api/notices", headers=headers(name), json={
            "title": "t", "body": "b", "target": {"role": "owner"}})
        assert r.status_code == 403, (name, r.text)


@pytest.mark.parametrize("attrs, expected", [
    ({}, 3), ({"entrance": "2"}, 2), ({"entrance": "5单元"}, 5), ({"entrance": ""}, 3), ({"entrance": None}, 3)])
def test_entrance_rule(attrs, expected):
    assert entrance_of(BillingUnit("B9-U3-1204", "apartment", "B9", 80.0, attributes=attrs)) == expected


@pytest.mark.parametrize("unit_id", ["GAR-P001", "B1-0101", "B1-U-0101", "B1-U١-0101"])
def test_no_entrance_without_register_column_or_rule(unit_id):
    assert entrance_of(BillingUnit(unit_id, "apartment", "B1", 80.0)) is None


@pytest.mark.parametrize("bad", ["二", "２", "-1", "1.5"])
def test_a_bad_entrance_column_is_named(bad):
    from services.errors import InvalidInput

    with pytest.raises(InvalidInput, match="entrance"):
        entrance_of(BillingUnit("B1-U1-0101", "apartment", "B1", 80.0, attributes={"entrance": bad}))


def test_a_repair_state_change_messages_its_owner(ops):
    """In the canonical community: owner101 reports on A101; the operator's transitions (and
    an automatic assignment) message owner101 (in-app), never owner201; the owner's own
    cancel messages nobody."""
    c = ops.client
    wo = c.post("/api/work-orders", headers=ops.headers("owner101"),
                json={"description": "卫生间水管漏水", "location": {"unit_id": "A101"}}).json()
    steps = [s for s in ("assigned", "in_progress", "completed") if not (s == "assigned" and wo["status"] == "assigned")]
    for to in steps:
        body = {"to": to, **({"assignee": "W-PLUMB-2"} if to == "assigned" else {})}
        r = c.post(f"/api/work-orders/{wo['id']}/transitions", headers=ops.headers("operator"), json=body)
        assert r.status_code == 200, r.text
    mine = [n for n in c.get("/api/notifications", headers=ops.headers("owner101")).json() if n["kind"] == "work_order"]
    # assigned (by the operator, or by the system at once), in progress, completed: three changes
    assert [n["ref"] for n in mine] == [str(wo["id"])] * 3
    assert "已完成" in mine[0]["subject"] and "completed" in mine[0]["body"]  # newest first
    assert c.get("/api/notifications", headers=ops.headers("owner201")).json() == []
    assert c.get("/api/notifications", headers=ops.headers("operator")).json() == []
    # a second order the owner cancels: no message to the owner about their own change
    wo2 = c.post("/api/work-orders", headers=ops.headers("owner101"),
                 json={"description": "门铃坏了", "location": {"unit_id": "A101"}}).json()
    r = c.post(f"/api/work-orders/{wo2['id']}/transitions", headers=ops.headers("owner101"), json={"to": "cancelled"})
    assert r.status_code == 200, r.text
    refs = [n["ref"] for n in c.get("/api/notifications", headers=ops.headers("owner101")).json()]
    assert str(wo2["id"]) not in refs


def test_the_services_timer_publishes_a_scheduled_notice(db_url, tmp_path, password_hash):
    """With the database component's timer on (0.2 s), a notice scheduled 1 s ahead reaches
    its owner without anyone calling publish_due."""
    import time

    from tests.ops.common import community

    app = create_app(make_settings(db_url, tmp_path), community=community(),
                     components=[DatabaseComponent(sla_interval_s=0.2)])
    with TestClient(app) as client:
        with app.state.db.transaction() as s:
            s.add(User(username="op", password_hash=password_hash, role="operator"))
            owner = User(username="o201", password_hash=password_hash, role="owner")
            s.add(owner)
            s.flush()
            s.add(UserUnit(user_id=owner.id, unit_id="A201"))
        h = {n: {"Authorization": "Bearer " + client.post("/api/auth/token", data={
            "username": n, "password": PASSWORD}).json()["access_token"]} for n in ("op", "o201")}
        at = datetime.now(timezone.utc) + timedelta(seconds=1)
        n = client.post("/api/notices", headers=h["op"], json={
            "title": "电梯维保", "body": "周三", "target": {"building": "B1", "floor": 2},
            "publish_at": at.isoformat()}).json()
        assert n["published"] is False
        assert client.get("/api/notices", headers=h["o201"]).json() == []
        deadline = time.monotonic() + 10
        seen = []
        while not seen and time.monotonic() < deadline:
            time.sleep(0.2)
            seen = client.get("/api/notices", headers=h["o201"]).json()
        assert [x["id"] for x in seen] == [n["id"]]
        assert datetime.now(timezone.utc) >= at
        assert client.get("/api/notices", headers=h["op"]).json()[0]["recipients"] == 1
