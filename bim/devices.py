"""Which IFC elements are devices, and the device kind each maps to (from the kind table).

An element's *effective class* is its own class, or for IFC2X3's generic occurrences
(``IfcDistributionControlElement``, ``IfcFlowTerminal``, ``IfcFlowController``...) the class
named by its type object (``IfcSensorType`` -> ``IfcSensor``). The predefined type comes
from the occurrence, else from its type. The kind is: the first :data:`NAME_RULES` match
on the element's name, tag or object type (an elevator controller, a people counter: IFC
has no predefined type for them), else :data:`KIND_BY_CLASS` by (class, predefined type),
then by class, else the class name in snake case (``IfcLightFixture`` -> ``light_fixture``).
Both rule sets are read from the one device-kind table, :mod:`twin.kinds`.
"""

from __future__ import annotations

import re

from bim.ifcattr import attribute, attributes
from twin.kinds import ELEVATOR_NAME_PATTERN, all_kinds

__all__ = ["DEVICE_ROOT_CLASSES", "KIND_BY_CLASS", "NAME_RULES", "attribute", "device_kind", "effective_class",
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


def _class_rules() -> dict[tuple[str, str | None], str]:
    out: dict[tuple[str, str | None], str] = {}
    for kind in all_kinds():
        for m in kind.ifc:
            if m.name_pattern is None:
                out.setdefault((m.ifc_class, m.predefined_type), kind.name)
    return out


def _name_rules() -> tuple[tuple[frozenset[str], re.Pattern, str], ...]:
    out: dict[tuple[str, str], set[str]] = {}
    for kind in all_kinds():
        for m in kind.ifc:
            if m.name_pattern is not None:
                out.setdefault((kind.name, m.name_pattern), set()).add(m.ifc_class)
    return tuple((frozenset(classes), re.compile(pattern, re.I), name) for (name, pattern), classes in out.items())


#: (effective class, predefined type or None) -> device kind, from the kind table
#: (:mod:`twin.kinds`, each kind's :class:`~twin.kinds.IfcMatch` entries without a name pattern).
KIND_BY_CLASS: dict[tuple[str, str | None], str] = _class_rules()

_ELEVATOR_RE = re.compile(ELEVATOR_NAME_PATTERN, re.I)

#: Name rules applied before :data:`KIND_BY_CLASS`: (effective classes, pattern on the
#: element's name / tag / object type, kind), from the kind table's name patterns in table
#: order. IFC has no predefined type for these.
NAME_RULES: tuple[tuple[frozenset[str], re.Pattern, str], ...] = _name_rules()


def _type_of(element, types):
    if types is not None:
        return types.get(element.id())
    import ifcopenshell.util.element as E

    return E.get_type(element)


def predefined_type(element, types: dict | None = None) -> str | None:
    """Return the element's predefined type (occurrence first, then its type), or ``None``.

    ``types`` maps step ids to type objects (a prebuilt index); without it
    ``ifcopenshell.util.element.get_type`` is asked.
    """
    for obj in (element, _type_of(element, types)):
        if obj is None:
            continue
        for value in attributes(obj, _PREDEFINED):
            if value and value not in ("NOTDEFINED", "USERDEFINED"):
                return str(value)
    return None


_PREDEFINED = ("PredefinedType", "OperationType")
_TEXTS = ("Name", "Tag", "ObjectType")


def effective_class(element, types: dict | None = None) -> str:
    """Return the occurrence class, or the one named by its type for IFC2X3 generics."""
    cls = element.is_a()
    t = _type_of(element, types)
    if t is not None:
        tcls = t.is_a()
        if tcls.endswith("Type") and tcls[:-4] != cls:
            return tcls[:-4]
    return cls


def _snake(name: str) -> str:
    name = name[3:] if name.startswith("Ifc") else name
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


_UNSET = object()


def device_kind(element, types: dict | None = None, *, predefined=_UNSET) -> str:
    """Return the twin device kind of an IFC device element (see :data:`KIND_BY_CLASS`).

    ``predefined``: the element's :func:`predefined_type` when the caller has it already.
    """
    cls = effective_class(element, types)
    texts = " ".join(str(x) for x in attributes(element, _TEXTS) if x)
    for classes, pattern, kind in NAME_RULES:
        if cls in classes and texts and pattern.search(texts):
            return kind
    pre = predefined_type(element, types) if predefined is _UNSET else predefined
    kind = KIND_BY_CLASS.get((cls, pre)) or KIND_BY_CLASS.get((cls, None))
    if kind:
        return kind
    return _snake(cls)


def is_elevator_like(element, types: dict | None = None) -> bool:
    """Whether an IfcTransportElement / IfcBuildingElementProxy is an elevator (lift).

    IfcTransportElement: predefined type ELEVATOR (occurrence or type), or NOTDEFINED /
    USERDEFINED with an elevator-ish name. Other elements: an elevator-ish name, object
    type or type name (``elevator``, ``lift``, ``电梯``, ``Aufzug``...).
    """
    pre = predefined_type(element, types)
    if element.is_a("IfcTransportElement") and pre is not None:
        return pre == "ELEVATOR"
    t = _type_of(element, types)
    texts = [element.Name, getattr(element, "ObjectType", None), getattr(element, "Description", None),
             getattr(t, "Name", None) if t is not None else None,
             getattr(t, "ElementType", None) if t is not None else None]
    return any(_ELEVATOR_RE.search(str(x)) for x in texts if x)
