"""A month of cumulative meter messages over a real Mosquitto into SQLite and PostgreSQL:
readings and bills against hand calculations."""

from __future__ import annotations

import time
import uuid
from decimal import Decimal

import pytest
import sqlalchemy as sa

from live.broker import parse_mqtt_url
from live.client import MqttIngestor
from live.ingest import Pipeline
from live.registry import DeviceRegistry
from live.store import LiveStore
from services.auth import SYSTEM
from services.billing.models import BillLine
from services.billing.readings import import_readings_csv
from services.billing.run import run_bills
from services.billing.units import sync_units
from services.consumers import ConsumerRunner
from services.db import Database
from services.metering.readings import MeteringConsumer, meter_specs, monthly_readings, reading_json
from services.migrations import upgrade
from tests.live.common import Publisher, wait_until
from tests.metering.common import RULES, telemetry, write_meter_site

pytestmark = pytest.mark.mqtt


def stream(site: str) -> list[tuple[str, dict]]:
    """The messages, in the order they are published (Shanghai local times)."""
    e = lambda when, seq, kwh: telemetry(site, "E-101", when, seq, energy_kwh=kwh)  # noqa: E731
    w = lambda when, seq, m3: telemetry(site, "W-101", when, seq, volume_m3=m3)  # noqa: E731
    g = lambda when, seq, m3: telemetry(site, "G-101", when, seq, volume_m3=m3)  # noqa: E731
    return [
        e("2026-02-28T12:00", 1, 1000.0),
        w("2026-02-28T18:00", 1, 50.0),
        g("2026-03-01T00:00", 1, 200.0),      # exactly on the month's start
        w("2026-03-01T06:00", 2, 50.3),
        e("2026-03-10T00:00", 3, 1100.0),
        e("2026-03-01T12:00", 2, 1012.0),     # out of order: late, must still count
        e("2026-03-15T00:00", 4, 1150.5),
        e("2026-03-15T00:00", 4, 1150.5),     # duplicate
        g("2026-03-15T00:00", 2, 215.0),
        e("2026-03-16T00:00", 5, 4.5),        # fall: meter replaced
        e("2026-03-20T00:00", 6, 40.0),
        e("2026-03-25T00:00", 7, 90.0),       # then a 6.5-day gap inside the month
        w("2026-03-29T00:00", 3, 62.0),
        e("2026-03-31T12:00", 8, 130.0),
        g("2026-04-01T00:00", 3, 230.0),      # exactly on the month's end
        e("2026-04-01T06:00", 9, 136.0),
        w("2026-04-03T00:00", 4, 63.0),       # water: a 5-day gap across the month's end
    ]


#: March 2026 by hand (Shanghai time; month = [03-01 00:00, 04-01 00:00)).
#: E-101: start between 02-28 12:00 (1000) and 03-01 12:00 (1012), 24 h apart, halfway:
#:   1006. End between 03-31 12:00 (130) and 04-01 06:00 (136), 18 h apart, 12 h in:
#:   130 + 6 × 12/18 = 134. Use: (1012 − 1006) + (1100 − 1012) + (1150.5 − 1100)
#:   + 4.5 (new register from 0 after 03-15) + (40 − 4.5) + (90 − 40) + (130 − 90) + (134 − 130)
#:   = 6 + 88 + 50.5 + 4.5 + 35.5 + 50 + 40 + 4 = 278.5 kWh, live, reset.
#: W-101: start between 02-28 18:00 (50.0) and 03-01 06:00 (50.3), halfway: 50.15. End
#:   between 03-29 00:00 (62) and 04-03 00:00 (63), 120 h apart (> 48 h: estimated),
#:   72 h in: 62 + 1 × 72/120 = 62.6. Use 62.6 − 50.15 = 12.45 m³, estimated.
#: G-101: 200 → 230 on the boundaries: 30 m³, live.
#: A-102: imported 1000 (Feb) → 1100 (Mar): 100 kWh, import.
EXPECTED = [
    {"unit_id": "A-101", "device_id": "E-101", "utility": "electricity", "start_value": "1006.000",
     "end_value": "134.000", "consumption": "278.500", "source": "live", "reset": True},
    {"unit_id": "A-101", "device_id": "G-101", "utility": "gas", "start_value": "200.000",
     "end_value": "230.000", "consumption": "30.000", "source": "live", "reset": False},
    {"unit_id": "A-101", "device_id": "W-101", "utility": "water", "start_value": "50.150",
     "end_value": "62.600", "consumption": "12.450", "source": "estimated", "reset": False},
    {"unit_id": "A-102", "device_id": None, "utility": "electricity", "start_value": "1000.000",
     "end_value": "1100.000", "consumption": "100.000", "source": "import", "reset": False},
]

