"""Payload models: one pydantic model per device kind and channel, built from the kinds table.

:func:`decode` turns raw MQTT bytes into a validated :class:`Reading` or raises
:class:`live.errors.PayloadError` whose ``reason`` is the dead-letter reason.

Timestamps (``ts``): ISO 8601 text (a time without zone is taken as UTC) or epoch seconds
(a number above 1e11 is taken as epoch milliseconds). A ``ts`` more than ``max_future_s``
ahead of the receiver's clock is ``future_ts``; one older than ``max_age_s`` is ``stale_ts``.
"""

from __future__ import annotations

import json
import math
import sys

import orjson
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, ClassVar, Literal, Optional

from pydantic import (BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, StrictStr,
                      ValidationError, create_model, model_validator)

from live.errors import PayloadError
from live.kinds import KINDS, STATUS_FIELDS, DeviceKind, ValueField
from live.store import JSON_INT_RANGE, SEQ_RANGE

__all__ = ["MAX_PAYLOAD_BYTES", "MAX_TS_CHARS", "PayloadModel", "Reading", "decode", "parse_ts",
           "payload_model"]

#: Larger payloads are dead-lettered (``oversized``) before parsing.
MAX_PAYLOAD_BYTES = 64 * 1024
#: Longest ``ts`` text accepted (an ISO 8601 time with nanoseconds and zone is 35 characters).
MAX_TS_CHARS = 64
#: Integer literals with more digits than this are beyond every column; the parser keeps them
#: as text (:class:`_HugeInt`) instead of building the number.
_MAX_INT_DIGITS = 40
_FLOAT_MAX = sys.float_info.max


@dataclass
class Reading:
    """A validated message: device, channel, event time (epoch s), sequence and values."""

    device_id: str
    channel: str
    ts: float
    seq: int | None
    values: dict[str, Any]
    event: str | None = None
    online: bool | None = None
    received_at: float = 0.0
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def key(self) -> tuple[str, str, float, int]:
        """Idempotency key: device + channel + ts + seq (seq -1 when absent)."""
        return (self.device_id, self.channel, self.ts, -1 if self.seq is None else self.seq)


def _annotation(f: ValueField):
    if f.type == "float":
        # numbers: JSON ints are accepted for floats; strings and booleans are not
        return Optional[StrictFloat]
    if f.type == "int":
        return Optional[StrictInt]
    if f.type == "bool":
        return Optional[StrictBool]
    return Optional[Literal[f.choices]]  # type: ignore[valid-type]


def _field_default(f: ValueField):
    # ranges are checked by PayloadModel (kind range and column in one place)
    return Field(None, description=f"{f.description} [{f.unit}]" if f.unit else f.description)


class _HugeInt:
    """An integer literal too long for any column (kept as its text, never converted)."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return f"{self.text[:24]}... ({len(self.text.lstrip('-'))} digits)"


class PayloadModel(BaseModel):
    """Base of every payload model: bounds every number by its kind's range and its column.

    Before any field is validated, each number (JSON integer or float, not boolean) whose key
    has bounds in :attr:`bounds` must lie inside them, else the message is ``out_of_range``.
    The bounds of a key are the intersection of the kind's range (:mod:`live.kinds`) and the
    storage column (:data:`live.store.SEQ_RANGE` for ``seq``, :data:`live.store.JSON_INT_RANGE`
    for integer values, the double range for ``ts`` and float values), so a value that passes
    here always fits its column. Subclasses are built by :func:`payload_model`; they only add
    fields and set :attr:`bounds`.
    """

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, strict=False)

    #: key → (low, high, what the bound is): filled per kind and channel by payload_model.
    bounds: ClassVar[dict[str, tuple[float, float, str]]] = {}

    @model_validator(mode="before")
    @classmethod
    def _check_bounds(cls, data: Any) -> Any:
        bounds = cls.bounds
        for key, value in data.items():
            t = type(value)
            if t is _HugeInt:
                b = bounds.get(key)
                if b is not None:
                    raise PayloadError("out_of_range", f"{key}={value!r} is outside [{b[0]:g}, {b[1]:g}] ({b[2]})")
                if key in cls.model_fields:
                    raise PayloadError("wrong_type", f"{key}={value!r} is not a valid value")
            if t is int or t is float:
                if t is float and value == 0.0:
                    data[key] = 0.0  # -0.0 is zero: never stored as "-0.0"
                b = bounds.get(key)
                if b is not None and not (b[0] <= value <= b[1]):
                    if t is float and not math.isfinite(value):
                        raise PayloadError("not_finite", f"{key}={value!r} is not finite")
                    raise PayloadError("out_of_range", f"{key}={value!r} is outside [{b[0]:g}, {b[1]:g}] ({b[2]})")
        return data


def _bounds(kind_fields, channel: str) -> dict[str, tuple[float, float, str]]:
    """Per key: the kind's range intersected with the storage column's range."""
    lo64, hi64 = JSON_INT_RANGE
    out = {"seq": (SEQ_RANGE[0], SEQ_RANGE[1], "live_telemetry.seq, 64-bit integer"),
           "ts": (-_FLOAT_MAX, _FLOAT_MAX, "double precision")}
    for f in kind_fields:
        if f.type == "int":
            lo = lo64 if f.min is None else max(lo64, f.min)
            hi = hi64 if f.max is None else min(hi64, f.max)
            out[f.name] = (lo, hi, f"{f.name} range of the kind, 64-bit JSON integer")
        elif f.type == "float":
            lo = -_FLOAT_MAX if f.min is None else f.min
            hi = _FLOAT_MAX if f.max is None else f.max
            out[f.name] = (lo, hi, f"{f.name} range of the kind")
    return out


_MODELS: dict[tuple[str, str], type[BaseModel]] = {}
_META = frozenset({"ts", "seq", "event", "detail", "online"})


def payload_model(kind: DeviceKind, channel: str) -> type[BaseModel]:
    """Return (and cache) the pydantic model of ``kind``'s payloads on ``channel``."""
    key = (kind.name, channel)
    model = _MODELS.get(key)
    if model is not None:
        return model
    fields: dict[str, Any] = {
        "ts": (StrictFloat | StrictStr, Field(...)),
        "seq": (Optional[StrictInt], Field(None)),  # bounded by PayloadModel
    }
    if channel == "status":
        fields["online"] = (StrictBool, Field(...))
        value_fields = STATUS_FIELDS
    else:
        value_fields = kind.fields
        if channel == "event":
            fields["event"] = (Literal[kind.events] if kind.events else str, Field(...))  # type: ignore
            fields["detail"] = (Optional[str], Field(None, max_length=1000))
    for f in value_fields:
        fields[f.name] = (_annotation(f), _field_default(f))
    model = create_model(f"{kind.name}_{channel}", __base__=PayloadModel, **fields)
    model.bounds = _bounds(value_fields, channel)
    _MODELS[key] = model
    return model


