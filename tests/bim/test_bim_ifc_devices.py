"""Device kinds of IFC elements (bim/devices.py), on elements authored here."""

from __future__ import annotations

import ifcopenshell
import ifcopenshell.api.root
import ifcopenshell.api.type
import pytest

from bim.devices import device_kind, effective_class, is_elevator_like, predefined_type


def _make(schema: str, cls: str, name: str | None = None, predefined: str | None = None, **attrs):
    f = ifcopenshell.file(schema=schema)
    el = f.create_entity(cls, GlobalId=ifcopenshell.guid.new(), Name=name, **attrs)
    if predefined:
        el.PredefinedType = predefined
    return f, el


@pytest.mark.parametrize("cls, predefined, name, kind", [
    ("IfcSensor", "SMOKESENSOR", "SD-1", "smoke_detector"),
    ("IfcSensor", "TEMPERATURESENSOR", "T-1", "temp_humidity"),
    ("IfcSensor", "MOISTURESENSOR", "leak", "leak_sensor"),
    ("IfcSensor", "IDENTIFIERSENSOR", "card reader", "access_gate"),
    ("IfcSensor", "MOVEMENTSENSOR", "1单元1层门厅客流计数", "people_counter"),
    ("IfcSensor", "MOVEMENTSENSOR", "PIR corridor", "motion_sensor"),
    ("IfcSensor", None, "whatever", "sensor"),
    ("IfcFlowMeter", "WATERMETER", "WM", "meter_water"),
    ("IfcFlowMeter", "GASMETER", "GM", "meter_gas"),
    ("IfcFlowMeter", "ENERGYMETER", "EM", "meter_electricity"),
    ("IfcController", "PROGRAMMABLE", "1单元E1电梯控制器", "elevator_controller"),
    ("IfcController", "PROGRAMMABLE", "Lift 3 controller", "elevator_controller"),
    ("IfcController", "PROGRAMMABLE", "地库入口道闸", "parking_barrier"),
    ("IfcController", "PROGRAMMABLE", "AHU-1 controller", "controller"),
    ("IfcFireSuppressionTerminal", "SPRINKLER", "SP", "sprinkler"),
    ("IfcFireSuppressionTerminal", "FIREHYDRANT", "FH", "fire_hydrant"),
    ("IfcAlarm", "SIREN", "SMOKE-101", "alarm"),
    ("IfcLightFixture", None, "L", "light"),
    ("IfcOutlet", None, "socket", "outlet"),
])
def test_ifc4_kinds(cls, predefined, name, kind):
    _, el = _make("IFC4", cls, name, predefined)
    assert device_kind(el) == kind


def test_ifc2x3_generic_occurrence_takes_its_type():
    f = ifcopenshell.file(schema="IFC2X3")
    el = f.create_entity("IfcFlowController", GlobalId=ifcopenshell.guid.new(), Name="meter 1")
    t = f.create_entity("IfcFlowMeterType", GlobalId=ifcopenshell.guid.new(), Name="WM type",
                        PredefinedType="WATERMETER")
    f.create_entity("IfcRelDefinesByType", GlobalId=ifcopenshell.guid.new(),
                    RelatedObjects=[el], RelatingType=t)
    assert effective_class(el) == "IfcFlowMeter"
    assert predefined_type(el) == "WATERMETER"
    assert device_kind(el) == "meter_water"
    types = {el.id(): t}  # the reader's prebuilt index gives the same answer
    assert device_kind(el, types) == "meter_water"


@pytest.mark.parametrize("schema, cls, name, attrs, want", [
    ("IFC4", "IfcTransportElement", "T1", {"PredefinedType": "ELEVATOR"}, True),
    ("IFC4", "IfcTransportElement", "Lift", {"PredefinedType": "ESCALATOR"}, False),
    ("IFC4", "IfcTransportElement", "1号电梯", {}, True),
    ("IFC4", "IfcTransportElement", "conveyor", {}, False),
    ("IFC2X3", "IfcTransportElement", "E", {"OperationType": "ELEVATOR"}, True),
    ("IFC4", "IfcBuildingElementProxy", "Aufzug 2", {}, True),
    ("IFC4", "IfcBuildingElementProxy", "Lift shaft car", {}, True),
    ("IFC4", "IfcBuildingElementProxy", "Liftgate", {}, False),
    ("IFC4", "IfcBuildingElementProxy", "Geographic Position", {}, False),
])
def test_elevator_like(schema, cls, name, attrs, want):
    f = ifcopenshell.file(schema=schema)
    el = f.create_entity(cls, GlobalId=ifcopenshell.guid.new(), Name=name, **attrs)
    assert is_elevator_like(el) is want
