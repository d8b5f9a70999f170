"""Device kinds written by the generator and the IFC entity each kind becomes.

Read from the one device-kind table (:mod:`twin.kinds`: each kind's ``ifc_write`` class
and predefined type, and its Chinese label) by the plan builder, the IFC writer and the
registers (the ``kind`` column). Register names may be a kind's alias
(``temperature_humidity``); :data:`DEVICE_KINDS` is keyed by those too.
"""

from __future__ import annotations

from dataclasses import dataclass

from twin.kinds import KINDS

__all__ = ["DEVICE_KINDS", "DeviceKind", "SPACE_USAGES"]


@dataclass(frozen=True)
class DeviceKind:
    """How one device kind is modelled in IFC (entity class and predefined type)."""

    kind: str
    ifc_class: str
    predefined_type: str
    label_zh: str


def _device_kinds() -> dict[str, DeviceKind]:
    out: dict[str, DeviceKind] = {}
    for k in KINDS.values():
        if k.ifc_write is None:
            continue
        for name in (k.name, *k.aliases):
            out[name] = DeviceKind(name, k.ifc_write[0], k.ifc_write[1], k.label_zh)
    return out


#: Register kind name (a kind of the table or one of its aliases) -> how it is written to IFC.
DEVICE_KINDS: dict[str, DeviceKind] = _device_kinds()

#: Space usages the generator writes (IfcSpace.ObjectType and pset ``Twin_Space.Usage``).
SPACE_USAGES = (
    "apartment", "corridor", "lobby", "elevator_hall", "stair", "elevator", "pump_room",
    "distribution_room", "equipment", "garage", "shop", "office", "clubhouse", "hall",
)