def parse_ts(value: Any) -> float:
    """Return epoch seconds (UTC) of an ISO 8601 string or an epoch number.

    Raises
    ------
    PayloadError
        ``bad_ts`` when the value is neither.
    """
    if isinstance(value, bool):
        raise PayloadError("bad_ts", f"ts={value!r} is not a time")
    if isinstance(value, (int, float)):
        if not math.isfinite(value):
            raise PayloadError("not_finite", f"ts={value!r} is not finite")
        return float(value) / 1000.0 if value > 1e11 else float(value)
    if isinstance(value, str):
        text = value.strip()
        if len(text) > MAX_TS_CHARS or not text.isascii():
            # ISO 8601 is ASCII; Python's int() (and so a lenient parser) reads any Unicode digit
            raise PayloadError("bad_ts", f"ts={value[:MAX_TS_CHARS]!r} is not ISO 8601 (ASCII, at most "
                                         f"{MAX_TS_CHARS} characters) or epoch seconds")
        if text.endswith("Z") or text.endswith("z"):
            text = text[:-1] + "+00:00"
        try:
            dt = datetime.fromisoformat(text)
        except ValueError:
            raise PayloadError("bad_ts", f"ts={value!r} is not ISO 8601 or epoch seconds") from None
        if dt.year < 1970:
            raise PayloadError("bad_ts", f"ts={value!r} is before 1970")
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=timezone.utc)
        return dt.timestamp()
    raise PayloadError("bad_ts", f"ts={repr(value)[:80]} is not ISO 8601 or epoch seconds")


def _pairs(pairs: list[tuple[str, Any]]) -> dict:
    """``object_pairs_hook`` of the strict parser: a repeated key is refused."""
    out = dict(pairs)
    if len(out) != len(pairs):
        seen: set = set()
        dup = next(k for k, _ in pairs if k in seen or seen.add(k))
        raise PayloadError("duplicate_key", f"key {dup[:64]!r} appears more than once")
    return out


def _parse_int(text: str):
    return _HugeInt(text) if len(text) > _MAX_INT_DIGITS else int(text)


