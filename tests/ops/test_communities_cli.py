"""Communities from the command line and per-community references.

``--community CID`` on the CLI commands that touch one community's data (a bill run for
``east`` writes nothing for ``west``; the default is the deployment's default community,
as before), and a payment ``reference`` / work-order ``alarm_id`` unique per community
(migration 0009). Run on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
import sqlalchemy as sa

from services.auth import SYSTEM
from services.billing.models import Bill, MeterReading, Payment
from services.billing.payments import record_payment
from services.billing.units import sync_units
from services.db import Database
from services.errors import Conflict
from services.workorders.models import WorkOrder
from services.workorders.service import open_work_order_from_alarm
from tests.conftest import run_cli
from tests.live.common import write_site
from tests.ops.test_communities import two_communities

#: Billing units per site: (id, kind, building, area m²). The two sites share "X101".
UNITS = {"east": [("X101", "apartment", "B1", "80"), ("E102", "apartment", "B1", "100")],
         "west": [("X101", "apartment", "B1", "90"), ("W102", "apartment", "B1", "60"),
                  ("W103", "apartment", "B3", "50")]}

#: Fee rules of both sites: 2.00 yuan per m² and month, nothing else.
RULES = 'version: "t1"\nproperty_fee:\n  - {rate: "2.00"}\n'


def _site(root, name):
    folder, _, _ = write_site(root, name)
    manifest = json.loads((folder / "site.json").read_text(encoding="utf-8"))
    manifest["registers"]["billing_units"] = "registers/billing_units.csv"
    (folder / "site.json").write_text(json.dumps(manifest), encoding="utf-8")
    rows = ["id,kind,building,storey,space,feature,area_m2,owner,phone"]
    rows += [f"{u},{k},{b},{b}-F01,,,{a},," for u, k, b, a in UNITS[name]]
    (folder / "registers" / "billing_units.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    (folder / "fee_rules.yaml").write_text(RULES, encoding="utf-8")
    return folder


@pytest.fixture
def deployment(db_url, tmp_path):
    """Two served sites (``east`` the default), the database of ``db_url``, the CLI env."""
    east, west = _site(tmp_path / "sites", "east"), _site(tmp_path / "sites", "west")
    env = {"TWIN_DB_URL": db_url, "TWIN_SITE": str(east), "TWIN_SITES": f"{east},{west}",
           "TWIN_DATA_DIR": str(tmp_path / "data")}
    db = Database(db_url)
    db.migrate()
    yield env, db, east, west
    db.dispose()


def _cli(env, *args):
    r = run_cli(*args, env=env)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout) if "--json" in args else r.stdout


def _bills(db) -> dict[str, list[tuple[str, Decimal]]]:
    with db.engine.begin() as conn:
        if db.dialect == "postgresql":
            conn.exec_driver_sql("SELECT set_config('twin.all_communities', 'on', true)")
        t = Bill.__table__.c
        out: dict[str, list] = {}
        for cid, unit, total in conn.execute(sa.select(t.community, t.unit_id, t.total).order_by(t.unit_id)):
            out.setdefault(cid, []).append((unit, Decimal(total)))
    return out


def test_bill_run_for_one_community_writes_nothing_for_the_other(deployment):
    env, db, east, west = deployment
    out = _cli(env, "billing", "run", "--month", "2026-03", "--site", str(west), "--community", "west", "--json")
    # west: 90 + 60 + 50 m² at 2.00 yuan = 400.00 (hand calculation), three bills
    assert (out["bills"], out["total"]) == (3, "400.00")
    assert _bills(db) == {"west": [("W102", Decimal("120.00")), ("W103", Decimal("100.00")),
                                   ("X101", Decimal("180.00"))]}
    # the default community (east, TWIN_SITE): today's command line, no --community
    out = _cli(env, "billing", "run", "--month", "2026-03", "--site", str(east), "--json")
    assert (out["bills"], out["total"]) == (2, "360.00")  # 80 + 100 m² × 2.00
    bills = _bills(db)
    assert bills["east"] == [("E102", Decimal("200.00")), ("X101", Decimal("160.00"))]
    assert len(bills["west"]) == 3  # untouched
    # idempotent per community; a preview of west counts west's bills only
    again = _cli(env, "billing", "run", "--month", "2026-03", "--community", "west", "--json")
    assert (again["bills"], again["total"], again["created"]) == (3, "400.00", 0)
    listed = _cli(env, "billing", "list", "--month", "2026-03", "--community", "west", "--json")
    assert [(b["unit_id"], b["total"], b["status"]) for b in listed] == [
        ("W102", "120.00", "open"), ("W103", "100.00", "open"), ("X101", "180.00", "open")]
    assert [b["unit_id"] for b in _cli(env, "billing", "list", "--json")] == ["E102", "X101"]


def test_units_readings_and_imports_per_community(deployment, tmp_path):
    env, db, east, west = deployment
    assert [u["id"] for u in _cli(env, "units", "list", "--community", "west", "--json")] == ["X101", "W102", "W103"]
    assert [u["id"] for u in _cli(env, "units", "list", "--json")] == ["X101", "E102"]  # default: east
    _cli(env, "billing", "run", "--month", "2026-01", "--community", "west", "--site", str(west))
    _cli(env, "billing", "run", "--month", "2026-01", "--site", str(east))
    csv = tmp_path / "readings.csv"
    csv.write_text("unit_id,kind,month,reading\nX101,water,2026-02,100\nX101,water,2026-03,112.5\n", encoding="utf-8")
    out = _cli(env, "billing", "import-readings", str(csv), "--community", "west", "--json")
    assert out["inserted"] == 2
    with db.engine.begin() as conn:
        if db.dialect == "postgresql":
            conn.exec_driver_sql("SELECT set_config('twin.all_communities', 'on', true)")
        t = MeterReading.__table__.c
        assert conn.execute(sa.select(t.community, sa.func.count()).group_by(t.community)).all() == [("west", 2)]
    west_rows = _cli(env, "metering", "readings", "--month", "2026-03", "--community", "west", "--json")
    assert [(r["unit_id"], r["utility"], r["consumption"], r["source"]) for r in west_rows] == [
        ("X101", "water", "12.500", "import")]
    assert _cli(env, "metering", "readings", "--month", "2026-03", "--json") == []  # east has none


@pytest.mark.parametrize("bad, expect", [("东区", "东区"), ("", "''"), ("x" * 65, "x" * 65), ("WEST!", "WEST!")])
def test_bad_community_is_refused_with_its_value(deployment, bad, expect):
    env, db, east, west = deployment
    for args in (("billing", "run", "--month", "2026-03"), ("units", "list"), ("billing", "list")):
        r = run_cli(*args, "--community", bad, "--json", env=env)
        assert r.returncode == 2 and expect in r.stderr and r.stderr.count("\n") == 1, (args, r.stderr)
    assert _bills(db) == {}


def test_unserved_community_and_mismatched_site_are_refused(deployment):
    env, db, east, west = deployment
    r = run_cli("units", "list", "--community", "north", "--json", env=env)
    assert r.returncode == 2 and "'north'" in r.stderr and "not a community this deployment serves" in r.stderr
    r = run_cli("billing", "run", "--month", "2026-03", "--site", str(east), "--community", "west", env=env)
    assert r.returncode == 2 and "'east'" in r.stderr and "'west'" in r.stderr, r.stderr
    assert _bills(db) == {}


# -- references unique per community -------------------------------------------------------
@pytest.fixture
def two(db_url):
    root = Database(db_url)
    root.migrate()
    a, b = two_communities()
    views = {c.name: root.scoped(c.name) for c in (a, b)}
    for c in (a, b):
        with views[c.name].transaction() as s:
            sync_units(s, c)
    yield root, views
    root.dispose()


def test_same_payment_reference_in_two_communities(two):
    root, views = two
    with views["alpha"].transaction() as s:
        p1, created1 = record_payment(s, SYSTEM, unit_id="A101", amount="100.00", reference="WX-0001")
    with views["beta"].transaction() as s:
        p2, created2 = record_payment(s, SYSTEM, unit_id="A101", amount="250.00", reference="WX-0001")
    assert created1 and created2 and p1.community == "alpha" and p2.community == "beta"
    with views["beta"].transaction() as s:  # twice in one community: the first payment, as before
        again, created = record_payment(s, SYSTEM, unit_id="A101", amount="250.00", reference="WX-0001")
    assert not created and again.id == p2.id and again.amount == Decimal("250.00")
    with pytest.raises(Conflict, match="WX-0001"):  # another amount under a used reference: refused
        with views["alpha"].transaction() as s:
            record_payment(s, SYSTEM, unit_id="A101", amount="250.00", reference="WX-0001")
    with pytest.raises(sa.exc.IntegrityError):  # the database refuses a second row in one community
        with views["alpha"].transaction() as s:
            s.add(Payment(unit_id="A201", amount=Decimal("1.00"), received_on=p1.received_on, method="cash",
                          reference="WX-0001", recorded_by="t"))
    with views["alpha"].transaction(write=False) as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(Payment)) == 1


def test_same_alarm_id_in_two_communities(two):
    root, views = two
    ids = {}
    for cid in ("alpha", "beta"):
        with views[cid].transaction() as s:
            wo = open_work_order_from_alarm(s, None, alarm_id="smoke:C:1", description="烟感报警", space_id="C")
            s.flush()
            ids[cid] = (wo.id, wo.community)
    assert ids["alpha"][1] == "alpha" and ids["beta"][1] == "beta"
    with views["beta"].transaction() as s:  # the same alarm again: the work order already open
        wo = open_work_order_from_alarm(s, None, alarm_id="smoke:C:1", description="烟感报警", space_id="C")
        assert wo.id == ids["beta"][0]
    with pytest.raises(sa.exc.IntegrityError):
        with views["alpha"].transaction() as s:
            wo = s.scalars(sa.select(WorkOrder)).one()
            s.add(WorkOrder(**{c.key: getattr(wo, c.key) for c in WorkOrder.__table__.c if c.key != "id"}))
    with root.engine.begin() as conn:
        if root.dialect == "postgresql":
            conn.exec_driver_sql("SELECT set_config('twin.all_communities', 'on', true)")
        assert conn.exec_driver_sql("SELECT count(*) FROM work_orders WHERE alarm_id = 'smoke:C:1'").scalar() == 2


def test_migration_0009_keeps_rows_and_moves_the_constraints(db_url):
    """A database at 0008 with a payment and an alarm's work order, upgraded to head and back."""
    from alembic import command

    from services.migrations import alembic_config

    db = Database(db_url)
    try:
        cfg = alembic_config(db.engine)
        cfg.attributes["community"] = "alpha"
        command.upgrade(cfg, "0008")
        with db.engine.begin() as conn:
            if db.dialect == "postgresql":
                conn.exec_driver_sql("SELECT set_config('twin.all_communities', 'on', true)")
            conn.exec_driver_sql("INSERT INTO billing_units (community, id, kind, area_m2) VALUES "
                                 "('alpha', 'U1', 'apartment', 50), ('beta', 'U1', 'apartment', 50)")
            conn.exec_driver_sql("INSERT INTO payments (community, unit_id, amount, received_on, method, reference, "
                                 "recorded_by, created_at) VALUES ('alpha', 'U1', 10, '2026-03-01', 'cash', 'R1', "
                                 "'t', '2026-03-01 00:00:00')")
            with pytest.raises(sa.exc.IntegrityError):  # before 0009: deployment-wide
                with conn.begin_nested():
                    conn.exec_driver_sql("INSERT INTO payments (community, unit_id, amount, received_on, method, "
                                         "reference, recorded_by, created_at) VALUES ('beta', 'U1', 10, "
                                         "'2026-03-01', 'cash', 'R1', 't', '2026-03-01 00:00:00')")
        command.upgrade(cfg, "head")
        insert_beta = ("INSERT INTO payments (community, unit_id, amount, received_on, method, reference, "
                       "recorded_by, created_at) VALUES ('beta', 'U1', 10, '2026-03-01', 'cash', 'R1', 't', "
                       "'2026-03-01 00:00:00')")
        with db.engine.begin() as conn:
            if db.dialect == "postgresql":
                conn.exec_driver_sql("SELECT set_config('twin.all_communities', 'on', true)")
            conn.exec_driver_sql(insert_beta)
            with pytest.raises(sa.exc.IntegrityError):
                with conn.begin_nested():
                    conn.exec_driver_sql(insert_beta)
            assert conn.exec_driver_sql("SELECT community FROM payments ORDER BY community").scalars().all() == [
                "alpha", "beta"]
            conn.exec_driver_sql("DELETE FROM payments WHERE community = 'beta'")
        command.downgrade(cfg, "0008")  # one reference per deployment again
        command.upgrade(cfg, "head")
    finally:
        db.dispose()


