"""Attribute access by position on ifcopenshell entity instances (the reader's hot loops).

``entity.Name`` goes through ifcopenshell's Python ``__getattr__``, which asks the schema
for the attribute's category and position on every call (~2 µs); reading the argument at a
known position takes ~0.3 µs. Positions are looked up once per (schema, class, attribute)
with ifcopenshell's own schema functions, so this works for every schema and class.

Inverse attributes (``IsDefinedBy``...) are not positional: use ``getattr`` for those.
"""

from __future__ import annotations

__all__ = ["attribute", "attributes", "global_id", "has_representation", "name"]

_ATTR_INDEX: dict[tuple[str, str], int | None] = {}

#: IfcRoot's attributes come first in every IFC schema: GlobalId, OwnerHistory, Name, ...
_GLOBAL_ID, _NAME = 0, 2


def attribute(element, attr: str):
    """Return explicit attribute ``attr`` of ``element``, or None when its class has none.

    The same value as ``getattr(element, attr, None)`` for explicit (forward) attributes.
    """
    key = (element.is_a(True), attr)  # schema-qualified class
    idx = _ATTR_INDEX.get(key, -1)
    if idx == -1:
        idx = _ATTR_INDEX[key] = _index(element, attr)
    return element.get_argument(idx) if idx is not None else None


_ATTRS_INDEX: dict[tuple[str, tuple[str, ...]], tuple[int | None, ...]] = {}


def attributes(element, attrs: tuple[str, ...]) -> tuple:
    """Return several explicit attributes of ``element`` at once (None where its class has
    none): one class lookup for all of them."""
    key = (element.is_a(True), attrs)
    idx = _ATTRS_INDEX.get(key)
    if idx is None:
        idx = _ATTRS_INDEX[key] = tuple(_index(element, a) for a in attrs)
    get = element.get_argument
    return tuple(get(i) if i is not None else None for i in idx)


def _index(element, attr: str) -> int | None:
    try:
        if element.get_attribute_category(attr) == 1:  # a forward (explicit) attribute
            return element.get_argument_index(attr)
    except Exception:
        pass
    return None


def global_id(root) -> str:
    """``GlobalId`` of an IfcRoot instance (a product, relationship, property set...)."""
    return root.get_argument(_GLOBAL_ID)


def name(root) -> str | None:
    """``Name`` of an IfcRoot instance."""
    return root.get_argument(_NAME)


def has_representation(element) -> bool:
    """Whether a product has a ``Representation`` (False for non-products)."""
    return attribute(element, "Representation") is not None
