"""Declarative alarm rules (YAML or JSON, format in ``docs/alarms.md``) and their engine.

Rule types (exactly one per rule):

- ``condition``: ``{field, op, value}`` on a device's current values, optionally held for
  ``for_s`` seconds (``leak == true`` for 30 s);
- ``rate``: ``{field, window_s, rise}`` (or ``fall``): the value moved by at least that much
  within the window (temperature rise of 5 °C in 60 s);
- ``event``: a list of event names raising the alarm, ``clear_event`` clearing it;
- ``offline``: ``true``: the device went offline (last will or heartbeat timeout);
- ``all_of``: other rule ids whose conditions are all active in ONE place within
  ``window_s`` (smoke + temperature rise → fire); it clears when none of them is active;
- ``count``: ``{rule, min_devices}``: one rule active on at least that many devices of one
  place within ``window_s`` (two smoke detectors on one storey → confirmed fire: the
  two-signal confirmation fire alarm systems use before automatic linkage, GB 50116).

The place of ``all_of`` and ``count`` rules is their ``scope``: ``space`` (default of
``all_of``; a device placed on a storey without a space counts as its storey) or
``storey`` (default of ``count``).

Evaluation is in event time (the readings' ``ts``), so a hand-made timeline gives the same
alarms every time; :meth:`RuleEngine.tick` advances time without readings (a leak sensor
reports once, the 30 s pass in silence).
"""

from __future__ import annotations

import json
import operator
from collections import defaultdict, deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from live.alarms import AlarmBook
from live.errors import RulesError
from live.kinds import KINDS, fire_kinds, resolve_kind
from live.payload import Reading
from live.state import DeviceState, LiveState, scope_of

__all__ = ["Rule", "RuleEngine", "fire_rule_ids", "load_rules", "parse_rules", "DEFAULT_RULES_PATH"]

#: The rules used when a site has no ``rules.yaml``.
DEFAULT_RULES_PATH = Path(__file__).with_name("default_rules.yaml")

OPS = {"==": operator.eq, "!=": operator.ne, ">": operator.gt, ">=": operator.ge,
       "<": operator.lt, "<=": operator.le}
SEVERITIES = ("info", "warning", "major", "critical")
_TYPES = ("condition", "rate", "event", "offline", "all_of", "count")
_COMBOS = ("all_of", "count")


@dataclass
class Rule:
    """One parsed rule (see module docstring for the types)."""

    id: str
    type: str
    severity: str = "warning"
    message: str = "{rule} at {device_id} in {where}"
    kinds: tuple[str, ...] = ()
    field: str | None = None
    op: str = "=="
    value: Any = None
    for_s: float = 0.0
    window_s: float = 60.0
    rise: float | None = None
    fall: float | None = None
    events: tuple[str, ...] = ()
    clear_events: tuple[str, ...] = ()
    all_of: tuple[str, ...] = ()
    min_devices: int = 1
    scope: str = "space"
    work_order: dict | None = None
    drill: bool = False
    #: The text in Chinese and English (same placeholders as ``message``); None: not given.
    message_zh: str | None = None
    message_en: str | None = None

    def applies_to(self, kind: str) -> bool:
        return not self.kinds or kind in self.kinds


def _num(spec: dict, key: str, rid: str, default=None, positive=False):
    v = spec.get(key, default)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise RulesError(f"rule {rid!r}: {key}={v!r} must be a number")
    if positive and v <= 0:
        raise RulesError(f"rule {rid!r}: {key}={v!r} must be > 0")
    if v < 0:
        raise RulesError(f"rule {rid!r}: {key}={v!r} must be >= 0")
    return float(v)


def _text(spec: dict, key: str, rid: str) -> str | None:
    v = spec.get(key)
    if v is not None and (not isinstance(v, str) or not v.strip()):
        raise RulesError(f"rule {rid!r}: {key}={v!r} must be a non-empty string")
    return v