def test_metering_readings_use_the_communitys_own_live_tables(db_url, tmp_path):
    """Several sites: ``west``'s meter history lives in its own live tables; the readings of
    ``--community west`` come from there, ``east`` (same device ids) has none."""
    from live.payload import Reading
    from live.store import LiveStore
    from services.communities import live_db_url
    from services.settings import Settings
    from tests.metering.common import write_meter_site

    east, _ = write_meter_site(tmp_path / "sites", "east")
    west, _ = write_meter_site(tmp_path / "sites", "west")
    env = {"TWIN_DB_URL": db_url, "TWIN_SITE": str(east), "TWIN_SITES": f"{east},{west}",
           "TWIN_DATA_DIR": str(tmp_path / "data")}
    from services.migrations import upgrade

    store = LiveStore(live_db_url(Settings(db_url=db_url, site=east, sites=env["TWIN_SITES"]), "west"))
    upgrade(store.engine)
    # hourly from 03-01 00:00 to 04-01 00:00 Shanghai (= 16:00 UTC the day before), 0.5 kWh an hour
    t0 = 1772294400.0  # 2026-02-28T16:00:00Z
    store.write_batch([Reading("E-101", "telemetry", t0 + 3600 * k, k, {"energy_kwh": 1000 + 0.5 * k})
                       for k in range(745)])
    store.dispose()
    rows = _cli(env, "metering", "readings", "--month", "2026-03", "--community", "west", "--json")
    # by hand: 744 hours × 0.5 kWh = 372 kWh, from 1000 to 1372
    assert [(r["unit_id"], r["device_id"], r["start_value"], r["end_value"], r["consumption"], r["source"])
            for r in rows] == [("A-101", "E-101", "1000.000", "1372.000", "372.000", "live")]
    assert _cli(env, "metering", "readings", "--month", "2026-03", "--json") == []  # east (default): no history


