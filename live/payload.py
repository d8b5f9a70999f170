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

import orjson
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Literal, Optional

from pydantic import (BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, StrictStr,
                      ValidationError, create_model)

from live.errors import PayloadError
from live.kinds import KINDS, STATUS_FIELDS, DeviceKind, ValueField

__all__ = ["MAX_PAYLOAD_BYTES", "Reading", "decode", "parse_ts", "payload_model"]

#: Larger payloads are dead-lettered (``oversized``) before parsing.
MAX_PAYLOAD_BYTES = 64 * 1024


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
    kwargs = {}
    if f.min is not None:
        kwargs["ge"] = f.min
    if f.max is not None:
        kwargs["le"] = f.max
    return Field(None, description=f"{f.description} [{f.unit}]" if f.unit else f.description, **kwargs)


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
        "seq": (Optional[StrictInt], Field(None, ge=0)),
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
    config = ConfigDict(extra="forbid", allow_inf_nan=False, strict=False)
    model = create_model(f"{kind.name}_{channel}", __config__=config, **fields)
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
        if text.endswith("Z") or text.endswith("z"):
            text = text[:-1] + "+00:00"
        try:
            dt = datetime.fromisoformat(text)
        except ValueError:
            raise PayloadError("bad_ts", f"ts={value!r} is not ISO 8601 or epoch seconds") from None
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=timezone.utc)
        return dt.timestamp()
    raise PayloadError("bad_ts", f"ts={value!r} is not ISO 8601 or epoch seconds")


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
        ``unknown_field``, ``unknown_event``, ``missing_field`` or ``empty``.
    """
    if len(raw) > MAX_PAYLOAD_BYTES:
        raise PayloadError("oversized", f"payload of {len(raw)} bytes exceeds {MAX_PAYLOAD_BYTES}")
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        # the standard parser also reads NaN/Infinity (reported as not_finite) and integers
        # beyond 64 bits; what it refuses too is not JSON
        try:
            data = json.loads(raw)
        except (UnicodeDecodeError, ValueError) as exc:
            raise PayloadError("not_json", f"payload is not JSON ({exc.__class__.__name__}: {exc})") from None
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
