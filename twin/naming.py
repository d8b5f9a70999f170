"""Names people use for buildings, storeys, unit entrances, stairs, exits and doors.

The twin keeps source ids (IFC GlobalIds, register ids) as ``id``; operators say "1号楼",
"12F", "2单元 A梯". :class:`SiteNames` derives such names for every building, storey,
stair, exit and door of a :class:`~twin.model.Community` by one documented rule
(docs/site-format.md, "Names people use"), and resolves a name typed by a person back to
ids (:meth:`SiteNames.resolve`). The rule is a pure function of the model: the same model
always gets the same names, whatever the order of loading.

Rule, in short:

- **building**: a name with a CJK character is kept (``6号楼(老楼)``, ``会所``); a name or
  id of the form ``B3`` / ``Building 3`` / ``3`` becomes ``3号楼``; else the name; an
  empty name or an IFC GlobalId becomes ``N号楼``, N the building's position in the site.
- **storey**: ``F12``/``12F``/``12``/``12层``/``Level 12`` → ``12F``; ``B1``/``-1``/
  ``B1F`` → ``B1``; when a building's storey names do not all parse to distinct labels, the
  elevation order is used instead: the storey nearest elevation 0 m is ``1F``, those above
  ``2F``, ``3F``..., those below ``B1``, ``B2``...
- **unit entrance** (单元): ``U2`` or ``2单元`` in the element's name or its space's name,
  or an integer ``unit`` attribute → ``2单元``; none when nothing says so.
- **stair**: the stair records of a building whose plan centroids lie within
  :data:`SAME_STAIR_M` of each other form one staircase. Within an entrance the staircases
  are lettered ``A梯``, ``B梯``... west to east, then south to north (site coordinates);
  the name is ``2单元 A梯`` (or ``A梯`` without entrance). A record that is one flight
  run of a taller staircase adds its storey range: ``2单元 A梯 11F-12F``.
- **exit** (a door with a side to the outside): ``[2单元 ]1F <space> 出口``, the space being
  the inside one (a staircase's letter for a stair space, else its long name without the
  entrance and storey prefix, e.g. ``门厅``).
- **door**: ``[2单元 ]12F <space> 门``, the space being the one the door leads from (the
  non-circulation side: a flat, a room or a stair, not the hall).
- Names are unique per building: a repeat gets `` (2)``, `` (3)``... in element order.
  The site-wide form prefixes the building: ``1号楼 2单元 A梯``.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from dataclasses import dataclass
from typing import Iterable

from twin.errors import NotFoundError
from twin.model import Community, Door, Space, Stair

__all__ = ["SAME_STAIR_M", "Named", "SiteNames", "normalize_name", "storey_label"]

#: Stair records whose plan centroids lie within this distance (m) are one staircase.
SAME_STAIR_M = 1.0
#: Space usages that are circulation: a door is named after the space on its other side.
_CIRCULATION = frozenset({"corridor", "lobby", "hall", "elevator_hall", "landing", "circulation",
                          "entrance", "public"})
_STAIR_USAGES = frozenset({"stair", "stairwell"})
#: Chinese words for space usages that reach a name in English.
_USAGE_ZH = {"corridor": "走廊", "lobby": "门厅", "hall": "大厅", "elevator_hall": "电梯厅",
             "stair": "楼梯间", "stairwell": "楼梯间", "entrance": "门厅", "apartment": "住宅",
             "office": "办公室", "garage": "车库", "parking": "车库", "equipment": "设备间",
             "shop": "商铺", "landing": "平台", "circulation": "走廊"}
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_UNIT = re.compile(r"(?:(?<![A-Za-z0-9])U(\d+)(?!\d))|(?:(\d+)\s*单元)", re.IGNORECASE)
_BUILDING_NUM = re.compile(r"^(?:b|bldg|building|tower|楼)?\s*[-_ ]?\s*(\d+)$", re.IGNORECASE)
_ABOVE = [re.compile(p, re.IGNORECASE) for p in (
    r"^f\s*0*(\d+)$", r"^0*(\d+)\s*f$", r"^0*(\d+)$", r"^0*(\d+)\s*层$", r"^第\s*0*(\d+)\s*层$",
    r"^(?:level|floor|storey|story|l)\s*[-_ ]?\s*0*(\d+)$")]
_BELOW = [re.compile(p, re.IGNORECASE) for p in (
    r"^b\s*0*(\d+)\s*f?$", r"^-\s*0*(\d+)$", r"^地下\s*0*(\d+)\s*层$",
    r"^(?:level|floor)\s*-\s*0*(\d+)$")]
_GUID = re.compile(r"^[0-9A-Za-z_$]{22}$")
_STOREY_RANGE = re.compile(r"\s+\S+\s*-\s*\S+$")


def normalize_name(text: str) -> str:
    """Return the matching key of a name: NFKC (full-width digits → ASCII), no spaces, casefolded.

    >>> normalize_name(" １号楼  2单元 a梯 ")
    '1号楼2单元a梯'
    """
    return "".join(unicodedata.normalize("NFKC", str(text)).split()).casefold()


def storey_label(name: str) -> str | None:
    """Return ``12F``/``B1`` for a storey name that states its level, else ``None``.

    >>> storey_label("F12"), storey_label("B2"), storey_label("Level 3"), storey_label("Roof")
    ('12F', 'B2', '3F', None)
    """
    text = unicodedata.normalize("NFKC", str(name)).strip()
    for pats, form in ((_BELOW, "B{}"), (_ABOVE, "{}F")):  # below first: "Level -1" is B1
        for pat in pats:
            m = pat.match(text)
            if m and int(m.group(1)) > 0:
                return form.format(int(m.group(1)))
    return None


def _unit_of(*texts: str | None, attributes: dict | None = None) -> int | None:
    unit = (attributes or {}).get("unit")
    if isinstance(unit, int) and not isinstance(unit, bool) and unit > 0:
        return unit
    for text in texts:
        if not text:
            continue
        m = _UNIT.search(unicodedata.normalize("NFKC", text))
        if m:
            n = int(m.group(1) or m.group(2))
            if n > 0:
                return n
    return None


def _is_guid(text: str | None) -> bool:
    return bool(text) and _GUID.match(text) is not None


def _building_label(name: str, bid: str, position: int) -> str:
    name = unicodedata.normalize("NFKC", (name or "").strip())
    if _is_guid(name):
        name = ""
    if _CJK.search(name):
        return name
    for text in (name, bid):
        m = _BUILDING_NUM.match(unicodedata.normalize("NFKC", text or "").strip())
        if m and int(m.group(1)) > 0:
            return f"{int(m.group(1))}号楼"
    return name or f"{position}号楼"


def _letters(n: int) -> str:
    return chr(ord("A") + n) if n < 26 else f"{n + 1}号"


def _centroid(geom) -> tuple[float, float] | None:
    if geom is None or geom.is_empty:
        return None
    c = geom.centroid
    return (float(c.x), float(c.y))


@dataclass(frozen=True)
class Named:
    """One named element: ``name`` is unique within ``building``; ``full`` adds the building.

    ``kind`` is ``"stair"``, ``"exit"`` or ``"door"``; ``storeys`` the storey ids it is on
    (bottom to top for stairs); ``group`` the staircase name of a stair record (equal to
    ``name`` when the record is the whole staircase), else ``None``.
    """

    id: str
    kind: str
    building: str
    name: str
    full: str
    storeys: tuple[str, ...]
    group: str | None = None


class SiteNames:
    """The people's names of one community (see the module docstring for the rule).

    Attributes: ``buildings`` (building id → name), ``storeys`` (storey id → ``12F``),
    ``stairs``, ``exits`` and ``doors`` (lists of :class:`Named`, in model order; ``doors``
    holds the doors that are not exits).
    """

    def __init__(self, community: Community):
        self.community = community
        self.buildings = self._building_names(community)
        self.storeys: dict[str, str] = {}
        for b in community.buildings:
            self.storeys.update(self._storey_names(b.storeys))
        self._spaces = {s.id: s for s in community.spaces}
        self._z = {s.id: float(s.elevation_m) for s in community.storeys}
        self.stairs = self._stair_names(community)
        self._stair_of_space = self._stairs_in_spaces(community)
        self.exits, self.doors = self._door_names(community)

    # -- buildings and storeys --------------------------------------------------------------
    @staticmethod
    def _building_names(c: Community) -> dict[str, str]:
        labels = [_building_label(b.name, b.id, i) for i, b in enumerate(c.buildings, start=1)]
        return dict(zip([b.id for b in c.buildings], _unique_labels(labels)))

    @staticmethod
    def _storey_names(storeys) -> dict[str, str]:
        parsed = {s.id: storey_label(s.name) for s in storeys}
        labels = list(parsed.values())
        if storeys and None not in labels and len(set(labels)) == len(labels):
            return parsed  # type: ignore[return-value]
        order = sorted(storeys, key=lambda s: (float(s.elevation_m), s.id))
        ground = min(range(len(order)), key=lambda i: (abs(float(order[i].elevation_m)), i)) if order else 0
        return {s.id: (f"{i - ground + 1}F" if i >= ground else f"B{ground - i}") for i, s in enumerate(order)}

    # -- stairs -----------------------------------------------------------------------------
    def _stair_names(self, c: Community) -> list[Named]:
        by_building: dict[str, list[Stair]] = {}
        for st in c.stairs:
            by_building.setdefault(st.building_id, []).append(st)
        named: dict[str, Named] = {}
        for bid, stairs in by_building.items():
            for n in self._building_stairs(bid, stairs):
                named[n.id] = n
        return [named[st.id] for st in c.stairs]

    def _elev(self, sid: str) -> float:
        return self._z.get(sid, 0.0)

    def _building_stairs(self, bid: str, stairs: list[Stair]) -> list[Named]:
        groups: list[tuple[tuple[float, float] | None, str, list[Stair]]] = []
        for st in stairs:
            cen, key = _centroid(st.footprint), _STOREY_RANGE.sub("", st.name or "") or st.id
            for gcen, gkey, members in groups:
                if cen is not None and gcen is not None:
                    if (cen[0] - gcen[0]) ** 2 + (cen[1] - gcen[1]) ** 2 <= SAME_STAIR_M ** 2:
                        members.append(st)
                        break
                elif cen is None and gcen is None and key == gkey:
                    members.append(st)
                    break
            else:
                groups.append((cen, key, [st]))
        by_unit: dict[int | None, list] = {}
        for gcen, gkey, members in groups:
            units = [_unit_of(s.name, attributes=s.attributes) for s in members]
            unit = min((u for u in units if u is not None), default=None)
            by_unit.setdefault(unit, []).append((gcen or (float("inf"), float("inf")), gkey, members))
        out: list[Named] = []
        for unit, items in by_unit.items():
            items.sort(key=lambda g: (round(g[0][0], 1), round(g[0][1], 1), g[1]))
            for i, (_, _, members) in enumerate(items):
                label = f"{unit}单元 {_letters(i)}梯" if unit is not None else f"{_letters(i)}梯"
                whole = len(members) == 1
                for st in members:
                    sids = tuple(sorted(st.storey_ids, key=self._elev))
                    name = label
                    if not whole and sids:
                        lo, hi = self.storeys.get(sids[0], sids[0]), self.storeys.get(sids[-1], sids[-1])
                        name = f"{label} {lo}-{hi}" if lo != hi else f"{label} {lo}"
                    out.append(Named(st.id, "stair", bid, name, "", sids, label))
        return self._unique(bid, out)

    def _stairs_in_spaces(self, c: Community) -> dict[str, str]:
        """Stair space id → staircase name (a stair record's centroid inside the space)."""
        out: dict[str, str] = {}
        named = {n.id: n for n in self.stairs}
        on_storey: dict[str, list[Stair]] = {}
        for st in c.stairs:
            for sid in dict.fromkeys(st.storey_ids):
                on_storey.setdefault(sid, []).append(st)
        for sp in c.spaces:
            if (sp.usage or "").lower() not in _STAIR_USAGES or sp.footprint is None:
                continue
            area = None  # the space grown by 1 cm, made once per space (not once per stair)
            for st in on_storey.get(sp.storey_id, []):
                cen = _centroid(st.footprint)
                if cen is None:
                    continue
                area = area if area is not None else sp.footprint.buffer(0.01)
                if area.contains(_point(cen)):
                    out[sp.id] = named[st.id].group or named[st.id].name
                    break
        return out

    # -- spaces ------------------------------------------------------------------------------
    def space_label(self, space_id: str, *, site: bool = True) -> str:
        """Return the name people use for a space: ``[1号楼 ][2单元 ]1F 门厅``.

        ``site``: prefix the building's name (the site-wide form). The space part follows
        the rule of exits and doors (staircase letter for a stair space, else the long name
        without entrance, storey or code prefix, else the usage in Chinese).

        Raises
        ------
        NotFoundError
            ``space_id`` is not a space of the community.

        >>> from twin.model import Community
        >>> SiteNames(Community(name="empty")).space_label("nope")
        Traceback (most recent call last):
        ...
        twin.errors.NotFoundError: space_id='nope' is not a space of the community
        """
        sp = self._spaces.get(space_id)
        if sp is None:
            raise NotFoundError(f"space_id={space_id!r} is not a space of the community")
        unit = _unit_of(sp.long_name, sp.name, sp.id, attributes=sp.attributes)
        parts = (self.buildings.get(sp.building_id, sp.building_id) if site else "",
                 f"{unit}单元" if unit else "", self.storeys.get(sp.storey_id, ""), self._space_label(sp))
        return " ".join(p for p in parts if p)

    # -- exits and doors --------------------------------------------------------------------
    def _space_label(self, sp: Space | None) -> str:
        if sp is None:
            return "室外"
        if sp.id in self._stair_of_space:
            return self._stair_of_space[sp.id].split()[-1]
        text = unicodedata.normalize("NFKC", (sp.long_name or sp.name or "").strip())
        text = re.sub(r"^\s*\d+\s*单元\s*", "", text)
        text = re.sub(r"^\s*(?:\d+|B\d+)\s*层\s*", "", text)
        text = re.sub(r"^[A-Za-z0-9]+(?:-[A-Za-z0-9]+)+\s*", "", text)  # a code like B1-U1-F01-
        text = re.sub(r"^(?:F\d+|\d+F|B\d+)\s+", "", text.strip(), flags=re.IGNORECASE)
        text = text.strip() or (sp.usage or "")
        return _USAGE_ZH.get(text.casefold(), text) or "房间"

    def _door_names(self, c: Community) -> tuple[list[Named], list[Named]]:
        per_building: dict[str, list[Named]] = {}
        for d in c.doors:
            per_building.setdefault(d.building_id, []).append(self._door_named(d))
        named: dict[str, Named] = {}
        for bid, items in per_building.items():
            for n in self._unique(bid, items):
                named[n.id] = n
        exits = [named[d.id] for d in c.doors if named[d.id].kind == "exit"]
        doors = [named[d.id] for d in c.doors if named[d.id].kind == "door"]
        return exits, doors

    def _door_named(self, d: Door) -> Named:
        sides = [self._spaces.get(s) if s else None for s in d.spaces]
        inside = [s for s in sides if s is not None]
        is_exit = bool(d.is_exit or (None in d.spaces and d.spaces != (None, None)))
        if is_exit or len(inside) < 2:
            space = inside[0] if inside else None
        else:
            rank = [(sp.usage or "").lower() in _CIRCULATION for sp in inside]
            space = inside[rank.index(False)] if False in rank else inside[0]
        unit = _unit_of(space.long_name if space else None, space.name if space else None, d.name,
                        attributes=d.attributes)
        storey = self.storeys.get(d.storey_id, d.storey_id)
        label = self._space_label(space) if space is not None or is_exit else ("" if _is_guid(d.name) else d.name)
        name = " ".join(p for p in (f"{unit}单元" if unit else "", storey, label,
                                    "出口" if is_exit else "门") if p)
        return Named(d.id, "exit" if is_exit else "door", d.building_id, name, "", (d.storey_id,))

    def _unique(self, bid: str, items: list[Named]) -> list[Named]:
        out = []
        building = self.buildings.get(bid, bid)
        for n, name in zip(items, _unique_labels([n.name for n in items])):
            group = n.group if n.group != n.name else name
            out.append(Named(n.id, n.kind, n.building, name, f"{building} {name}", n.storeys, group))
        return out

    # -- resolving --------------------------------------------------------------------------
    def resolve(self, text: str, *, buildings: Iterable[str] | None = None,
                kinds: Iterable[str] = ("stair", "exit", "door")) -> list[str]:
        """Return the ids a person means by ``text``: an id, a name, a staircase name or the
        element's source name (the IFC ``Name``, e.g. ``B3-U1-S2 F11-F12``).

        ``buildings`` limits the scope (building ids; default all). Inside one building a
        name needs no building prefix; with several, an unprefixed name must be unique
        across them. A staircase name (``2单元 A梯``) returns every record of the staircase.

        Raises
        ------
        NotFoundError
            Unknown or ambiguous ``text``; the message names up to 5 closest candidates.
        """
        kinds = set(kinds)
        source = {e.id: e.name for e in (*self.community.stairs, *self.community.doors)}
        scope = set(buildings) if buildings else set(self.buildings)
        items = [n for n in (*self.stairs, *self.exits, *self.doors) if n.kind in kinds and n.building in scope]
        if any(n.id == text for n in items):
            return [text]
        key = normalize_name(text)
        for attr in ("full", "name"):
            hits = [n for n in items if normalize_name(getattr(n, attr)) == key]
            if not hits:
                hits = [n for n in items if n.group and normalize_name(
                    n.group if attr == "name" else f"{self.buildings[n.building]} {n.group}") == key]
            if not hits and attr == "name":  # the source name, e.g. IFC "B3-U1-S2 F11-F12"
                hits = [n for n in items if source.get(n.id) and normalize_name(source[n.id]) == key]
            if hits:
                bset = {n.building for n in hits}
                if len(bset) > 1:
                    cands = sorted({f"{self.buildings[n.building]} {n.group or n.name}" for n in hits})
                    raise NotFoundError(f"name {text!r} is ambiguous: it names {_listing(cands)}")
                return [n.id for n in hits]
        names = sorted({n.full for n in items} | {f"{self.buildings[n.building]} {n.group}" for n in items if n.group}
                       | ({n.name for n in items} | {n.group for n in items if n.group} if len(scope) == 1 else set()))
        by_key = {normalize_name(n): n for n in names}
        close = [by_key[k] for k in difflib.get_close_matches(key, list(by_key), n=5, cutoff=0.3)]
        hint = f"; closest: {_listing(close)}" if close else ""
        raise NotFoundError(f"no stair, exit or door named {text!r}{hint}")


def _unique_labels(labels: list[str]) -> list[str]:
    """Return ``labels`` with repeats (by :func:`normalize_name`) suffixed `` (2)``, `` (3)``..."""
    taken = {normalize_name(x) for x in labels}
    seen: set[str] = set()
    out = []
    for label in labels:
        name, k = label, 1
        while normalize_name(name) in seen or (k > 1 and normalize_name(name) in taken):
            k += 1
            name = f"{label} ({k})"
        seen.add(normalize_name(name))
        out.append(name)
    return out


def _listing(names: list[str]) -> str:
    shown = ", ".join(repr(n) for n in names[:5])
    return shown + (f" (+{len(names) - 5} more)" if len(names) > 5 else "")


def _point(xy: tuple[float, float]):
    from shapely.geometry import Point

    return Point(xy)