def test_planning_requests_are_filed_in_the_given_community(two, db_url, monkeypatch):
    """``--community`` of ``cleaning plan`` / ``elevators score --open-work-orders``: the
    orders land in that community; the same dedupe key is once per community."""
    from services.cli.cleaning import file_requests
    from services.settings import get_settings

    root, views = two
    a, b = two_communities()
    req = {"dedupe_key": "clean:C:2026-11-21:480", "category": "保洁", "source": "cleaning-plan", "area_id": "C",
           "area_kind": "corridor", "title": "保洁巡检 C", "scheduled_at": "2026-11-21T08:00", "estimated_minutes": 20}
    monkeypatch.setenv("TWIN_DB_URL", db_url)
    get_settings.cache_clear()
    try:
        first = file_requests(b, [req], "beta")
        again = file_requests(b, [req], "beta")
        other = file_requests(a, [req], "alpha")
    finally:
        get_settings.cache_clear()
    assert len(first["work_order_ids"]) == 1 and again["work_order_ids"] == []
    assert again["work_orders_existing"] == first["work_order_ids"]
    assert len(other["work_order_ids"]) == 1
    for cid in ("alpha", "beta"):
        with views[cid].transaction(write=False) as s:
            assert s.scalars(sa.select(WorkOrder.alarm_id)).all() == ["clean:C:2026-11-21:480"]