def _loads_strict(raw: bytes) -> Any:
    """Parse with the standard parser: NaN/Infinity and long integers are read (and refused
    later with their reason), repeated keys, invalid UTF-8, lone surrogates and nesting
    beyond the parser's depth are refused here."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PayloadError("not_json", f"payload is not UTF-8 (byte {exc.start}: {raw[exc.start:exc.start + 1]!r})") from None
    try:
        data = json.loads(text, object_pairs_hook=_pairs, parse_int=_parse_int)
    except RecursionError:
        raise PayloadError("too_deep", "JSON nested deeper than the parser allows") from None
    except ValueError as exc:
        raise PayloadError("not_json", f"payload is not JSON ({exc.__class__.__name__}: {str(exc)[:200]})") from None
    if isinstance(data, dict):
        for k, v in data.items():
            for s in (k, v):
                if isinstance(s, str) and not _encodable(s):
                    raise PayloadError("not_json", f"{k[:64]!r} holds a lone UTF-16 surrogate (not Unicode text)")
    return data


def _encodable(s: str) -> bool:
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _no_repeated_keys(raw: bytes, data: dict) -> bool:
    """True when ``raw`` (parsed by orjson into the flat ``data``) cannot hold a repeated key.

    orjson keeps the last of repeated keys silently. Without ``\\u`` escapes every ``:``
    outside a string separates a key from its value, and every ``:`` inside a string
    shows in the parsed text, so ``raw`` has exactly as many colons as the distinct keys
    plus the colons of their keys and text values when no key repeats (a repeated key adds
    at least one). Anything else (escapes, nested values) goes to the strict parser.
    """
    colons = raw.count(b":")
    if colons == len(data):  # one colon per key occurrence at least: no key repeats
        return True
    if b"\\u" in raw:
        return False
    expected = len(data)
    for k, v in data.items():
        if type(v) is str:
            expected += v.count(":")
        elif type(v) in (dict, list):
            return False
        expected += k.count(":")
    return colons == expected


def _loads(raw: bytes) -> Any:
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        if "depth limit" in str(exc):
            raise PayloadError("too_deep", f"JSON nested deeper than 1024 levels ({exc})") from None
        # the standard parser also reads NaN/Infinity (reported as not_finite) and long
        # integers (out_of_range); what it refuses too is not JSON
        return _loads_strict(raw)
    if type(data) is dict and not _no_repeated_keys(raw, data):
        return _loads_strict(raw)
    return data


def _reason_of(err: dict) -> str:
    etype = err.get("type", "")
    loc = err.get("loc") or ("?",)
    if etype == "missing":
        return "missing_ts" if loc[0] == "ts" else "missing_field"
    if etype == "extra_forbidden":
        return "unknown_field"
    if etype == "finite_number":
        return "not_finite"
    if etype in ("greater_than_equal", "less_than_equal", "greater_than", "less_than", "string_too_long"):
        return "out_of_range"
    if etype == "literal_error" and loc[0] == "event":
        return "unknown_event"
    return "wrong_type"


def decode(
    raw: bytes,
    *,
    device_id: str,
    channel: str,
    kind: DeviceKind,
    now: float,
    max_future_s: float = 300.0,
    max_age_s: float = 30 * 86400.0,
) -> Reading:
    """Validate raw payload bytes of one device message and return a :class:`Reading`.

    Parameters
    ----------
    raw : bytes
        MQTT payload.
    device_id, channel : str
        From the topic.
    kind : DeviceKind
        The registered device's kind.
    now : float
        Receiver clock, epoch seconds.
    max_future_s, max_age_s : float
        Accepted window of ``ts`` around ``now`` (s).

    Raises
    ------
    PayloadError
        With reason ``oversized``, ``not_json``, ``not_object``, ``missing_ts``, ``bad_ts``,
        ``future_ts``, ``stale_ts``, ``wrong_type``, ``not_finite``, ``out_of_range``,
        ``unknown_field``, ``unknown_event``, ``missing_field``, ``empty``, ``duplicate_key``
        or ``too_deep``.
    """
    if len(raw) > MAX_PAYLOAD_BYTES:
        raise PayloadError("oversized", f"payload of {len(raw)} bytes exceeds {MAX_PAYLOAD_BYTES}")
    data = _loads(raw)
    if not isinstance(data, dict):
        raise PayloadError("not_object", f"payload is a JSON {type(data).__name__}, not an object")
    model = payload_model(kind, channel)
    try:
        obj = model.model_validate(data)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        loc = ".".join(str(p) for p in err.get("loc", ())) or "payload"
        value = err.get("input")
        shown = repr(value)[:80] if err.get("type") != "missing" else "missing"
        raise PayloadError(_reason_of(err), f"{loc}={shown}: {err.get('msg')}") from None
    ts = parse_ts(obj.ts)
    if ts > now + max_future_s:
        raise PayloadError("future_ts", f"ts={data['ts']!r} is {ts - now:.0f} s ahead of the receiver clock")
    if ts < now - max_age_s:
        raise PayloadError("stale_ts", f"ts={data['ts']!r} is {now - ts:.0f} s old (max {max_age_s:.0f})")
    fields = obj.__dict__  # validated values; faster than model_dump on the hot path
    values = {k: v for k, v in fields.items() if v is not None and k not in _META}
    if channel == "telemetry" and not values:
        raise PayloadError("empty", f"telemetry carries none of {', '.join(kind.field_names)}")
    return Reading(
        device_id=device_id, channel=channel, ts=ts, seq=fields["seq"], values=values,
        event=fields.get("event"), online=fields.get("online"), received_at=now, raw=data,
    )