#: The bills by hand (ROUND_HALF_UP to the fen per line):
#: property 100.00 m² × 2.00 = 200.00 each flat.
#: A-101 electricity 278.5 kWh: 240 × 0.4883 + 38.5 × 0.5383 = 117.192 + 20.72455 = 137.91655 → 137.92
#: A-101 water (yearly tiers; 0.15 m³ used in February: 02-28 18:00 → 03-01 00:00 boundary
#:   50.0 → 50.15): 12.45 m³ all in the first tier: 12.45 × 5.00 = 62.25
#: A-101 gas (yearly; nothing before March): 30 × 2.61 = 78.30
#: A-101 = 200.00 + 137.92 + 62.25 + 78.30 = 478.47
#: A-102 electricity (import) 100 × 0.4883 = 48.83 → A-102 = 248.83; month total 727.30
EXPECTED_BILLS = {"A-101": Decimal("478.47"), "A-102": Decimal("248.83")}
EXPECTED_LINES = {("A-101", "electricity"): (Decimal("137.92"), "live"),
                  ("A-101", "water"): (Decimal("62.25"), "estimated"),
                  ("A-101", "gas"): (Decimal("78.30"), "live"),
                  ("A-102", "electricity"): (Decimal("48.83"), "import")}


def test_a_month_of_meter_messages_gives_the_hand_computed_readings_and_bills(mqtt_url, db_url, tmp_path):
    from bim import load

    folder, site = write_meter_site(tmp_path)
    community = load(folder, cache_dir=tmp_path / "cache")
    db = Database(db_url)
    upgrade(db.engine)
    store = LiveStore(db.engine)
    max_age_s = time.time() - 1767225600 + 30 * 86400   # accept everything since 2026-01-01
    p = Pipeline(DeviceRegistry.from_community(community), store=store, max_age_s=max_age_s)
    ing = MqttIngestor(p, parse_mqtt_url(mqtt_url), client_id=f"ing-{site}", flush_interval_s=0.05).start(wait_s=10)
    runner = ConsumerRunner(db.engine, MeteringConsumer(meter_specs(community)))
    pub = Publisher(mqtt_url)
    msgs = stream(site)
    try:
        for i, (topic, body) in enumerate(msgs):
            pub.send(topic, body)
            if i == 8:  # the consumer runs once mid-stream, then again at the end
                pub.wait()
                wait_until(lambda: p.stats()["received"] >= 9, what="9 messages")
                wait_until(lambda: p.pending == 0, what="the first batch stored")
                runner.drain()
        pub.wait()
        wait_until(lambda: p.stats()["received"] == len(msgs), what="every message")
        wait_until(lambda: p.pending == 0, what="every message stored")
        s = p.stats()
        assert (s["applied"], s["late"], s["duplicates"]) == (15, 1, 1)
        runner.drain()
        runner.drain()   # again: nothing counts twice
    finally:
        pub.close()
        ing.stop()
    with db.transaction() as session:
        sync_units(session, community)
        import_readings_csv(session, SYSTEM, "unit_id,kind,month,reading\n"
                                              "A-102,electricity,2026-02,1000\nA-102,electricity,2026-03,1100\n")
    with db.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM meter_points")).scalar_one() == 16  # 17 sent − 1 duplicate
        rows = [reading_json(r) for r in monthly_readings(conn, community, "2026-03")]
    assert rows == EXPECTED
    with db.transaction() as session:
        result = run_bills(session, RULES, "2026-03", community=community)
    assert result.total == Decimal("727.30") and result.created == 2, result.warnings
    with db.engine.connect() as conn:
        bills = dict(conn.execute(sa.text("SELECT unit_id, total FROM bills WHERE month = '2026-03'")).all())
        lines = conn.execute(sa.select(BillLine.bill_id, BillLine.item, BillLine.amount, BillLine.detail,
                                       BillLine.description)
                             .where(BillLine.item.in_(["electricity", "water", "gas"]))).all()
    assert {u: Decimal(str(t)) for u, t in bills.items()} == EXPECTED_BILLS
    got = {(b.split("/")[1], item): (Decimal(str(amount)), detail["source"]) for b, item, amount, detail, _ in lines}
    assert got == EXPECTED_LINES
    assert all(("(estimated)" in d) == (item == "water") for _, item, _, _, d in lines)
    db.dispose()


def test_late_reading_beyond_the_accepted_age_is_dead_lettered(tmp_path):
    from bim import load

    folder, site = write_meter_site(tmp_path, f"m{uuid.uuid4().hex[:8]}")
    community = load(folder, cache_dir=tmp_path / "cache")
    now = 1_800_000_000.0
    p = Pipeline(DeviceRegistry.from_community(community), clock=lambda: now, max_age_s=30 * 86400)
    topic = f"twin/{site}/E-101/telemetry"
    assert p.handle(topic, b'{"ts": %d, "energy_kwh": 5.0}' % (now - 60)) == "applied"
    assert p.handle(topic, b'{"ts": %d, "energy_kwh": 4.0}' % (now - 29 * 86400)) == "late"
    assert p.handle(topic, b'{"ts": %d, "energy_kwh": 3.0}' % (now - 31 * 86400)) == "stale_ts"
    assert p.state.get("E-101").values["energy_kwh"] == 5.0
