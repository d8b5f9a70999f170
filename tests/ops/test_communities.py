"""Communities: one service, two communities; a manager of one sees nothing of the other.

The every-route test iterates the app's routes (a route added later is covered without
editing this file): the administrator of ``alpha`` calling any route of ``beta`` under
``/api/communities/beta/...`` (or ``/ws/communities/beta/...``) gets 404 and never
``beta``'s data. Run on SQLite and PostgreSQL; the live test on a real Mosquitto.
"""

from __future__ import annotations

import re
import time
import uuid

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from services.api.guard import route_policies
from services.app import create_app
from services.communities import CommunityHub, live_db_url, split_community_path
from services.db import Database
from services.dbcomponent import DatabaseComponent
from services.live_component import LiveComponent
from services.models import Membership, User, UserUnit
from services.workorders.models import WorkOrder
from tests.ops.common import community
from tests.ops.conftest import PASSWORD, make_settings
from twin.model import Device

#: Users: (role in their community, community, units).
PEOPLE = {"ann": ("admin", "alpha", ()), "bob": ("admin", "beta", ()), "bea": ("owner", "beta", ("A101",)),
          "both": ("operator", "alpha+beta", ())}


def two_communities(with_devices: bool = False):
    """``alpha`` (the ops test community) and ``beta``: the same plan and the same unit ids
    (ids are unique per community), other owners."""
    a, b = community(), community()
    a.name, b.name = "alpha", "beta"
    b.billing_units[0].owner = "王五"
    if with_devices:
        a.devices.append(Device("A-SMOKE", "smoke_detector", "A corridor smoke", space_id="C", storey_id="S1",
                                building_id="B1"))
        b.devices.append(Device("B-SMOKE", "smoke_detector", "B corridor smoke", space_id="C", storey_id="S1",
                                building_id="B1"))
    return a, b


def make_hub(settings, root: Database, communities, extra=None):
    served = {c.name: c for c in communities}
    apps = {}
    for i, c in enumerate(communities):
        parts = [DatabaseComponent(sla_interval_s=0, database=root.scoped(c.name, primary=i == 0))]
        parts += (extra or {}).get(c.name, [])
        apps[c.name] = create_app(settings, community=c, components=parts, served=served)
    return CommunityHub(apps)


def add_people(root: Database, password_hash: str) -> None:
    with root.transaction() as s:
        for name, (role, where, units) in PEOPLE.items():
            user = User(username=name, password_hash=password_hash, role=role)
            s.add(user)
            s.flush()
            for cid in where.split("+"):
                s.add(Membership(user_id=user.id, community=cid, role=role))
            for unit in units:
                s.add(UserUnit(user_id=user.id, unit_id=unit, community=where))


