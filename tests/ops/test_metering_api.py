"""``GET /api/metering/readings``: staff roles only, the CLI's JSON, metered and imported rows."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from services.metering.models import MeterPoint
from twin.model import Device


def _local(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo("Asia/Shanghai")).timestamp()


def test_readings_by_role_and_source(ops):
    ops.community.devices.append(Device("E-A101", "meter_electricity", "meter", "B1", "S1", "R2", feeds=["A101"]))
    with ops.db.transaction() as s:
        s.add_all([MeterPoint(device_id="E-A101", ts=_local("2026-03-01T00:00"), field="energy_kwh", value=10.0,
                              received_at=0.0),
                   MeterPoint(device_id="E-A101", ts=_local("2026-04-01T00:00"), field="energy_kwh", value=42.125,
                              received_at=0.0)])
    csv = "unit_id,kind,month,reading\nA201,water,2026-02,5\nA201,water,2026-03,7.5\n"
    r = ops.client.post("/api/billing/readings", content=csv, headers={**ops.headers("admin"), "content-type": "text/csv"})
    assert r.status_code == 200, r.text
    # by hand: A101 42.125 − 10 = 32.125 kWh on two exact readings (live); A201 7.5 − 5 = 2.5 m³ imported
    expected = [
        {"unit_id": "A101", "device_id": "E-A101", "utility": "electricity", "start_value": "10.000",
         "end_value": "42.125", "consumption": "32.125", "source": "live", "reset": False},
        {"unit_id": "A201", "device_id": None, "utility": "water", "start_value": "5.000",
         "end_value": "7.500", "consumption": "2.500", "source": "import", "reset": False},
    ]
    for user in ("admin", "operator", "planner", "plumber"):
        r = ops.client.get("/api/metering/readings?month=2026-03", headers=ops.headers(user))
        assert r.status_code == 200, (user, r.text)
        assert r.json() == expected
    assert ops.client.get("/api/metering/readings?month=2026-03", headers=ops.headers("owner101")).status_code == 403
    assert ops.client.get("/api/metering/readings?month=2026-03").status_code == 401
    for bad in ("2026-13", "2026-3", "２０２６-03", "2026-03%0A", "", "x" * 100):
        r = ops.client.get(f"/api/metering/readings?month={bad}", headers=ops.headers("admin"))
        assert r.status_code == 422, (bad, r.status_code)
    r = ops.client.get("/api/metering/readings?month=2025-01", headers=ops.headers("admin"))
    assert r.status_code == 200 and r.json() == []
