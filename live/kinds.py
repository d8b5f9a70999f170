"""Every device kind of the live layer, declared once as data.

Ingestion (payload validation), the alarm rules (field names and units), the device
simulator (reporting period, ranges) and the viewer (labels, units) all read this table:
a new device kind is one :class:`DeviceKind` entry in :data:`KINDS`, nothing else.

Payload shape per channel (see ``docs/mqtt.md``):

- ``telemetry``: ``{"ts", "seq"?, <field>: value, ...}`` with one or more of the kind's
  fields (partial updates are allowed: controllers report on change);
- ``event``: ``{"ts", "seq"?, "event": <one of kind.events>, <field>: value, ...}``;
- ``status``: ``{"ts", "seq"?, "online": bool, "battery_pct"?, "rssi_dbm"?}`` (also the
  device's MQTT last-will message, ``online: false``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "CHANNELS",
    "STATUS_FIELDS",
    "DeviceKind",
    "ValueField",
    "KINDS",
    "KIND_ALIASES",
    "get_kind",
    "resolve_kind",
]

#: The MQTT topic channels: ``twin/{site}/{device_id}/{channel}``.
CHANNELS = ("telemetry", "event", "status")

FieldType = Literal["float", "int", "bool", "enum"]


@dataclass(frozen=True)
class ValueField:
    """One typed value a device kind reports.

    Parameters
    ----------
    name : str
        Key in the JSON payload; carries its unit as a suffix (``energy_kwh``).
    type : {"float", "int", "bool", "enum"}
        JSON type: number, integer, boolean or one of ``choices`` (string).
    unit : str or None
        SI or customary unit (``kWh``, ``m3``, ``degC``, ``%``); None for unitless.
    min, max : float or None
        Inclusive valid range; a value outside it is dead-lettered (``out_of_range``).
    choices : tuple of str
        Allowed strings of an ``enum`` field.
    counter : bool
        Monotonic cumulative counter (meter reading): the simulator only increases it and
        downsampling keeps the last value.
    """

    name: str
    type: FieldType = "float"
    unit: str | None = None
    min: float | None = None
    max: float | None = None
    choices: tuple[str, ...] = ()
    counter: bool = False
    description: str = ""


@dataclass(frozen=True)
class DeviceKind:
    """A device kind: its values, events, reporting period and liveness timeout.

    Parameters
    ----------
    name : str
        Kind id used in the device register (``kind`` column).
    device_class : str
        Broad class for the viewer and rules (``meter``, ``safety``, ``access``, ...).
    fields : tuple of ValueField
        Values of ``telemetry`` (and optionally ``event``) payloads.
    events : tuple of str
        Names allowed in ``event`` payloads.
    report_period_s : float
        Typical interval between telemetry reports (s); the simulator uses it.
    offline_after_s : float
        Heartbeat timeout (s): no message for this long marks the device offline.
    """

    name: str
    label: str
    device_class: str
    fields: tuple[ValueField, ...]
    events: tuple[str, ...] = ()
    report_period_s: float = 60.0
    offline_after_s: float = 3600.0
    aliases: tuple[str, ...] = ()

    def field(self, name: str) -> ValueField:
        """Return the value field ``name`` (KeyError when the kind has none)."""
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(f"kind {self.name!r} has no field {name!r}")

    @property
    def field_names(self) -> tuple[str, ...]:
        """Names of the kind's value fields, in declaration order."""
        return tuple(f.name for f in self.fields)

    def to_dict(self) -> dict:
        """JSON-ready description (served to the viewer and in ``docs/mqtt.md``)."""
        return {
            "name": self.name, "label": self.label, "device_class": self.device_class,
            "events": list(self.events), "report_period_s": self.report_period_s,
            "offline_after_s": self.offline_after_s,
            "fields": [
                {"name": f.name, "type": f.type, "unit": f.unit, "min": f.min, "max": f.max,
                 "choices": list(f.choices), "counter": f.counter, "description": f.description}
                for f in self.fields
            ],
        }


#: Values any device may add to a ``status`` message besides ``online``.
STATUS_FIELDS = (
    ValueField("battery_pct", "float", "%", 0, 100, description="battery charge"),
    ValueField("rssi_dbm", "float", "dBm", -150, 0, description="radio signal strength"),
)

_F = ValueField