def test_elevators_daily_reads_the_communitys_live_tables(deployment, tmp_path):
    """``twin elevators daily --community west``: west's elevator history (its own live
    tables); the default community (east, same device ids) reported nothing that day."""
    from live.payload import Reading
    from live.store import LiveStore
    from services.communities import live_db_url
    from services.migrations import upgrade
    from services.settings import Settings

    env, db, east, west = deployment
    store = LiveStore(live_db_url(Settings(db_url=env["TWIN_DB_URL"], site=east, sites=env["TWIN_SITES"]), "west"))
    upgrade(store.engine)
    t0 = 1772294400.0 - 600  # 2026-02-28 23:50 Shanghai: the counters' baseline
    store.write_batch([Reading("B3-ELEV-1", "telemetry", t0, 1, {"trips": 1000, "door_cycles": 2000}),
                       Reading("B3-ELEV-1", "telemetry", t0 + 600 + 12 * 3600, 2,  # 03-01 12:00
                               {"trips": 1010, "door_cycles": 2021})])
    store.dispose()
    rows = _cli(env, "elevators", "daily", "--date", "2026-03-01", "--community", "west", "--json")
    assert [(r["elevator_id"], r["date"], r["trips"], r["door_cycles"]) for r in rows] == [
        ("B3-ELEV-1", "2026-03-01", 10, 21)]
    assert _cli(env, "elevators", "daily", "--date", "2026-03-01", "--json") == []
    r = run_cli("elevators", "daily", "--date", "2026-03-01", "--community", "north", env=env)
    assert r.returncode == 2 and "'north'" in r.stderr
