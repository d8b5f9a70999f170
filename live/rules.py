"""Declarative alarm rules (YAML or JSON, format in ``docs/alarms.md``) and their engine.

Rule types (exactly one per rule):

- ``condition``: ``{field, op, value}`` on a device's current values, optionally held for
  ``for_s`` seconds (``leak == true`` for 30 s);
- ``rate``: ``{field, window_s, rise}`` (or ``fall``): the value moved by at least that much
  within the window (temperature rise of 5 °C in 60 s);
- ``event``: a list of event names raising the alarm, ``clear_event`` clearing it;
- ``offline``: ``true``: the device went offline (last will or heartbeat timeout);
- ``all_of``: other rule ids whose conditions are all active in ONE space (or storey, for
  devices placed on a storey without a space) within
  ``window_s`` (smoke + temperature rise → fire); it clears when none of them is active.

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
from live.kinds import KINDS, resolve_kind
from live.payload import Reading
from live.state import DeviceState, LiveState, scope_of

__all__ = ["Rule", "RuleEngine", "load_rules", "parse_rules", "DEFAULT_RULES_PATH"]

#: The rules used when a site has no ``rules.yaml``.
DEFAULT_RULES_PATH = Path(__file__).with_name("default_rules.yaml")

OPS = {"==": operator.eq, "!=": operator.ne, ">": operator.gt, ">=": operator.ge,
       "<": operator.lt, "<=": operator.le}
SEVERITIES = ("info", "warning", "major", "critical")
_TYPES = ("condition", "rate", "event", "offline", "all_of")


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
    work_order: dict | None = None
    drill: bool = False

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
                           "clear_event", "work_order", "drill", "description"}
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
                work_order=spec.get("work_order"), drill=bool(spec.get("drill", False)))
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
                raise RulesError(f"rule {r.id!r}: all_of names unknown rule {ref!r}")
            if by_id[ref].type not in ("condition", "rate", "event"):
                raise RulesError(f"rule {r.id!r}: all_of member {ref!r} must be a condition, rate or event rule")
    return rules


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
    """

    def __init__(self, rules: list[Rule], state: LiveState, book: AlarmBook) -> None:
        self.rules = rules
        self.state = state
        self.book = book
        self._tracks: dict[tuple[str, str], _Track] = defaultdict(_Track)
        self._combos = [r for r in rules if r.type == "all_of"]
        self._members = {m for r in self._combos for m in r.all_of}

    # -- public -------------------------------------------------------------------------
    def on_reading(self, reading: Reading, st: DeviceState) -> None:
        """Evaluate every rule concerning the device of ``reading`` at time ``reading.ts``."""
        t = reading.ts
        for rule in self.rules:
            if rule.type == "all_of" or not rule.applies_to(st.kind):
                continue
            active = self._active(rule, reading, st, t)
            if active is None:
                continue
            self._update(rule, st, active, t)
        scope = scope_of(st)
        if scope is not None and self._combos:
            self._eval_combos(scope, t)

    def on_offline(self, st: DeviceState, t: float) -> None:
        """A device went offline without a message (heartbeat timeout)."""
        for rule in self.rules:
            if rule.type == "offline" and rule.applies_to(st.kind):
                self._update(rule, st, True, t)

    def tick(self, now: float) -> None:
        """Advance time: raise duration rules whose ``for_s`` elapsed, expire combinations."""
        for (rid, dev), tr in list(self._tracks.items()):
            rule = self._rule(rid)
            if rule is None or tr.since is None or rule.type == "all_of":
                continue
            st = self.state.get(dev)
            if st is not None and now - tr.since >= rule.for_s:
                self._raise(rule, st, tr.since + rule.for_s)
        if not self._combos:
            return
        scopes = {scope_of(self.state.get(dev)) for (_r, dev) in self._tracks if self.state.get(dev)}
        for scope in scopes:
            if scope is not None:
                self._eval_combos(scope, now)

    # -- internals ----------------------------------------------------------------------
    def _rule(self, rid: str) -> Rule | None:
        for r in self.rules:
            if r.id == rid:
                return r
        return None

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

    def _update(self, rule: Rule, st: DeviceState, active: bool, t: float) -> None:
        tr = self._tracks[(rule.id, st.device_id)]
        key = f"{rule.id}:{st.device_id}"
        if active:
            tr.last_true = t
            if tr.since is None:
                tr.since = t
            if t - tr.since >= rule.for_s:
                self._raise(rule, st, max(t, tr.since + rule.for_s) if rule.for_s == 0 else tr.since + rule.for_s)
        else:
            tr.since = None
            self.book.clear(key, t)

    def _raise(self, rule: Rule, st: DeviceState, at: float) -> None:
        key = f"{rule.id}:{st.device_id}"
        if self.book.open_for(key) is not None:
            return
        place = {"device_id": st.device_id, "building": st.building, "storey": st.storey, "space": st.space}
        self.book.raise_(rule_id=rule.id, key=key, severity=rule.severity, at=at,
                         message=_fmt(rule, place, st.values), place=place,
                         work_order=rule.work_order, drill=rule.drill)

    def _member_active(self, rid: str, members: list[DeviceState], t: float, window_s: float) -> bool:
        for st in members:
            tr = self._tracks.get((rid, st.device_id))
            if tr is None or tr.last_true is None:
                continue
            if tr.since is not None or t - tr.last_true <= window_s:
                return True
        return False

    def _eval_combos(self, scope: tuple[str, str], t: float) -> None:
        members = self.state.in_scope(scope)
        for combo in self._combos:
            key = f"{combo.id}:{scope[0]}:{scope[1]}"
            flags = [self._member_active(m, members, t, combo.window_s) for m in combo.all_of]
            if all(flags):
                if self.book.open_for(key) is None:
                    ref = members[0] if members else None
                    place = {"device_id": None, "space": scope[1] if scope[0] == "space" else None,
                             "storey": ref.storey if ref else None, "building": ref.building if ref else None}
                    self.book.raise_(rule_id=combo.id, key=key, severity=combo.severity, at=t,
                                     message=_fmt(combo, place, {}), place=place,
                                     work_order=combo.work_order, drill=combo.drill)
            elif not any(flags):
                self.book.clear(key, t)


class _SafeDict(dict):
    def __missing__(self, key):
        return "?"


def _fmt(rule: Rule, place: dict, values: dict) -> str:
    where = place.get("space") or place.get("storey") or place.get("building") or "?"
    try:
        return rule.message.format_map(_SafeDict(rule=rule.id, where=where, **place, **values))
    except (ValueError, IndexError):
        return rule.message
