"""One-pass indexes of an IFC file's relationships and memoised object placements.

``ifcopenshell.util.element.get_container`` / ``get_aggregate`` walk inverse attributes on
every call; for files with thousands of products one pass over the relationship entities is
much faster. Placements are composed once per ``IfcLocalPlacement`` and shared down the
chain (site > building > storey > element).
"""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np

from bim.ifcattr import attribute, attributes

__all__ = ["Relations"]


def _by_type(f, cls: str) -> list:
    try:
        return list(f.by_type(cls))
    except RuntimeError:
        return []


class Relations:
    """Containment, aggregation, references and placements of one open file.

    Parameters
    ----------
    f : ifcopenshell.file
    unit_scale_m : float
        Metres per project length unit (placements are returned in metres).
    """

    def __init__(self, f, unit_scale_m: float) -> None:
        self.f = f
        self.us = unit_scale_m
        self.container: dict[int, object] = {}
        self.parent: dict[int, object] = {}
        self.children: dict[int, list] = defaultdict(list)
        self.references: dict[int, list] = defaultdict(list)
        self.type_of: dict[int, object] = {}
        # relationship entities with a missing side (broken files) are skipped
        for rel in _by_type(f, "IfcRelContainedInSpatialStructure"):
            els, host = attributes(rel, ("RelatedElements", "RelatingStructure"))
            for el in (els or []) if host is not None else []:
                self.container.setdefault(el.id(), host)
        for rel in _by_type(f, "IfcRelAggregates"):
            whole, els = attributes(rel, ("RelatingObject", "RelatedObjects"))
            for el in (els or []) if whole is not None else []:
                self.parent[el.id()] = whole
                self.children[whole.id()].append(el)
        for rel in _by_type(f, "IfcRelReferencedInSpatialStructure"):
            els, host = attributes(rel, ("RelatedElements", "RelatingStructure"))
            for el in (els or []) if host is not None else []:
                self.references[el.id()].append(host)
        for rel in _by_type(f, "IfcRelDefinesByType"):
            els, t = attributes(rel, ("RelatedObjects", "RelatingType"))
            for el in (els or []) if t is not None else []:
                self.type_of[el.id()] = t
        self._placements: dict[int, np.ndarray] = {}
        self._directions: dict[tuple[int, int], list[float]] = {}
        self._placement_rows: dict[int, list[list[float]]] = {}
        self._set_values: dict[int, dict] = {}  # property / quantity set -> its values
        self._set_heads: dict[tuple[str, int], list[tuple]] = {}  # type / relationship -> its sets

    def element_type(self, el):
        """Return the type object of ``el`` (IfcRelDefinesByType), or None."""
        return self.type_of.get(el.id())

    def psets(self, el, *, qtos: bool = False, names: set[str] | None = None) -> dict[str, dict]:
        """Return ``{name: {property: value}}`` of the property sets (or quantity sets) of
        ``el``; the occurrence's own values override those of its type. ``names`` keeps
        only the sets with these names (the others' properties are not read)."""
        return self.property_sets(el, names=names, qto_names=names)[1 if qtos else 0]

    def property_sets(self, el, *, names: set[str] | None = None,
                      qto_names: set[str] | None = None) -> tuple[dict[str, dict], dict[str, dict]]:
        """Return ``(psets, qtos)`` of ``el`` in one walk; ``names`` / ``qto_names`` keep only
        the property / quantity sets of these names (None: all)."""
        psets: dict[str, dict] = {}
        qtos: dict[str, dict] = {}
        heads: list[tuple] = []
        t = self.type_of.get(el.id())
        if t is not None:
            heads += self._heads(t, t.id(), "type")
        for rel in getattr(el, "IsDefinedBy", None) or []:  # inverse: only this element's
            heads += self._heads(rel, rel.id(), "rel")
        for is_qto, name, key, d in heads:
            keep = qto_names if is_qto else names
            if keep is not None and name not in keep:
                continue
            read = self._set_values.get(key)
            if read is None:  # a set shared by many elements is read once
                read = self._set_values[key] = {}
                for prop in d.get_argument(5 if is_qto else 4) or []:  # Quantities / HasProperties
                    value = _value(prop)
                    if value is not None:
                        read[prop.get_argument(0)] = value  # IfcProperty / IfcPhysicalQuantity.Name
            (qtos if is_qto else psets).setdefault(name or "", {}).update(read)
        return psets, qtos

    def _heads(self, owner, key: int, kind: str) -> list[tuple]:
        """``(is_quantity_set, name, step id, set)`` of the property and quantity sets of a
        type object (``kind="type"``) or an IfcRelDefinesByProperties (``"rel"``); read once
        per owner (a relationship usually serves many elements)."""
        heads = self._set_heads.get((kind, key))
        if heads is None:
            defs: list = []
            if kind == "type":
                defs = list(attribute(owner, "HasPropertySets") or [])
            elif owner.is_a() == "IfcRelDefinesByProperties":
                pdef = attribute(owner, "RelatingPropertyDefinition")
                defs = list(pdef) if isinstance(pdef, tuple) else [pdef]
            heads = []
            for d in defs:
                if d is None:
                    continue
                cls = d.is_a()
                if cls in ("IfcElementQuantity", "IfcPropertySet"):
                    heads.append((cls == "IfcElementQuantity", d.get_argument(2), d.id(), d))  # 2: Name
            self._set_heads[(kind, key)] = heads
        return heads

    def spatial_parent(self, el):
        """Return the spatial element containing ``el`` (through aggregation), or None."""
        for _ in range(50):
            c = self.container.get(el.id())
            if c is not None:
                return c
            a = self.parent.get(el.id())
            if a is None or a.is_a("IfcSpatialStructureElement") or a.is_a("IfcSpatialElement"):
                return a
            el = a
        return None

    def aggregate(self, el):
        """Return the object ``el`` is aggregated into, or None."""
        return self.parent.get(el.id())

    def decomposition(self, el) -> list:
        """Return every part aggregated into ``el``, recursively."""
        out, todo, seen = [], list(self.children.get(el.id(), [])), {el.id()}
        while todo:
            part = todo.pop(0)
            if part.id() in seen:  # a cycle in a broken file
                continue
            seen.add(part.id())
            out.append(part)
            todo.extend(self.children.get(part.id(), []))
        return out

    # -- placements ----------------------------------------------------------------------
    def placement(self, el) -> np.ndarray | None:
        """Return the world placement of ``el`` as a 4x4 matrix in metres, or None."""
        lp = getattr(el, "ObjectPlacement", None)
        if lp is None:
            return None
        try:
            m = self._matrix(lp).copy()
        except Exception:
            return None
        m[:3, 3] *= self.us
        return m

    def position(self, el) -> tuple[float, float, float] | None:
        """Return the world position of ``el`` (its placement's origin, metres), or None.

        The placement of :meth:`placement` without its own axes: the relative placement's
        location through the placement it is relative to (devices need no more).
        """
        lp = attribute(el, "ObjectPlacement")
        if lp is None:
            return None
        us = self.us
        try:
            if lp.is_a("IfcLocalPlacement") and lp.id() not in self._placements:
                up, a2p = attributes(lp, _LOCAL_PLACEMENT)
                pt = attribute(a2p, "Location") if a2p is not None else None
                x, y, z = (tuple(attribute(pt, "Coordinates")) + (0.0, 0.0, 0.0))[:3] \
                    if pt is not None else (0.0, 0.0, 0.0)
                if up is None:
                    return float(x) * us, float(y) * us, float(z) * us
                r0, r1, r2 = self._rows(up)  # plain floats: cheaper than NumPy for one point
                return ((r0[0] * x + r0[1] * y + r0[2] * z + r0[3]) * us,
                        (r1[0] * x + r1[1] * y + r1[2] * z + r1[3]) * us,
                        (r2[0] * x + r2[1] * y + r2[2] * z + r2[3]) * us)
            x, y, z = self._matrix(lp)[:3, 3].tolist()
        except Exception:
            return None
        return x * us, y * us, z * us

    def _rows(self, lp) -> list[list[float]]:
        """The first three rows of the placement matrix of ``lp`` as floats (memoised)."""
        key = lp.id()
        rows = self._placement_rows.get(key)
        if rows is None:
            rows = self._placement_rows[key] = self._matrix(lp)[:3].tolist()
        return rows

    def _matrix(self, lp) -> np.ndarray:
        key = lp.id()
        cached = self._placements.get(key)
        if cached is not None:
            return cached
        if lp.is_a("IfcLocalPlacement"):
            rel = self._axis2placement(attribute(lp, "RelativePlacement"))
            up = attribute(lp, "PlacementRelTo")
            m = self._matrix(up) @ rel if up is not None else rel
        else:  # grid or linear placements: let ifcopenshell do it
            import ifcopenshell.util.placement as P

            m = np.array(P.get_local_placement(lp), dtype=float)
        self._placements[key] = m
        return m

    def _direction(self, d, dims: int) -> list[float]:
        """Unit vector (3 components) of an IfcDirection, memoised (directions are shared)."""
        key = (d.id(), dims)
        v = self._directions.get(key)
        if v is None:
            v = self._directions[key] = _unit((list(attribute(d, "DirectionRatios")) + [0.0, 0.0])[:dims]
                                              + [0.0] * (3 - dims))
        return v

    def _axis2placement(self, a2p) -> np.ndarray:
        """4x4 matrix (project units) of an IfcAxis2Placement2D/3D."""
        if a2p is None:
            return np.eye(4)
        loc_pt = attribute(a2p, "Location")
        loc = list(attribute(loc_pt, "Coordinates")) if loc_pt is not None else [0.0, 0.0, 0.0]
        loc = (loc + [0.0, 0.0, 0.0])[:3]
        ref = attribute(a2p, "RefDirection")
        if a2p.is_a("IfcAxis2Placement2D"):
            x = self._direction(ref, 2) if ref is not None else [1.0, 0.0, 0.0]
            return np.array([[x[0], -x[1], 0.0, loc[0]], [x[1], x[0], 0.0, loc[1]],
                             [x[2], 0.0, 1.0, loc[2]], [0.0, 0.0, 0.0, 1.0]])
        axis = attribute(a2p, "Axis")
        z = self._direction(axis, 3) if axis is not None else [0.0, 0.0, 1.0]
        x = self._direction(ref, 3) if ref is not None else [1.0, 0.0, 0.0]
        d = x[0] * z[0] + x[1] * z[1] + x[2] * z[2]
        x = _unit([x[0] - d * z[0], x[1] - d * z[1], x[2] - d * z[2]])
        if x[0] * x[0] + x[1] * x[1] + x[2] * x[2] < 1e-12:  # RefDirection parallel to Axis
            x = _unit([z[2], 0.0, -z[0]]) if abs(z[0]) > 1e-9 or abs(z[2]) > 1e-9 else [1.0, 0.0, 0.0]
        y = [z[1] * x[2] - z[2] * x[1], z[2] * x[0] - z[0] * x[2], z[0] * x[1] - z[1] * x[0]]
        return np.array([[x[0], y[0], z[0], loc[0]], [x[1], y[1], z[1], loc[1]],
                         [x[2], y[2], z[2], loc[2]], [0.0, 0.0, 0.0, 1.0]])


def _unit(v: list[float]) -> list[float]:
    n = math.sqrt(sum(c * c for c in v))
    return [c / n for c in v] if n > 0 else v


_LOCAL_PLACEMENT = ("PlacementRelTo", "RelativePlacement")

_QUANTITIES = frozenset({"IfcQuantityLength", "IfcQuantityArea", "IfcQuantityVolume",
                         "IfcQuantityCount", "IfcQuantityWeight", "IfcQuantityTime",
                         "IfcQuantityNumber"})


def _value(prop):
    """The plain value of an IfcPropertySingleValue or a physical quantity (else None)."""
    cls = prop.is_a()
    if cls == "IfcPropertySingleValue":
        v = prop.get_argument(2)  # NominalValue
        return getattr(v, "wrappedValue", v)
    if cls in _QUANTITIES:
        v = prop.get_argument(3)  # LengthValue / AreaValue / VolumeValue / CountValue / WeightValue...
        return float(v) if isinstance(v, (int, float)) else None
    return None
