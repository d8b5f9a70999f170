"""Canonical metering test objects: a site with one metered flat and one without meters."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from services.billing.rules import parse_rules

SHANGHAI = ZoneInfo("Asia/Shanghai")

#: Fee rules of the metering tests: a flat rate, the default utility tiers, nothing shared.
RULES = parse_rules({
    "version": "metering-test", "due_days": 15,
    "property_fee": [{"kind": "apartment", "rate": "2.00"}],
    "utilities": {
        "electricity": {"unit": "kWh", "period": "month", "kinds": ["apartment"],
                        "tiers": [{"up_to": "240", "price": "0.4883"}, {"up_to": "400", "price": "0.5383"},
                                  {"price": "0.7883"}]},
        "water": {"unit": "m3", "period": "year", "kinds": ["apartment"],
                  "tiers": [{"up_to": "180", "price": "5.00"}, {"up_to": "260", "price": "7.00"}, {"price": "9.00"}]},
        "gas": {"unit": "m3", "period": "year", "kinds": ["apartment"],
                "tiers": [{"up_to": "350", "price": "2.61"}, {"up_to": "500", "price": "2.83"}, {"price": "4.23"}]},
    },
})

#: Meters of flat A-101 (A-102 has none: it is billed from imported readings).
METERS = {"E-101": "meter_electricity", "W-101": "meter_water", "G-101": "meter_gas"}


def local(text: str) -> float:
    """Epoch seconds of a Shanghai local time ``YYYY-MM-DDTHH:MM``."""
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI).timestamp()


def write_meter_site(folder: Path, name: str | None = None) -> tuple[Path, str]:
    """A GIS-only site: building B1 (2 floors), flats A-101 (fed by E-101, W-101, G-101)
    and A-102 (no meter), each 100.00 m²; time zone Asia/Shanghai."""
    name = name or f"m{uuid.uuid4().hex[:10]}"
    folder = Path(folder) / name
    (folder / "gis").mkdir(parents=True)
    (folder / "registers").mkdir()
    x0, y0 = 500000.0, 3380000.0
    ring = [[x0, y0], [x0 + 30, y0], [x0 + 30, y0 + 30], [x0, y0 + 30], [x0, y0]]
    (folder / "gis" / "buildings.geojson").write_text(json.dumps({
        "type": "FeatureCollection", "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::4547"}},
        "features": [{"type": "Feature", "properties": {"id": "B1", "name": "Building 1", "floors": 2, "height_m": 6.0},
                      "geometry": {"type": "Polygon", "coordinates": [ring]}}]}))
    (folder / "registers" / "billing_units.csv").write_text(
        "id,kind,building,storey,space,feature,area_m2,owner,phone\n"
        "A-101,apartment,B1,B1-F01,,,100.00,张三,13800000001\n"
        "A-102,apartment,B1,B1-F01,,,100.00,李四,13800000002\n", encoding="utf-8")
    lines = ["id,kind,name,building,storey,space,x,y,z,feeds,ifc_guid"]
    lines += [f"{d},{k},{d},B1,B1-F01,,,,,A-101," for d, k in METERS.items()]
    (folder / "registers" / "devices.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (folder / "site.json").write_text(json.dumps({
        "name": name, "crs": "EPSG:4547", "timezone": "Asia/Shanghai",
        "layers": {"buildings": "gis/buildings.geojson"}, "buildings": [],
        "registers": {"devices": "registers/devices.csv", "billing_units": "registers/billing_units.csv"}}))
    return folder, name


def telemetry(site: str, device: str, when: str, seq: int, **values) -> tuple[str, dict]:
    """``(topic, payload)`` of a meter reading at Shanghai local time ``when``."""
    return f"twin/{site}/{device}/telemetry", {"ts": f"{when}:00+08:00", "seq": seq, **values}