def _parse_one(spec: Any, index: int) -> Rule:
    if not isinstance(spec, dict):
        raise RulesError(f"rule #{index} is a {type(spec).__name__}, not a mapping")
    rid = spec.get("id")
    if not isinstance(rid, str) or not rid:
        raise RulesError(f"rule #{index}: id={rid!r} must be a non-empty string")
    present = [t for t in _TYPES if t in spec]
    if len(present) != 1:
        raise RulesError(f"rule {rid!r}: needs exactly one of {', '.join(_TYPES)} (has {present or 'none'})")
    known = set(_TYPES) | {"id", "severity", "message", "kinds", "kind", "for_s", "window_s",
                           "clear_event", "work_order", "drill", "description", "scope", "message_zh", "message_en"}
    extra = sorted(set(spec) - known)
    if extra:
        raise RulesError(f"rule {rid!r}: unknown key(s) {extra}")
    kinds_raw = spec.get("kinds", spec.get("kind", []))
    kinds_raw = [kinds_raw] if isinstance(kinds_raw, str) else list(kinds_raw or [])
    kinds = []
    for k in kinds_raw:
        canon = resolve_kind(k)
        if canon is None:
            raise RulesError(f"rule {rid!r}: kind={k!r} is not a device kind ({', '.join(sorted(KINDS))})")
        kinds.append(canon)
    severity = spec.get("severity", "warning")
    if severity not in SEVERITIES:
        raise RulesError(f"rule {rid!r}: severity={severity!r} must be one of {SEVERITIES}")
    rule = Rule(id=rid, type=present[0], severity=severity, kinds=tuple(kinds),
                message=str(spec.get("message", Rule.message)),
                for_s=_num(spec, "for_s", rid, 0.0), window_s=_num(spec, "window_s", rid, 60.0, positive=True),
                work_order=spec.get("work_order"), drill=bool(spec.get("drill", False)),
                message_zh=_text(spec, "message_zh", rid), message_en=_text(spec, "message_en", rid))
    if rule.work_order is not None and not isinstance(rule.work_order, dict):
        raise RulesError(f"rule {rid!r}: work_order={rule.work_order!r} must be a mapping")
    body = spec[rule.type]
    if rule.type == "condition":
        if not isinstance(body, dict) or "field" not in body or "value" not in body:
            raise RulesError(f"rule {rid!r}: condition={body!r} needs field, op and value")
        rule.field, rule.op, rule.value = body["field"], body.get("op", "=="), body["value"]
        if rule.op not in OPS:
            raise RulesError(f"rule {rid!r}: op={rule.op!r} must be one of {list(OPS)}")
    elif rule.type == "rate":
        if not isinstance(body, dict) or "field" not in body:
            raise RulesError(f"rule {rid!r}: rate={body!r} needs field and rise or fall")
        rule.field = body["field"]
        rule.window_s = _num(body, "window_s", rid, 60.0, positive=True)
        rule.rise, rule.fall = _num(body, "rise", rid), _num(body, "fall", rid)
        if (rule.rise is None) == (rule.fall is None):
            raise RulesError(f"rule {rid!r}: rate needs exactly one of rise, fall")
    elif rule.type == "event":
        rule.events = tuple([body] if isinstance(body, str) else body)
        ce = spec.get("clear_event", [])
        rule.clear_events = tuple([ce] if isinstance(ce, str) else ce)
    elif rule.type == "offline":
        if body is not True:
            raise RulesError(f"rule {rid!r}: offline={body!r} must be true")
    elif rule.type == "all_of":
        if not isinstance(body, list) or len(body) < 2:
            raise RulesError(f"rule {rid!r}: all_of={body!r} must list at least two rule ids")
        rule.all_of = tuple(body)
    elif rule.type == "count":
        if not isinstance(body, dict) or not isinstance(body.get("rule"), str):
            raise RulesError(f"rule {rid!r}: count={body!r} needs rule and min_devices")
        n = body.get("min_devices", 2)
        if isinstance(n, bool) or not isinstance(n, int) or n < 2:
            raise RulesError(f"rule {rid!r}: min_devices={n!r} must be an integer >= 2")
        rule.all_of, rule.min_devices = (body["rule"],), n
    if rule.type in _COMBOS:
        rule.scope = spec.get("scope", "space" if rule.type == "all_of" else "storey")
        if rule.scope not in ("space", "storey"):
            raise RulesError(f"rule {rid!r}: scope={rule.scope!r} must be space or storey")
    elif "scope" in spec:
        raise RulesError(f"rule {rid!r}: scope applies to all_of and count rules only")
    if rule.field is not None and rule.kinds:
        for k in rule.kinds:
            if rule.field not in KINDS[k].field_names:
                raise RulesError(f"rule {rid!r}: field={rule.field!r} is not a value of kind {k!r}")
    return rule