def login(client, name: str) -> dict:
    r = client.post("/api/auth/token", data={"username": name, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


@pytest.fixture
def hub_world(db_url, tmp_path, password_hash):
    settings = make_settings(db_url, tmp_path)
    root = Database(db_url)
    hub = make_hub(settings, root, two_communities())
    with TestClient(hub) as client:
        add_people(root, password_hash)
        yield client, hub, root
    root.dispose()


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "x1", path)


def test_split_community_path():
    assert split_community_path("/api/communities/beta/work-orders/3") == ("beta", "/api/work-orders/3")
    assert split_community_path("/ws/communities/beta/live") == ("beta", "/ws/live")
    assert split_community_path("/api/communities") == (None, "/api/communities")
    assert split_community_path("/api/work-orders") == (None, "/api/work-orders")


def test_every_route_of_beta_is_hidden_from_alphas_admin(hub_world):
    client, hub, root = hub_world
    ann, bob = login(client, "ann"), login(client, "bob")
    secret = f"beta-only {uuid.uuid4().hex}"
    r = client.post("/api/communities/beta/work-orders", headers=bob,
                    json={"description": secret, "location": {"space_id": "C"}})
    assert r.status_code == 201, r.text
    checked = 0
    for methods, path, _policy in route_policies(hub.apps["beta"]):  # every route the app serves
        if not (path.startswith("/api/") or path.startswith("/ws/")):
            continue  # pages, static files, the API description: no community data
        family, rest = path.split("/", 2)[1], path.split("/", 2)[2]
        url = _concrete(f"/{family}/communities/beta/{rest}")
        if methods == "WS":
            token = ann["Authorization"][7:]
            with pytest.raises(WebSocketDisconnect):  # refused at the handshake
                with client.websocket_connect(url, subprotocols=[f"bearer.{token}"]) as ws:
                    ws.receive_json()
            with client.websocket_connect(url) as ws:  # logging in by message: refused by the role lookup
                ws.send_json({"type": "auth", "token": token})
                first = ws.receive_json()
                assert first["type"] == "error" and "not a member" in first["detail"], first
                with pytest.raises(WebSocketDisconnect):
                    ws.receive_json()
            checked += 1
            continue
        for method in methods.split(","):
            if method == "HEAD":
                continue
            r = client.request(method, url, headers=ann, json={} if method in ("POST", "PUT", "PATCH") else None)
            assert r.status_code == 404, f"{method} {url}: {r.status_code} {r.text[:200]}"
            assert secret not in r.text
            checked += 1
    assert checked >= 40  # every API route of the app, not a handful
    # without a login, a community's prefixed routes are hidden too
    assert client.get("/api/communities/beta/work-orders").status_code == 404
    assert client.get("/api/communities/nowhere/work-orders", headers=bob).status_code == 404


def test_listings_hold_only_the_callers_community(hub_world):
    client, hub, root = hub_world
    ann, bob, both = login(client, "ann"), login(client, "bob"), login(client, "both")
    for who, prefix, text in ((bob, "/api/communities/beta", "in beta"), (ann, "/api", "in alpha")):
        r = client.post(f"{prefix}/work-orders", headers=who, json={"description": f"灯坏了 {text}",
                                                                      "location": {"space_id": "C"}})
        assert r.status_code == 201, r.text
    alpha = client.get("/api/work-orders", headers=ann).json()
    beta = client.get("/api/communities/beta/work-orders", headers=bob).json()
    items = lambda body: body["items"] if isinstance(body, dict) else body  # noqa: E731
    assert [w["description"] for w in items(alpha)] == ["灯坏了 in alpha"]
    assert [w["description"] for w in items(beta)] == ["灯坏了 in beta"]
    # the operator of both sees each community's own under its prefix
    assert [w["description"] for w in items(client.get("/api/communities/beta/work-orders", headers=both).json())] \
        == ["灯坏了 in beta"]
    # beta's admin has no role in the default community (unprefixed paths)
    assert client.get("/api/work-orders", headers=bob).status_code == 403
    # a work order of beta by its id, asked in alpha: as if it did not exist
    beta_wo = items(beta)[0]["id"]
    assert client.get(f"/api/work-orders/{beta_wo}", headers=ann).status_code == 404
    assert client.get(f"/api/communities/beta/work-orders/{beta_wo}", headers=bob).status_code == 200
    # billing units: the same ids in both communities, each community's own rows
    units_a = {u["id"]: u["owner"] for u in items(client.get("/api/billing/units", headers=ann).json())}
    units_b = {u["id"]: u["owner"] for u in items(client.get("/api/communities/beta/billing/units", headers=bob).json())}
    assert set(units_a) == set(units_b) == {"A101", "A201", "P001"}
    assert units_a["A101"] == "张三丰" and units_b["A101"] == "王五"
    bea = login(client, "bea")  # the owner of beta's A101 sees their unit's account there, not alpha's
    assert client.get("/api/communities/beta/billing/units/A101/account", headers=bea).status_code == 200
    assert client.get("/api/billing/units/A101/account", headers=bea).status_code in (403, 404)
    # the caller's communities, with their role in each
    listed = client.get("/api/communities", headers=both).json()
    assert [(c["id"], c["role"], c["default"]) for c in listed] == [("alpha", "operator", True),
                                                                    ("beta", "operator", False)]
    assert [c["id"] for c in client.get("/api/communities", headers=bob).json()] == ["beta"]
    assert client.get("/api/communities").status_code == 401
    # the rows carry their community; a scoped session reads its own only
    with root.scoped("alpha").transaction(write=False) as s:
        assert {w.community for w in s.scalars(sa.select(WorkOrder))} == {"alpha"}
    with root.transaction(write=False) as s:
        assert sorted(w.community for w in s.scalars(sa.select(WorkOrder))) == ["alpha", "beta"]


def test_postgresql_row_security_hides_other_communities_without_a_filter(hub_world, db_url):
    """A query that deliberately omits the filter, as a non-superuser role: PostgreSQL
    itself returns the session's community only (and nothing when none is set)."""
    if not db_url.startswith("postgresql"):
        pytest.skip("row-level security is PostgreSQL's (SQLite: the session filter only)")
    client, hub, root = hub_world
    for who, prefix in (("ann", "/api"), ("bob", "/api/communities/beta")):
        r = client.post(f"{prefix}/work-orders", headers=login(client, who),
                        json={"description": f"by {who}", "location": {"space_id": "C"}})
        assert r.status_code == 201, r.text
    role = f"twin_app_{uuid.uuid4().hex[:8]}"
    with root.engine.begin() as conn:
        conn.exec_driver_sql(f"CREATE ROLE {role} LOGIN")
        conn.exec_driver_sql(f"GRANT SELECT, INSERT ON ALL TABLES IN SCHEMA public TO {role}")
    url = root.engine.url.set(username=role)
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("SELECT set_config('twin.community', 'alpha', true)")
            rows = conn.exec_driver_sql("SELECT description, community FROM work_orders").all()
            assert [tuple(r) for r in rows] == [("by ann", "alpha")]
            with pytest.raises(sa.exc.DBAPIError):  # writing a row of another community is refused too
                conn.exec_driver_sql("INSERT INTO audit_log (ts, actor, action, entity, entity_id, detail, "
                                     "community) VALUES (now(), 'x', 'x', 'x', 'x', '{}', 'beta')")
        with engine.begin() as conn:
            assert conn.exec_driver_sql("SELECT count(*) FROM work_orders").scalar() == 0
    finally:
        engine.dispose()
        with root.engine.begin() as conn:
            conn.exec_driver_sql(f"DROP OWNED BY {role}")
            conn.exec_driver_sql(f"DROP ROLE {role}")


def test_migration_backfills_existing_rows(db_url):
    """A database at 0005 with rows, upgraded: every row carries the default community."""
    from services.migrations import alembic_config
    from alembic import command

    db = Database(db_url)
    try:
        command.upgrade(alembic_config(db.engine), "0005")
        with db.engine.begin() as conn:
            conn.exec_driver_sql("INSERT INTO audit_log (ts, actor, action, entity, entity_id, detail) "
                                 "VALUES ('2026-01-01 00:00:00', 'a', 'b', 'c', 'd', '{}')")
            conn.exec_driver_sql("INSERT INTO billing_units (id, kind, area_m2) VALUES ('U1', 'apartment', 50)")
        cfg = alembic_config(db.engine)
        cfg.attributes["community"] = "lakeside"
        command.upgrade(cfg, "head")
        with db.engine.begin() as conn:
            if db.dialect == "postgresql":
                conn.exec_driver_sql("SELECT set_config('twin.all_communities', 'on', true)")
            assert conn.exec_driver_sql("SELECT community FROM audit_log").scalars().all() == ["lakeside"]
            assert conn.exec_driver_sql("SELECT community FROM billing_units").scalars().all() == ["lakeside"]
            with pytest.raises(sa.exc.IntegrityError):  # a new row must name its community
                with conn.begin_nested():
                    conn.exec_driver_sql("INSERT INTO billing_units (id, kind, area_m2) VALUES ('U2', 'x', 1)")
    finally:
        db.dispose()


@pytest.mark.mqtt
def test_two_communities_live_at_once(tmp_path, password_hash, mqtt_url):
    """One service, two communities, live data for both over one broker; each sees its own."""
    from tests.live.common import Publisher

    db_url = f"sqlite:///{tmp_path / 'twin.sqlite'}"
    settings = make_settings(db_url, tmp_path)
    settings.mqtt_url = mqtt_url
    root = Database(db_url)
    a, b = two_communities(with_devices=True)
    lives = {c.name: LiveComponent(settings.model_copy(update={"db_url": live_db_url(settings, c.name)}), c,
                                   client_id=f"ing-{c.name}-{uuid.uuid4().hex[:6]}") for c in (a, b)}
    hub = make_hub(settings, root, [a, b], extra={cid: [live] for cid, live in lives.items()})
    pub = Publisher(mqtt_url)
    try:
        with TestClient(hub) as client:
            add_people(root, password_hash)
            ann, bob = login(client, "ann"), login(client, "bob")
            now = time.time()
            pub.send("twin/alpha/A-SMOKE/telemetry", {"ts": now, "smoke": False, "obscuration_pct_m": 1.5})
            pub.send("twin/beta/B-SMOKE/telemetry", {"ts": now, "smoke": False, "obscuration_pct_m": 3.0})
            deadline = time.monotonic() + 20
            seen = {}
            while time.monotonic() < deadline and len(seen) < 2:
                ra = client.get("/api/live/devices/A-SMOKE", headers=ann).json()
                rb = client.get("/api/communities/beta/live/devices/B-SMOKE", headers=bob).json()
                for key, body in (("alpha", ra), ("beta", rb)):
                    if (body.get("values") or {}).get("obscuration_pct_m") is not None:
                        seen[key] = body["values"]["obscuration_pct_m"]
                time.sleep(0.2)
            assert seen == {"alpha": 1.5, "beta": 3.0}, (ra, rb)
            # each sees only their own devices
            ids_a = {d["device_id"] for d in _items(client.get("/api/live/devices", headers=ann).json())}
            ids_b = {d["device_id"] for d in _items(client.get("/api/communities/beta/live/devices", headers=bob).json())}
            assert "A-SMOKE" in ids_a and "B-SMOKE" not in ids_a
            assert "B-SMOKE" in ids_b and "A-SMOKE" not in ids_b
            assert client.get("/api/communities/beta/live/devices/B-SMOKE", headers=ann).status_code == 404
            assert client.get("/api/live/devices/B-SMOKE", headers=ann).status_code == 404
    finally:
        pub.close()
        root.dispose()


def _items(body):
    if isinstance(body, dict):
        return body.get("items") or body.get("devices") or []
    return body


@pytest.mark.mqtt
def test_one_service_for_two_sites_with_live_data(tmp_path, password_hash):
    """``build_services`` (what ``twin serve --site A --site B`` runs): one app, one embedded
    broker, two sites whose device ids are the same; each community's live state is its own."""
    from services.runtime import build_services
    from tests.live.common import write_site

    east, _, _ = write_site(tmp_path, "east")
    west, _, _ = write_site(tmp_path, "west")
    settings = make_settings(f"sqlite:///{tmp_path / 'twin.sqlite'}", tmp_path)
    service = build_services(settings, [east, west], show_progress=False)
    assert list(service.communities) == ["east", "west"]
    with TestClient(service.app) as client:
        with service.database.transaction() as s:
            for name, cid in (("erin", "east"), ("wes", "west")):
                user = User(username=name, password_hash=password_hash, role="admin")
                s.add(user)
                s.flush()
                s.add(Membership(user_id=user.id, community=cid, role="operator"))
        erin, wes = login(client, "erin"), login(client, "wes")
        pub = _publisher(service.lives["east"].simulator_url())  # the shared embedded broker (MQTT 3.1.1)
        try:
            pub.send("twin/east/B3-TEMP-12/telemetry", {"ts": time.time(), "temperature_c": 21.5, "humidity_pct": 40.0})
            pub.send("twin/west/B3-TEMP-12/telemetry", {"ts": time.time(), "temperature_c": 25.0, "humidity_pct": 60.0})
            pub.wait()
            deadline, seen = time.monotonic() + 20, {}
            while time.monotonic() < deadline and len(seen) < 2:
                for cid, url, who in (("east", "/api/live/devices/B3-TEMP-12", erin),
                                      ("west", "/api/communities/west/live/devices/B3-TEMP-12", wes)):
                    values = client.get(url, headers=who).json().get("values") or {}
                    if "temperature_c" in values:
                        seen[cid] = values["temperature_c"]
                time.sleep(0.2)
        finally:
            pub.close()
        assert seen == {"east": 21.5, "west": 25.0}
        # erin (operator of east only) sees nothing of west; the live data did not cross
        assert client.get("/api/communities/west/live/devices/B3-TEMP-12", headers=erin).status_code == 404
        assert client.get("/api/live/devices", headers=wes).status_code == 403
        listed = client.get("/api/communities", headers=wes).json()
        assert [(c["id"], c["role"], c["api"]) for c in listed] == [("west", "operator", "/api/communities/west")]
        health = client.get("/api/health").json()
        assert health["status"] == "ok", health


def _publisher(url):
    """A test publisher on a broker URL object (the embedded broker speaks MQTT 3.1.1 only)."""
    from live.client import connect_kwargs, make_client
    from tests.live.common import Publisher

    pub = object.__new__(Publisher)
    pub.url, pub.infos = url, []
    pub.client = make_client(url, f"test-pub-{uuid.uuid4().hex[:8]}", persistent=False)
    pub.client.connect(**connect_kwargs(url, persistent=False, session_expiry_s=0))
    pub.client.loop_start()
    return pub


def test_site_dirs_from_options_and_settings(tmp_path):
    """``--site`` wins, then ``TWIN_SITES`` (a list or a folder of sites), then ``TWIN_SITE``;
    two sites with one id or a missing folder are refused with a message naming them."""
    from services.communities import community_id_of, site_dirs
    from services.errors import InvalidInput
    from services.settings import Settings
    from tests.live.common import write_site

    east, _, _ = write_site(tmp_path / "sites", "east")
    west, _, _ = write_site(tmp_path / "sites", "west")
    (tmp_path / "sites" / "notes").mkdir()  # not a site: no site.json
    assert site_dirs(Settings(site=east), [west, east]) == [west, east]
    assert site_dirs(Settings(site=east, sites=f"{west}, {east}")) == [west, east]
    assert site_dirs(Settings(site=east, sites=str(tmp_path / "sites"))) == [east, west]
    assert site_dirs(Settings(site=west)) == [west]
    with pytest.raises(InvalidInput, match="both community 'east'"):
        site_dirs(Settings(site=east), [east, east])
    with pytest.raises(InvalidInput, match="does not exist"):
        site_dirs(Settings(site=east), [tmp_path / "nowhere"])
    with pytest.raises(InvalidInput, match="names no site"):
        site_dirs(Settings(site=east, sites=" , "))
    assert community_id_of(east) == "east"
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "site.json").write_text('{"name": "湖畔 garden"}', encoding="utf-8")
    with pytest.raises(InvalidInput, match="community id"):
        community_id_of(bad)


