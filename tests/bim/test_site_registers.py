"""Registers: binding to the twin and errors that name file, line and value."""

from __future__ import annotations

import pytest

import bim
from bim.errors import RegisterError
from tests.bim.sitebuild import E0, N0, write_site

UNITS_H = "id,kind,building,storey,space,feature,area_m2,owner,phone"
DEV_H = "id,kind,name,building,storey,space,x,y,z,feeds,ifc_guid"
GOOD = {
    "billing_units": [UNITS_H, "B1-0101,apartment,B1,,B1-F01-A01,,,Zhang San,13800000001",
                      "P1,parking,,,,P1,,Zhang San,", "SHOP1,shop,B2,B2-F01,,,85.5,,"],
    "households": ["unit_id,size,owner,phone", "B1-0101,3,Zhang San,13800000001"],
    "devices": [DEV_H, f"M1,meter_water,Water meter 0101,B1,B1-F01,,{E0 + 5},{N0 + 10},,B1-0101,",
                "C1,camera,Gate camera,,,,,,,,"],
    "staff": ["id,name,role,skills,shift,base_space", "S1,Li Si,cleaner,cleaning;waste,08:00-17:00,B1-F01-CORR",
              "S2,Wang Wu,guard,patrol,20:00-08:00,G1"],
}


def test_registers_bind_to_the_twin(tmp_path):
    c = bim.load(write_site(tmp_path / "s", registers=GOOD))
    flat = c.billing_unit("B1-0101")
    # apartment A01 of the 40 x 12 m slab: 17.6 m x 5.25 m north-west of the core, by hand
    assert (flat.space_id, flat.storey_id, flat.area_m2) == ("B1-F01-A01", "B1-F01", pytest.approx(92.4))
    assert c.billing_unit("P1").area_m2 == pytest.approx(12.5) and c.billing_unit("P1").feature_id == "P1"
    assert c.billing_unit("SHOP1").area_m2 == 85.5
    assert c.households[0].size == 3
    meter = c.device("M1")
    # (E0 + 5, N0 + 10) lies in the north-west apartment of the ground storey
    assert (meter.space_id, meter.position) == ("B1-F01-A01", (E0 + 5, N0 + 10, 0.0))
    assert meter.feeds == ["B1-0101"]
    assert c.device("C1").building_id is None
    assert c.staff[0].skills == ["cleaning", "waste"] and c.staff[1].base_space_id == "G1"


@pytest.mark.parametrize("kind, row, message", [
    ("billing_units", "X,villa,B1,,B1-F01-A01,,,,", "billing_units.csv line 2: kind='villa' must be one of"),
    ("billing_units", "X,apartment,B1,,B1-F09-A01,,,,", "line 2: space='B1-F09-A01' is not a space"),
    ("billing_units", "X,apartment,B2,,B1-F01-A01,,,,", "line 2: building='B2' does not hold storey"),
    ("billing_units", "X,parking,,,,P7,,,", "line 2: feature='P7' is not a GIS feature"),
    ("billing_units", "X,apartment,B1,,B1-F01-A01,,-3,,", "line 2: area_m2='-3' must be a finite number > 0"),
    ("devices", "D1,meter_water,m,B1,B1-F01,,abc,1,,,", "devices.csv line 2: x='abc' is not a number"),
    ("devices", "D1,meter_water,m,B7,,,,,,,", "line 2: building='B7' is not a building"),
    ("devices", "D1,meter_water,m,B1,,,,,,U9,", "line 2: feeds='U9': 'U9' is not a billing unit"),
    ("devices", "D1,meter_water,m,,,,,,,,NOSUCHGUID", "line 2: ifc_guid='NOSUCHGUID' is not a device"),
    ("staff", "S1,Li,cleaner,,8-17,", "staff.csv line 2: shift='8-17' must be HH:MM-HH:MM"),
    ("staff", "S1,Li,cleaner,,,nowhere", "line 2: base_space='nowhere' is not a space"),
    ("households", "NOPE,3,,", "households.csv line 2: unit_id='NOPE' is not a billing unit"),
    ("households", "B1-0101,2.5,,", "line 2: size='2.5' must be a whole number"),
])
def test_bad_rows_name_file_line_and_value(tmp_path, kind, row, message):
    regs = {k: list(v) for k, v in GOOD.items()}
    regs[kind] = [regs[kind][0], row]
    if kind == "households":
        regs["billing_units"] = GOOD["billing_units"]
    site = write_site(tmp_path / "s", registers=regs)
    with pytest.raises(RegisterError, match=message.replace("(", r"\(").replace(")", r"\)")):
        bim.load(site)


def test_line_numbers_count_the_header_and_skip_nothing(tmp_path):
    regs = dict(GOOD, devices=[DEV_H, "D1,meter_water,,,,,,,,,", "D2,meter_water,,,,,,,,,",
                               "D1,meter_power,,,,,,,,,"])
    with pytest.raises(RegisterError, match=r"registers/devices.csv line 4: id='D1' appears twice"):
        bim.load(write_site(tmp_path / "s", registers=regs))


def test_missing_column_and_not_utf8(tmp_path):
    regs = dict(GOOD, staff=["id,name", "S1,Li"])
    with pytest.raises(RegisterError, match=r"staff.csv line 1: missing column 'role'"):
        bim.load(write_site(tmp_path / "a", registers=regs))
    site = write_site(tmp_path / "b", registers=GOOD)
    (site / "registers" / "households.csv").write_bytes("unit_id,size\nB1-0101,3,张".encode("gbk"))
    with pytest.raises(RegisterError, match="households.csv: not UTF-8"):
        bim.load(site)


def test_utf8_bom_and_chinese_names(tmp_path):
    site = write_site(tmp_path / "s", registers=GOOD)
    (site / "registers" / "households.csv").write_bytes(
        "unit_id,size,owner,phone\nB1-0101,4,张三,13800000001\n".encode("utf-8-sig"))
    c = bim.load(site)
    assert (c.households[0].owner, c.households[0].size) == ("张三", 4)