def parse_rules(doc: Any) -> list[Rule]:
    """Parse a rules document (``{"rules": [...]}``) and check cross references."""
    if not isinstance(doc, dict) or not isinstance(doc.get("rules"), list):
        raise RulesError("a rules file is a mapping with a list under 'rules'")
    rules = [_parse_one(spec, i) for i, spec in enumerate(doc["rules"])]
    ids = [r.id for r in rules]
    dup = sorted({i for i in ids if ids.count(i) > 1})
    if dup:
        raise RulesError(f"duplicate rule id(s) {dup}")
    by_id = {r.id: r for r in rules}
    for r in rules:
        for ref in r.all_of:
            if ref not in by_id:
                raise RulesError(f"rule {r.id!r}: {r.type} names unknown rule {ref!r}")
            if by_id[ref].type not in ("condition", "rate", "event"):
                raise RulesError(f"rule {r.id!r}: {r.type} member {ref!r} must be a condition, rate or event rule")
    return rules


def fire_rule_ids(rules: list[Rule]) -> set[str]:
    """Ids of the rules whose alarm means a fire or smoke (the kind table decides).

    A condition or rate rule on a fire signal field of a fire kind (``smoke`` of a smoke
    detector), an event rule on a fire signal event (``alarm``), and an ``all_of`` / ``count``
    rule with such a member. Offline and fault rules of the same kinds are not fires.
    """
    signals = fire_kinds()
    out: set[str] = set()
    for r in rules:
        kinds = [k for k in r.kinds if k in signals]
        if r.type in ("condition", "rate") and any(r.field in signals[k] for k in kinds):
            out.add(r.id)
        elif r.type == "event" and any(e in signals[k] for k in kinds for e in r.events):
            out.add(r.id)
    out |= {r.id for r in rules if r.type in _COMBOS and any(m in out for m in r.all_of)}
    return out


def load_rules(path: str | Path) -> list[Rule]:
    """Read a rules file (``.yaml``/``.yml`` or ``.json``)."""
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix.lower() == ".json":
            doc = json.loads(text)
        else:
            import yaml

            doc = yaml.safe_load(text)
    except Exception as exc:  # yaml.YAMLError, json.JSONDecodeError
        raise RulesError(f"{path.name}: not valid {path.suffix.lstrip('.') or 'YAML'}: {str(exc).splitlines()[0]}") from None
    return parse_rules(doc)


@dataclass
class _Track:
    """Per rule and device: when the condition became true / was last true."""

    since: float | None = None
    last_true: float | None = None
    points: deque = field(default_factory=deque)