def test_users_create_with_communities(tmp_path, monkeypatch, capsys):
    """``twin users create --community A --community B``: one membership each, the role given."""
    from typer.testing import CliRunner

    from services.cli.main import app, main
    from services.settings import get_settings

    url = f"sqlite:///{tmp_path / 'twin.sqlite'}"
    monkeypatch.setenv("TWIN_DB_URL", url)
    get_settings.cache_clear()
    try:
        r = CliRunner().invoke(app, ["users", "create", "--username", "wang", "--password", "long-pass-word-9",
                                     "--role", "operator", "--community", "east", "--community", "west", "--json"])
        assert r.exit_code == 0, r.output
        assert '"communities": [' in r.output
        with pytest.raises(SystemExit) as exit_:  # the CLI's error path: one line, exit 2
            main(["users", "create", "--username", "li", "--password", "long-pass-word-9",
                  "--role", "operator", "--community", "东区"])
        assert exit_.value.code == 2
        assert "community='东区'" in capsys.readouterr().err
    finally:
        get_settings.cache_clear()
    db = Database(url)
    try:
        with db.transaction(write=False) as s:
            rows = s.execute(sa.select(Membership.community, Membership.role)).all()
        assert sorted(tuple(r) for r in rows) == [("east", "operator"), ("west", "operator")]
    finally:
        db.dispose()
