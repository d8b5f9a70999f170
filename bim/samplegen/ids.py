"""Stable identifiers: IFC GlobalIds derived from names, never from a clock or a RNG.

Every element the generator writes gets ``guid(site, building, kind, key)``: a UUID5 of
its stable name in a fixed namespace, compressed to the 22-character IFC form. The
registers compute the same ids from the same names, so CSV rows and IFC elements agree
without reading the files back.
"""

from __future__ import annotations

import uuid

import ifcopenshell.guid

__all__ = ["NAMESPACE", "guid", "stable_name"]

#: Namespace of every generated id (a fixed UUID; changing it changes every GlobalId).
NAMESPACE = uuid.UUID("6f1d2c3a-9b7e-5c4d-8e2f-1a0b3c4d5e6f")


def stable_name(site: str, building: str, kind: str, key: str) -> str:
    """Return the stable name ``site/building/kind/key`` an id is derived from."""
    return f"{site}/{building}/{kind}/{key}"


def guid(site: str, building: str, kind: str, key: str) -> str:
    """Return the IFC GlobalId (22 characters) of an element from its stable name.

    Examples
    --------
    >>> guid("tiny", "T1", "space", "F01/U1-A01") == guid("tiny", "T1", "space", "F01/U1-A01")
    True
    >>> len(guid("tiny", "T1", "building", "T1"))
    22
    """
    name = stable_name(site, building, kind, key)
    return ifcopenshell.guid.compress(uuid.uuid5(NAMESPACE, name).hex)