class RuleEngine:
    """Evaluates rules on applied readings and drives the :class:`AlarmBook`.

    Parameters
    ----------
    rules : list of Rule
    state : LiveState
        Current device values (read after each reading is applied).
    book : AlarmBook
        Receives raise / clear transitions.
    shared : live.shared_rules.SharedCombos, optional
        Ingestion workers of one shared subscription: combination rules are evaluated from
        the member tracks every worker writes to the database, and a combination alarm is
        raised by exactly one worker (see :mod:`live.shared_rules`).
    """

    def __init__(self, rules: list[Rule], state: LiveState, book: AlarmBook, *, shared=None) -> None:
        self.rules = rules
        self.shared = shared
        #: (rule, device) member tracks active in the database (refreshed by ``tick``)
        self._shared_active: set[tuple[str, str]] = set()
        self.state = state
        self.book = book
        self._tracks: dict[tuple[str, str], _Track] = defaultdict(_Track)
        self._combos = [r for r in rules if r.type in _COMBOS]
        self._members = {m for r in self._combos for m in r.all_of}
        self._by_id = {r.id: r for r in rules}
        self._for_kind: dict[str, list[Rule]] = {}
        self._combo_kinds: dict[str, bool] = {}

    def _rules_for(self, kind: str) -> list[Rule]:
        rules = self._for_kind.get(kind)
        if rules is None:
            rules = [r for r in self.rules if r.type not in _COMBOS and r.applies_to(kind)]
            self._for_kind[kind] = rules
            self._combo_kinds[kind] = any(r.id in self._members for r in rules)
        return rules

    # -- public -------------------------------------------------------------------------
    def on_reading(self, reading: Reading, st: DeviceState) -> None:
        """Evaluate every rule concerning the device of ``reading`` at time ``reading.ts``."""
        t = reading.ts
        changed = False
        for rule in self._rules_for(st.kind):
            active = self._active(rule, reading, st, t)
            if active is None:
                continue
            changed = self._update(rule, st, active, t) or changed
        if self.shared is not None:
            if changed:  # only a member track that changed can complete or end a combination
                self._eval_scopes_of(st, t)
            return
        if self._combo_kinds.get(st.kind):
            for combo in self._combos:
                scope = scope_of(st, combo.scope)
                if scope is not None:
                    self._eval_combo(combo, scope, t)

    def on_offline(self, st: DeviceState, t: float) -> None:
        """A device went offline without a message (heartbeat timeout)."""
        for rule in self._rules_for(st.kind):
            if rule.type == "offline":
                self._update(rule, st, True, t)

    def _eval_scopes_of(self, st: DeviceState, t: float) -> None:
        for combo in self._combos:
            scope = scope_of(st, combo.scope)
            if scope is not None:
                self._eval_combo(combo, scope, t)

    def _tick_shared(self, now: float) -> None:
        """Workers: re-evaluate, from the database, the places with recent member activity
        and the places of this worker's open combination alarms (so they clear)."""
        shared = self.shared
        self._shared_active = shared.active()
        window = max(c.window_s for c in self._combos)
        scopes: set[tuple[str, tuple]] = set()
        for space_sc, storey_sc in shared.recent(now - window):
            for level, sc in (("space", space_sc), ("storey", storey_sc)):
                if sc is not None:
                    scopes.add((level, sc))
        for key in {*shared.claimed(), *self.book.open_keys()}:
            rid, _, rest = key.partition(":")
            kind, sep, ident = rest.partition(":")
            sc = (kind, ident) if sep else None
            combo = self._by_id.get(rid)
            if combo is not None and combo.type in _COMBOS and sc is not None:
                scopes.add((combo.scope, sc))
        for combo in self._combos:
            for level, sc in scopes:
                if level == combo.scope:
                    self._eval_combo(combo, sc, now)

    def tick(self, now: float) -> None:
        """Advance time: raise duration rules whose ``for_s`` elapsed, expire combinations."""
        for (rid, dev), tr in list(self._tracks.items()):
            rule = self._rule(rid)
            if rule is None or tr.since is None or rule.type in _COMBOS:
                continue
            st = self.state.get(dev)
            if st is not None and now - tr.since >= rule.for_s:
                self._raise(rule, st, tr.since + rule.for_s)
        if not self._combos:
            return
        if self.shared is not None:
            self._tick_shared(now)
            return
        devices = [self.state.get(dev) for (_r, dev) in self._tracks]
        for combo in self._combos:
            for scope in {scope_of(st, combo.scope) for st in devices if st is not None} - {None}:
                self._eval_combo(combo, scope, now)

    # -- internals ----------------------------------------------------------------------
    def _rule(self, rid: str) -> Rule | None:
        return self._by_id.get(rid)

    def _active(self, rule: Rule, reading: Reading, st: DeviceState, t: float) -> bool | None:
        """Whether the rule's condition holds now; None when this reading says nothing."""
        if rule.type == "condition":
            if rule.field not in st.values:
                return None
            try:
                return bool(OPS[rule.op](st.values[rule.field], rule.value))
            except TypeError:
                return False
        if rule.type == "rate":
            if rule.field not in reading.values:
                return None
            tr = self._tracks[(rule.id, st.device_id)]
            tr.points.append((t, float(reading.values[rule.field])))
            while tr.points and tr.points[0][0] < t - rule.window_s:
                tr.points.popleft()
            vals = [v for _, v in tr.points]
            cur = vals[-1]
            if rule.rise is not None:
                return cur - min(vals) >= rule.rise
            return max(vals) - cur >= rule.fall
        if rule.type == "event":
            if reading.channel != "event":
                return None
            if reading.event in rule.events:
                return True
            if reading.event in rule.clear_events:
                return False
            return None
        if rule.type == "offline":
            if reading.channel == "status" or st.online is True:
                return st.online is False
        return None

    def _update(self, rule: Rule, st: DeviceState, active: bool, t: float) -> bool:
        """Update a track; return whether a member track changed in the shared database."""
        tr = self._tracks[(rule.id, st.device_id)]
        key = f"{rule.id}:{st.device_id}"
        was = tr.since is not None
        if active:
            tr.last_true = t
            if tr.since is None:
                tr.since = t
            if t - tr.since >= rule.for_s:
                self._raise(rule, st, max(t, tr.since + rule.for_s) if rule.for_s == 0 else tr.since + rule.for_s)
        else:
            tr.since = None
            self.book.clear(key, t)
        if self.shared is None or rule.id not in self._members:
            return False
        if not active and not was and (rule.id, st.device_id) not in self._shared_active:
            return False  # inactive here and on every worker: nothing to write
        self._shared_active.discard((rule.id, st.device_id))
        self.shared.write_track(rule.id, st.device_id, (scope_of(st, "space"), scope_of(st, "storey")),
                                tr.since, tr.last_true)
        return True

    def _raise(self, rule: Rule, st: DeviceState, at: float) -> None:
        key = f"{rule.id}:{st.device_id}"
        if self.book.open_for(key) is not None:
            return
        place = {"device_id": st.device_id, "building": st.building, "storey": st.storey, "space": st.space}
        names = self.state.registry.names
        self.book.raise_(rule_id=rule.id, key=key, severity=rule.severity, at=at,
                         message=_fmt(rule, place, st.values, names), place=place,
                         work_order=rule.work_order, drill=rule.drill,
                         messages=_texts(rule, place, st.values, names))

    def _member_count(self, rid: str, members: list[DeviceState], t: float, window_s: float) -> int:
        """Devices of ``members`` whose rule ``rid`` is active or was within ``window_s``."""
        n = 0
        for st in members:
            tr = self._tracks.get((rid, st.device_id))
            if tr is None or tr.last_true is None:
                continue
            if tr.since is not None or t - tr.last_true <= window_s:
                n += 1
        return n

    def _eval_combo(self, combo: Rule, scope: tuple[str, str], t: float) -> None:
        members = self.state.in_scope(scope)
        key = f"{combo.id}:{scope[0]}:{scope[1]}"
        shared = self.shared
        if shared is not None:
            counts = [shared.member_count(m, combo.scope, scope, t, combo.window_s) for m in combo.all_of]
        else:
            counts = [self._member_count(m, members, t, combo.window_s) for m in combo.all_of]
        if all(c >= combo.min_devices for c in counts):
            if self.book.open_for(key) is None and (shared is None or shared.claim(key, t)):
                ref = members[0] if members else None
                place = {"device_id": None, "space": scope[1] if scope[0] == "space" else None,
                         "storey": ref.storey if ref else None, "building": ref.building if ref else None}
                self.book.raise_(rule_id=combo.id, key=key, severity=combo.severity, at=t,
                                 message=_fmt(combo, place, {}, self.state.registry.names), place=place,
                                 work_order=combo.work_order, drill=combo.drill,
                                 messages=_texts(combo, place, {}, self.state.registry.names))
        elif not any(counts):
            if shared is not None:
                shared.release(key)
            self.book.clear(key, t)


class _SafeDict(dict):
    def __missing__(self, key):
        return "?"


def _where(place: dict, names: dict[str, str]) -> str:
    """``building storey space`` by display name (ids where no name is known)."""
    parts = [names.get(place[k], place[k]) for k in ("building", "storey", "space") if place.get(k)]
    return " ".join(parts) or "?"


def _fmt(rule: Rule, place: dict, values: dict, names: dict[str, str] | None = None,
         template: str | None = None) -> str:
    where = _where(place, names or {})
    template = rule.message if template is None else template
    try:
        return template.format_map(_SafeDict(rule=rule.id, where=where, **place, **values))
    except (ValueError, IndexError):
        return template


def _texts(rule: Rule, place: dict, values: dict, names: dict[str, str]) -> dict[str, str | None]:
    """``{"zh", "en"}``: the rule's Chinese and English texts, filled in (None when not given)."""
    return {lang: (_fmt(rule, place, values, names, t) if t else None)
            for lang, t in (("zh", rule.message_zh), ("en", rule.message_en))}
