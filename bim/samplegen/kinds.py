"""Device kinds written by the generator and the IFC entity each kind becomes.

One table, read by the plan builder (which devices exist), the IFC writer (which entity)
and the registers (the ``kind`` column). Kind names are the live layer's kind names.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DEVICE_KINDS", "DeviceKind", "SPACE_USAGES"]


@dataclass(frozen=True)
class DeviceKind:
    """How one device kind is modelled in IFC (entity class and predefined type)."""

    kind: str
    ifc_class: str
    predefined_type: str
    label_zh: str


DEVICE_KINDS: dict[str, DeviceKind] = {
    k.kind: k
    for k in (
        DeviceKind("meter_electricity", "IfcFlowMeter", "ENERGYMETER", "电表"),
        DeviceKind("meter_water", "IfcFlowMeter", "WATERMETER", "水表"),
        DeviceKind("smoke_detector", "IfcSensor", "SMOKESENSOR", "烟感"),
        DeviceKind("people_counter", "IfcSensor", "MOVEMENTSENSOR", "客流计数"),
        DeviceKind("access_gate", "IfcSensor", "IDENTIFIERSENSOR", "门禁"),
        DeviceKind("elevator_controller", "IfcController", "PROGRAMMABLE", "电梯控制器"),
        DeviceKind("leak_sensor", "IfcSensor", "MOISTURESENSOR", "漏水传感器"),
        DeviceKind("temperature_humidity", "IfcSensor", "TEMPERATURESENSOR", "温湿度"),
        DeviceKind("parking_barrier", "IfcActuator", "ELECTRICACTUATOR", "道闸"),
    )
}

#: Space usages the generator writes (IfcSpace.ObjectType and pset ``Twin_Space.Usage``).
SPACE_USAGES = (
    "apartment", "corridor", "lobby", "elevator_hall", "stair", "elevator", "pump_room",
    "distribution_room", "equipment", "garage", "shop", "office", "clubhouse", "hall",
)
