"""Which IFC elements are devices, and the device kind each maps to (declared once, as data).

An element's *effective class* is its own class, or for IFC2X3's generic occurrences
(``IfcDistributionControlElement``, ``IfcFlowTerminal``, ``IfcFlowController``...) the class
named by its type object (``IfcSensorType`` -> ``IfcSensor``). The predefined type comes
from the occurrence, else from its type. The kind is looked up by (class, predefined type),
then by class, else derived from the class name (``IfcLightFixture`` -> ``light_fixture``).
"""

from __future__ import annotations

import re

__all__ = ["DEVICE_ROOT_CLASSES", "KIND_BY_CLASS", "device_kind", "effective_class",
           "is_elevator_like", "predefined_type"]

#: Root classes whose instances (all subclasses included) are devices of the twin.
#: Pipes, ducts and fittings (IfcFlowSegment, IfcFlowFitting) are not devices.
DEVICE_ROOT_CLASSES: tuple[str, ...] = (
    "IfcDistributionControlElement",  # sensors, alarms, controllers, actuators, instruments
    "IfcFlowTerminal",                # fire suppression terminals, lights, outlets, sanitary
    "IfcFlowController",              # flow meters, valves, switches, distribution boards
    "IfcFlowMovingDevice",            # pumps, fans
    "IfcEnergyConversionDevice",      # boilers, chillers, transformers
    "IfcFlowStorageDevice",           # tanks
    "IfcFlowTreatmentDevice",         # filters
)

#: (effective class, predefined type or None) -> device kind of the live layer.
KIND_BY_CLASS: dict[tuple[str, str | None], str] = {
    ("IfcSensor", "SMOKESENSOR"): "smoke_detector",
    ("IfcSensor", "FIRESENSOR"): "smoke_detector",
    ("IfcSensor", "HEATSENSOR"): "heat_detector",
    ("IfcSensor", "TEMPERATURESENSOR"): "temp_humidity",
    ("IfcSensor", "HUMIDITYSENSOR"): "temp_humidity",
    ("IfcSensor", "MOISTURESENSOR"): "leak_sensor",
    ("IfcSensor", "GASSENSOR"): "gas_detector",
    ("IfcSensor", "CO2SENSOR"): "air_quality",
    ("IfcSensor", "MOVEMENTSENSOR"): "motion_sensor",
    ("IfcSensor", "LIGHTSENSOR"): "light_sensor",
    ("IfcSensor", None): "sensor",
    ("IfcAlarm", None): "alarm",
    ("IfcFlowMeter", "WATERMETER"): "meter_water",
    ("IfcFlowMeter", "GASMETER"): "meter_gas",
    ("IfcFlowMeter", "ENERGYMETER"): "meter_electricity",
    ("IfcFlowMeter", "ELECTRICMETER"): "meter_electricity",
    ("IfcFlowMeter", None): "meter",
    ("IfcFireSuppressionTerminal", "SPRINKLER"): "sprinkler",
    ("IfcFireSuppressionTerminal", "FIREHYDRANT"): "fire_hydrant",
    ("IfcFireSuppressionTerminal", "HOSEREEL"): "hose_reel",
    ("IfcFireSuppressionTerminal", None): "fire_suppression",
    ("IfcController", None): "controller",
    ("IfcActuator", None): "actuator",
    ("IfcUnitaryControlElement", None): "control_panel",
    ("IfcFlowInstrument", None): "instrument",
    ("IfcPump", None): "pump",
    ("IfcFan", None): "fan",
    ("IfcValve", None): "valve",
    ("IfcLightFixture", None): "light",
    ("IfcCommunicationsAppliance", None): "communications",
    ("IfcAudioVisualAppliance", None): "camera_or_av",
}

_ELEVATOR_RE = re.compile(r"elevat|\blift|lift\b|^lift|电梯|升降|aufzug|ascenseur|ascensor", re.I)


def predefined_type(element) -> str | None:
    """Return the element's predefined type (occurrence first, then its type), or ``None``."""
    import ifcopenshell.util.element as E

    for obj in (element, E.get_type(element)):
        if obj is None:
            continue
        for attr in ("PredefinedType", "OperationType"):
            value = getattr(obj, attr, None) if hasattr(obj, attr) else None
            if value and value not in ("NOTDEFINED", "USERDEFINED"):
                return str(value)
    return None


def effective_class(element) -> str:
    """Return the occurrence class, or the one named by its type for IFC2X3 generics."""
    import ifcopenshell.util.element as E

    cls = element.is_a()
    t = E.get_type(element)
    if t is not None:
        tcls = t.is_a()
        if tcls.endswith("Type") and tcls[:-4] != cls:
            return tcls[:-4]
    return cls


def _snake(name: str) -> str:
    name = name[3:] if name.startswith("Ifc") else name
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def device_kind(element) -> str:
    """Return the twin device kind of an IFC device element (see :data:`KIND_BY_CLASS`)."""
    cls = effective_class(element)
    pre = predefined_type(element)
    kind = KIND_BY_CLASS.get((cls, pre)) or KIND_BY_CLASS.get((cls, None))
    if kind:
        return kind
    return _snake(cls)


def is_elevator_like(element) -> bool:
    """Whether an IfcTransportElement / IfcBuildingElementProxy is an elevator (lift).

    IfcTransportElement: predefined type ELEVATOR (occurrence or type), or NOTDEFINED /
    USERDEFINED with an elevator-ish name. Other elements: an elevator-ish name, object
    type or type name (``elevator``, ``lift``, ``电梯``, ``Aufzug``...).
    """
    import ifcopenshell.util.element as E

    pre = predefined_type(element)
    if element.is_a("IfcTransportElement") and pre is not None:
        return pre == "ELEVATOR"
    t = E.get_type(element)
    texts = [element.Name, getattr(element, "ObjectType", None), getattr(element, "Description", None),
             getattr(t, "Name", None) if t is not None else None,
             getattr(t, "ElementType", None) if t is not None else None]
    return any(_ELEVATOR_RE.search(str(x)) for x in texts if x)