KINDS: dict[str, DeviceKind] = {
    k.name: k
    for k in (
        DeviceKind(
            "meter_electricity", "Electricity meter", "meter",
            (_F("energy_kwh", "float", "kWh", 0, 1e9, counter=True, description="cumulative import"),
             _F("power_kw", "float", "kW", 0, 1000, description="instantaneous active power"),
             _F("voltage_v", "float", "V", 0, 1000)),
            events=("tamper", "power_loss", "power_restored"),
            report_period_s=900, offline_after_s=3 * 900, aliases=("meter_power", "electricity_meter"),
        ),
        DeviceKind(
            "meter_water", "Water meter", "meter",
            (_F("volume_m3", "float", "m3", 0, 1e7, counter=True, description="cumulative volume"),
             _F("flow_m3h", "float", "m3/h", 0, 100, description="instantaneous flow")),
            events=("tamper", "reverse_flow", "leak_suspected"),
            report_period_s=900, offline_after_s=3 * 900, aliases=("water_meter",),
        ),
        DeviceKind(
            "meter_gas", "Gas meter", "meter",
            (_F("volume_m3", "float", "m3", 0, 1e7, counter=True, description="cumulative volume"),
             _F("flow_m3h", "float", "m3/h", 0, 50)),
            events=("tamper", "valve_closed"),
            report_period_s=900, offline_after_s=3 * 900, aliases=("gas_meter",),
        ),
        DeviceKind(
            "smoke_detector", "Smoke detector", "safety",
            (_F("smoke", "bool", description="smoke alarm active"),
             _F("obscuration_pct_m", "float", "%/m", 0, 100, description="optical obscuration")),
            events=("alarm", "alarm_cleared", "test", "fault"),
            report_period_s=3600, offline_after_s=3 * 3600, aliases=("smoke",),
        ),
        DeviceKind(
            "leak_sensor", "Water leak sensor", "safety",
            (_F("leak", "bool", description="water detected"),),
            events=("leak", "dry"),
            report_period_s=3600, offline_after_s=3 * 3600, aliases=("water_leak",),
        ),
        DeviceKind(
            "temp_humidity", "Temperature / humidity sensor", "environment",
            (_F("temperature_c", "float", "degC", -40, 125),
             _F("humidity_pct", "float", "%", 0, 100)),
            report_period_s=300, offline_after_s=3 * 300, aliases=("temperature_humidity", "temperature", "thermometer"),
        ),
        DeviceKind(
            "people_counter", "People counter", "occupancy",
            (_F("count_in", "int", "people", 0, 10_000, description="entries in the period"),
             _F("count_out", "int", "people", 0, 10_000, description="exits in the period"),
             _F("period_s", "float", "s", 1, 86_400, description="counting period"),
             _F("total_in", "int", "people", 0, 1e9, counter=True, description="cumulative entries (counters that report totals)"),
             _F("total_out", "int", "people", 0, 1e9, counter=True, description="cumulative exits (counters that report totals)")),
            report_period_s=60, offline_after_s=600, aliases=("counter",),
        ),
        DeviceKind(
            "access_gate", "Access gate", "access",
            (_F("state", "enum", choices=("closed", "open", "held_open", "fault")),
             _F("passes", "int", "passes", 0, 10_000, description="passes in the period"),
             _F("direction", "enum", choices=("in", "out"), description="direction of a pass event (default in)")),
            events=("pass", "denied", "forced_open", "held_open", "fault"),
            report_period_s=60, offline_after_s=600, aliases=("gate", "door_access"),
        ),
        DeviceKind(
            "parking_barrier", "Parking barrier", "access",
            (_F("state", "enum", choices=("down", "up", "fault")),
             _F("occupied_spaces", "int", "spaces", 0, 100_000)),
            events=("entry", "exit", "denied", "fault"),
            report_period_s=60, offline_after_s=600, aliases=("barrier",),
        ),
        DeviceKind(
            "elevator_controller", "Elevator controller", "elevator",
            (_F("floor", "int", None, -10, 200, description="car position (storey index)"),
             _F("direction", "enum", choices=("up", "down", "idle")),
             _F("door", "enum", choices=("open", "closed", "opening", "closing")),
             _F("load_kg", "float", "kg", 0, 10_000),
             _F("speed_mps", "float", "m/s", 0, 20),
             _F("trips", "int", "trips", 0, 1e9, counter=True, description="cumulative trips"),
             _F("door_cycles", "int", "cycles", 0, 1e10, counter=True, description="cumulative door cycles"),
             _F("fault_code", "int", None, 0, 9999, description="0 = no fault (GB/T 24476 style)"),
             _F("in_service", "bool")),
            events=("trip", "door_reopen", "fault", "fault_cleared", "passenger_trapped", "alarm_button"),
            report_period_s=1, offline_after_s=60, aliases=("elevator",),
        ),
    )
}

#: Alternative names accepted in registers, mapped to a kind of :data:`KINDS`.
KIND_ALIASES: dict[str, str] = {alias: k.name for k in KINDS.values() for alias in k.aliases}


def resolve_kind(name: str) -> str | None:
    """Return the canonical kind name for ``name`` (alias or kind), or None if unknown."""
    key = (name or "").strip().lower()
    if key in KINDS:
        return key
    return KIND_ALIASES.get(key)


def get_kind(name: str) -> DeviceKind:
    """Return the :class:`DeviceKind` for a kind name or alias (KeyError if unknown)."""
    canonical = resolve_kind(name)
    if canonical is None:
        raise KeyError(f"unknown device kind {name!r}; known: {', '.join(sorted(KINDS))}")
    return KINDS[canonical]
