"""Every device kind of the twin, declared once as data.

One :class:`DeviceKind` entry says everything the rest of the code knows about a kind:

- its **values** (:class:`ValueField`: name, type, unit, range, counter) and **events**, each
  with a **severity** (``alarm``, ``warning``, ``clear``, ``info``: how the viewer and the
  control room colour it);
- the **IFC classes** it maps from (:class:`IfcMatch`: class, predefined type, a name
  pattern for kinds IFC has no predefined type for) and the class the sample generator
  writes for it, with its Chinese label;
- the device simulator's **profile** (which stream generator drives it and its parameters);
- the **billing utility** a meter of this kind feeds (``electricity``, ``water``, ``gas``).

Ingestion (payload validation), the alarm rules (field names), the device simulator, the
IFC device mapper (``bim/devices.py``), the sample generator, billing and the viewer
(through ``GET /api/live/kinds``) all read this table: a new device kind is one entry here.

:data:`KINDS` holds the kinds that report over MQTT; :data:`PASSIVE_KINDS` the kinds an IFC
model may contain that report nothing (sprinklers, pumps, valves ...): the twin places them,
the live layer ignores them.

Payload shape per channel (see ``docs/mqtt.md``):

- ``telemetry``: ``{"ts", "seq"?, <field>: value, ...}`` with one or more of the kind's
  fields (partial updates are allowed: controllers report on change);
- ``event``: ``{"ts", "seq"?, "event": <one of kind.events>, <field>: value, ...}``;
- ``status``: ``{"ts", "seq"?, "online": bool, "battery_pct"?, "rssi_dbm"?}`` (also the
  device's MQTT last-will message, ``online: false``).

This module imports nothing else of the repository (it lives in ``twin/`` so that ``bim/``
and ``live/`` both read it without importing each other).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator, Literal, Mapping

__all__ = [
    "CHANNELS",
    "ELEVATOR_NAME_PATTERN",
    "EVENT_SEVERITIES",
    "SIM_PROFILES",
    "STATUS_FIELDS",
    "UTILITIES",
    "DeviceKind",
    "IfcMatch",
    "ValueField",
    "KINDS",
    "KIND_ALIASES",
    "PASSIVE_KINDS",
    "all_kinds",
    "fire_kinds",
    "get_kind",
    "kinds_feeding",
    "kinds_markdown",
    "resolve_kind",
]

#: The MQTT topic channels: ``twin/{site}/{device_id}/{channel}``.
CHANNELS = ("telemetry", "event", "status")

#: Severity of a device event, lowest first: ``info`` (nothing to see), ``clear`` (a
#: condition ended: back to normal), ``warning`` (a minor fault), ``alarm`` (act now).
EVENT_SEVERITIES = ("info", "clear", "warning", "alarm")

#: Utilities a meter may feed (the fee rules price them per billing unit).
UTILITIES = ("electricity", "water", "gas")

#: Stream generators of the device simulator (``live/simulator.py``); ``random`` draws each
#: field inside its range, so a new kind is simulated without code.
SIM_PROFILES = ("energy_meter", "volume_meter", "people_counter", "access_gate", "parking_barrier",
                "climate", "smoke", "leak", "elevator", "random")

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
    alarm_if, warn_if : str or None
        When a reported value puts the device in alarm (or warning) in the viewer:
        ``"true"`` / ``"false"`` (a boolean), ``">0"`` (a number above zero) or
        ``"=<choice>"`` (an enum value).
    """

    name: str
    type: FieldType = "float"
    unit: str | None = None
    min: float | None = None
    max: float | None = None
    choices: tuple[str, ...] = ()
    counter: bool = False
    description: str = ""
    alarm_if: str | None = None
    warn_if: str | None = None


@dataclass(frozen=True)
class IfcMatch:
    """An IFC element that is a device of this kind.

    ``ifc_class`` is the element's effective class (``IfcSensor``); ``predefined_type`` its
    predefined type (None: any); ``name_pattern`` a regular expression searched (case
    blind) in the element's name, tag and object type — for kinds IFC has no predefined
    type for (an elevator controller is an ``IfcController`` named "电梯 ..."). Name rules
    are tried before class rules, in table order.
    """

    ifc_class: str
    predefined_type: str | None = None
    name_pattern: str | None = None


@dataclass(frozen=True)
class DeviceKind:
    """A device kind: values, events and severities, IFC mapping, simulator profile, utility.

    Parameters
    ----------
    name : str
        Kind id used in the device register (``kind`` column).
    label : str
        English label; ``label_zh`` the Chinese one (written into generated IFC names).
    device_class : str
        Broad class for the viewer and rules (``meter``, ``safety``, ``access``, ``elevator``...).
    fields : tuple of ValueField
        Values of ``telemetry`` (and optionally ``event``) payloads; empty for a passive kind.
    events : tuple of str
        Names allowed in ``event`` payloads.
    severities : mapping of str to str
        Severity (one of :data:`EVENT_SEVERITIES`) of each event; an event not named is
        ``info``.
    report_period_s : float
        Typical interval between telemetry reports (s).
    offline_after_s : float
        Heartbeat timeout (s): no message for this long marks the device offline.
    ifc : tuple of IfcMatch
        IFC elements that are devices of this kind.
    ifc_write : (str, str) or None
        ``(class, predefined type)`` the sample generator writes for the kind.
    sim_profile : str or None
        Generator of the device simulator (one of :data:`SIM_PROFILES`); None: not simulated.
    sim_params : mapping
        Parameters of that generator (``period_s`` overrides ``report_period_s``).
    utility : str or None
        Utility a meter of this kind feeds (one of :data:`UTILITIES`); None for non-meters.
    fire_signals : tuple of str
        Value fields and event names of this kind that signal a fire or smoke (a rule on one
        of them is a fire alarm: the control room forecasts the building's evacuation).
    """

    name: str
    label: str
    device_class: str
    fields: tuple[ValueField, ...] = ()
    events: tuple[str, ...] = ()
    report_period_s: float = 60.0
    offline_after_s: float = 3600.0
    aliases: tuple[str, ...] = ()
    severities: Mapping[str, str] = field(default_factory=dict)
    label_zh: str = ""
    ifc: tuple[IfcMatch, ...] = ()
    ifc_write: tuple[str, str] | None = None
    sim_profile: str | None = None
    sim_params: Mapping[str, Any] = field(default_factory=dict)
    utility: str | None = None
    fire_signals: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for event, sev in dict(self.severities).items():
            if event not in self.events:
                raise ValueError(f"kind {self.name!r}: severity of event={event!r}, which is not one of its events")
            if sev not in EVENT_SEVERITIES:
                raise ValueError(f"kind {self.name!r}: severity={sev!r} of {event!r} must be one of {EVENT_SEVERITIES}")
        if self.sim_profile is not None and self.sim_profile not in SIM_PROFILES:
            raise ValueError(f"kind {self.name!r}: sim_profile={self.sim_profile!r} must be one of {SIM_PROFILES}")
        for sig in self.fire_signals:
            if sig not in self.events and sig not in {f.name for f in self.fields}:
                raise ValueError(f"kind {self.name!r}: fire signal {sig!r} is neither a field nor an event of it")
        if self.utility is not None and self.utility not in UTILITIES:
            raise ValueError(f"kind {self.name!r}: utility={self.utility!r} must be one of {UTILITIES}")
        # frozen and hashable: the mappings are kept as sorted tuples of pairs
        object.__setattr__(self, "severities", tuple(sorted(dict(self.severities).items())))
        object.__setattr__(self, "sim_params", tuple(sorted(dict(self.sim_params).items())))

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

    def severity(self, event: str) -> str:
        """Return the severity of ``event`` (``info`` for an event declared without one)."""
        return dict(self.severities).get(event, "info")

    def sim_param(self, name: str, default: Any = None) -> Any:
        """Return the simulator parameter ``name`` (``default`` when not set)."""
        return dict(self.sim_params).get(name, default)

    def to_dict(self) -> dict:
        """JSON-ready description (served to the viewer at ``GET /api/live/kinds``)."""
        return {
            "name": self.name, "label": self.label, "label_zh": self.label_zh,
            "device_class": self.device_class,
            "events": list(self.events),
            "event_severities": {e: self.severity(e) for e in self.events},
            "report_period_s": self.report_period_s, "offline_after_s": self.offline_after_s,
            "aliases": list(self.aliases), "utility": self.utility, "sim_profile": self.sim_profile,
            "fire_signals": list(self.fire_signals),
            "ifc": [{"class": m.ifc_class, "predefined_type": m.predefined_type, "name_pattern": m.name_pattern}
                    for m in self.ifc],
            "fields": [
                {"name": f.name, "type": f.type, "unit": f.unit, "min": f.min, "max": f.max,
                 "choices": list(f.choices), "counter": f.counter, "description": f.description,
                 "alarm_if": f.alarm_if, "warn_if": f.warn_if}
                for f in self.fields
            ],
        }


#: Values any device may add to a ``status`` message besides ``online``.
STATUS_FIELDS = (
    ValueField("battery_pct", "float", "%", 0, 100, description="battery charge"),
    ValueField("rssi_dbm", "float", "dBm", -150, 0, description="radio signal strength"),
)

_F = ValueField
_M = IfcMatch

#: Names of elevators and lifts in IFC models (English, Chinese, German, French, Spanish).
ELEVATOR_NAME_PATTERN = r"elevat|\blifts?\d*\b|电梯|升降梯|aufzug|ascenseur|ascensor"

#: The kinds that report over MQTT. Order matters only for IFC name rules: the first kind
#: whose name pattern matches wins (an "elevator access controller" is an elevator's).
KINDS: dict[str, DeviceKind] = {
    k.name: k
    for k in (
        DeviceKind(
            "meter_electricity", "Electricity meter", "meter",
            (_F("energy_kwh", "float", "kWh", 0, 1e9, counter=True, description="cumulative import"),
             _F("power_kw", "float", "kW", 0, 1000, description="instantaneous active power"),
             _F("voltage_v", "float", "V", 0, 1000)),
            events=("tamper", "power_loss", "power_restored"),
            severities={"tamper": "alarm", "power_loss": "alarm", "power_restored": "clear"},
            report_period_s=900, offline_after_s=3 * 900, aliases=("meter_power", "electricity_meter"),
            label_zh="电表", ifc=(_M("IfcFlowMeter", "ENERGYMETER"), _M("IfcFlowMeter", "ELECTRICMETER")),
            ifc_write=("IfcFlowMeter", "ENERGYMETER"),
            sim_profile="energy_meter", sim_params={"mean_kw": 0.35}, utility="electricity",
        ),
        DeviceKind(
            "meter_water", "Water meter", "meter",
            (_F("volume_m3", "float", "m3", 0, 1e7, counter=True, description="cumulative volume"),
             _F("flow_m3h", "float", "m3/h", 0, 100, description="instantaneous flow")),
            events=("tamper", "reverse_flow", "leak_suspected"),
            severities={"tamper": "alarm", "reverse_flow": "alarm", "leak_suspected": "alarm"},
            report_period_s=900, offline_after_s=3 * 900, aliases=("water_meter",),
            label_zh="水表", ifc=(_M("IfcFlowMeter", "WATERMETER"),), ifc_write=("IfcFlowMeter", "WATERMETER"),
            sim_profile="volume_meter", sim_params={"mean_m3h": 0.02}, utility="water",
        ),
        DeviceKind(
            "meter_gas", "Gas meter", "meter",
            (_F("volume_m3", "float", "m3", 0, 1e7, counter=True, description="cumulative volume"),
             _F("flow_m3h", "float", "m3/h", 0, 50)),
            events=("tamper", "valve_closed"),
            severities={"tamper": "alarm", "valve_closed": "warning"},
            report_period_s=900, offline_after_s=3 * 900, aliases=("gas_meter",),
            label_zh="燃气表", ifc=(_M("IfcFlowMeter", "GASMETER"),), ifc_write=("IfcFlowMeter", "GASMETER"),
            sim_profile="volume_meter", sim_params={"mean_m3h": 0.01}, utility="gas",
        ),
        DeviceKind(
            "smoke_detector", "Smoke detector", "safety",
            (_F("smoke", "bool", description="smoke alarm active", alarm_if="true"),
             _F("obscuration_pct_m", "float", "%/m", 0, 100, description="optical obscuration")),
            events=("alarm", "alarm_cleared", "test", "fault"),
            severities={"alarm": "alarm", "fault": "alarm", "alarm_cleared": "clear", "test": "clear"},
            report_period_s=3600, offline_after_s=3 * 3600, aliases=("smoke",),
            label_zh="烟感", ifc=(_M("IfcSensor", "SMOKESENSOR"), _M("IfcSensor", "FIRESENSOR")),
            ifc_write=("IfcSensor", "SMOKESENSOR"), sim_profile="smoke",
            fire_signals=("smoke", "obscuration_pct_m", "alarm"),
        ),
        DeviceKind(
            "leak_sensor", "Water leak sensor", "safety",
            (_F("leak", "bool", description="water detected", alarm_if="true"),),
            events=("leak", "dry"), severities={"leak": "alarm", "dry": "clear"},
            report_period_s=3600, offline_after_s=3 * 3600, aliases=("water_leak",),
            label_zh="漏水传感器", ifc=(_M("IfcSensor", "MOISTURESENSOR"),),
            ifc_write=("IfcSensor", "MOISTURESENSOR"), sim_profile="leak",
        ),
        DeviceKind(
            "temp_humidity", "Temperature / humidity sensor", "environment",
            (_F("temperature_c", "float", "degC", -40, 125),
             _F("humidity_pct", "float", "%", 0, 100)),
            report_period_s=300, offline_after_s=3 * 300, aliases=("temperature_humidity", "temperature", "thermometer"),
            label_zh="温湿度", ifc=(_M("IfcSensor", "TEMPERATURESENSOR"), _M("IfcSensor", "HUMIDITYSENSOR")),
            ifc_write=("IfcSensor", "TEMPERATURESENSOR"), sim_profile="climate",
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
             _F("fault_code", "int", None, 0, 9999, description="0 = no fault (GB/T 24476 style)", alarm_if=">0"),
             _F("in_service", "bool", warn_if="false"),
             _F("vibration_rms", "float", "m/s2", 0, 50,
                description="RMS car vibration over the last run (healthy 0.05-0.3)"),
             _F("leveling_error_mm", "float", "mm", 0, 500,
                description="absolute stopping (leveling) error of the last stop (healthy 0-10)"),
             _F("motor_temp_c", "float", "degC", -40, 200,
                description="motor / drive temperature (healthy 20-80)")),
            events=("trip", "door_reopen", "fault", "fault_cleared", "passenger_trapped", "alarm_button"),
            severities={"fault": "alarm", "passenger_trapped": "alarm", "alarm_button": "alarm",
                        "fault_cleared": "clear", "door_reopen": "warning"},
            report_period_s=1, offline_after_s=60, aliases=("elevator",),
            label_zh="电梯控制器",
            ifc=(_M("IfcController", None, ELEVATOR_NAME_PATTERN),
                 _M("IfcUnitaryControlElement", None, ELEVATOR_NAME_PATTERN)),
            ifc_write=("IfcController", "PROGRAMMABLE"),
            sim_profile="elevator", sim_params={"period_s": 30.0},
        ),
        DeviceKind(
            "people_counter", "People counter", "occupancy",
            (_F("count_in", "int", "people", 0, 10_000, description="entries in the period"),
             _F("count_out", "int", "people", 0, 10_000, description="exits in the period"),
             _F("period_s", "float", "s", 1, 86_400, description="counting period"),
             _F("total_in", "int", "people", 0, 1e9, counter=True, description="cumulative entries (counters that report totals)"),
             _F("total_out", "int", "people", 0, 1e9, counter=True, description="cumulative exits (counters that report totals)")),
            report_period_s=60, offline_after_s=600, aliases=("counter",),
            label_zh="客流计数",
            ifc=(_M("IfcSensor", None, r"people.?count|passenger.?count|客流|人流|计数"),
                 _M("IfcController", None, r"people.?count|passenger.?count|客流|人流|计数")),
            ifc_write=("IfcSensor", "MOVEMENTSENSOR"), sim_profile="people_counter",
        ),
        DeviceKind(
            "parking_barrier", "Parking barrier", "access",
            (_F("state", "enum", choices=("down", "up", "fault"), alarm_if="=fault"),
             _F("occupied_spaces", "int", "spaces", 0, 100_000)),
            events=("entry", "exit", "denied", "fault"),
            severities={"fault": "alarm", "denied": "warning"},
            report_period_s=60, offline_after_s=600, aliases=("barrier",),
            label_zh="道闸",
            ifc=(_M("IfcSensor", None, r"barrier|道闸|车闸|挡车"),
                 _M("IfcController", None, r"barrier|道闸|车闸|挡车"),
                 _M("IfcActuator", None, r"barrier|道闸|车闸|挡车")),
            ifc_write=("IfcActuator", "ELECTRICACTUATOR"), sim_profile="parking_barrier",
        ),
        DeviceKind(
            "access_gate", "Access gate", "access",
            (_F("state", "enum", choices=("closed", "open", "held_open", "fault"), alarm_if="=fault"),
             _F("passes", "int", "passes", 0, 10_000, description="passes in the period"),
             _F("direction", "enum", choices=("in", "out"), description="direction of a pass event (default in)")),
            events=("pass", "denied", "forced_open", "held_open", "fault"),
            severities={"forced_open": "alarm", "fault": "alarm", "held_open": "warning", "denied": "warning"},
            report_period_s=60, offline_after_s=600, aliases=("gate", "door_access"),
            label_zh="门禁",
            ifc=(_M("IfcSensor", None, r"access|门禁|闸机|turnstile"),
                 _M("IfcController", None, r"access|门禁|闸机|turnstile"),
                 _M("IfcActuator", None, r"access|门禁|闸机|turnstile"),
                 _M("IfcSensor", "IDENTIFIERSENSOR")),  # card / tag readers at entrances
            ifc_write=("IfcSensor", "IDENTIFIERSENSOR"), sim_profile="access_gate",
        ),
    )
}


def _passive(name: str, label: str, device_class: str, *matches: IfcMatch) -> DeviceKind:
    return DeviceKind(name, label, device_class, ifc=matches)


#: Kinds an IFC model may hold that report nothing over MQTT: placed in the twin, not live.
PASSIVE_KINDS: dict[str, DeviceKind] = {
    k.name: k
    for k in (
        _passive("heat_detector", "Heat detector", "safety", _M("IfcSensor", "HEATSENSOR")),
        _passive("gas_detector", "Gas detector", "safety", _M("IfcSensor", "GASSENSOR")),
        _passive("air_quality", "Air quality sensor", "environment", _M("IfcSensor", "CO2SENSOR")),
        _passive("motion_sensor", "Motion sensor", "occupancy", _M("IfcSensor", "MOVEMENTSENSOR")),
        _passive("light_sensor", "Light sensor", "environment", _M("IfcSensor", "LIGHTSENSOR")),
        _passive("sensor", "Sensor", "sensor", _M("IfcSensor")),
        _passive("alarm", "Alarm", "safety", _M("IfcAlarm")),
        _passive("meter", "Meter", "meter", _M("IfcFlowMeter")),
        _passive("sprinkler", "Sprinkler", "fire", _M("IfcFireSuppressionTerminal", "SPRINKLER")),
        _passive("fire_hydrant", "Fire hydrant", "fire", _M("IfcFireSuppressionTerminal", "FIREHYDRANT")),
        _passive("hose_reel", "Hose reel", "fire", _M("IfcFireSuppressionTerminal", "HOSEREEL")),
        _passive("fire_suppression", "Fire suppression terminal", "fire", _M("IfcFireSuppressionTerminal")),
        _passive("controller", "Controller", "control", _M("IfcController")),
        _passive("actuator", "Actuator", "control", _M("IfcActuator")),
        _passive("control_panel", "Control panel", "control", _M("IfcUnitaryControlElement")),
        _passive("instrument", "Instrument", "control", _M("IfcFlowInstrument")),
        _passive("pump", "Pump", "plant", _M("IfcPump")),
        _passive("fan", "Fan", "plant", _M("IfcFan")),
        _passive("valve", "Valve", "plant", _M("IfcValve")),
        _passive("light", "Light", "lighting", _M("IfcLightFixture")),
        _passive("communications", "Communications appliance", "communications", _M("IfcCommunicationsAppliance")),
        _passive("camera_or_av", "Camera / audio-visual appliance", "communications", _M("IfcAudioVisualAppliance")),
    )
}


def all_kinds() -> Iterator[DeviceKind]:
    """Yield every kind: the reporting ones (:data:`KINDS`), then :data:`PASSIVE_KINDS`."""
    yield from KINDS.values()
    yield from PASSIVE_KINDS.values()


def fire_kinds() -> dict[str, tuple[str, ...]]:
    """Return ``{kind name: its fire signals}`` for the kinds that report a fire or smoke."""
    return {k.name: k.fire_signals for k in KINDS.values() if k.fire_signals}


def _aliases() -> dict[str, str]:
    return {alias: k.name for k in KINDS.values() for alias in k.aliases}


#: Alternative names accepted in registers, mapped to a kind of :data:`KINDS`.
KIND_ALIASES: dict[str, str] = _aliases()


def resolve_kind(name: str) -> str | None:
    """Return the canonical kind name for ``name`` (alias or kind), or None if unknown."""
    key = (name or "").strip().lower()
    if key in KINDS:
        return key
    return KIND_ALIASES.get(key) or _aliases().get(key)


def get_kind(name: str) -> DeviceKind:
    """Return the :class:`DeviceKind` for a kind name or alias (KeyError if unknown)."""
    canonical = resolve_kind(name)
    if canonical is None:
        raise KeyError(f"unknown device kind {name!r}; known: {', '.join(sorted(KINDS))}")
    return KINDS[canonical]


def kinds_feeding(utility: str) -> tuple[str, ...]:
    """Return the kinds whose meters feed ``utility`` (``electricity``, ``water``, ``gas``)."""
    if utility not in UTILITIES:
        raise KeyError(f"utility={utility!r} must be one of {', '.join(UTILITIES)}")
    return tuple(k.name for k in KINDS.values() if k.utility == utility)


def _num(x: float | None) -> str:
    return "" if x is None else f"{x:g}"


def kinds_markdown() -> str:
    """The ``## Device kinds`` section of ``docs/mqtt.md``, rendered from this table."""
    out = ["## Device kinds", "",
           "Declared once in `twin/kinds.py` (`live.kinds` re-exports it) and served at "
           "`GET /api/live/kinds`. Event severities: `alarm` (act now), `warning` (a minor "
           "fault), `clear` (a condition ended), `info` (nothing to see; events not listed "
           "with a severity). *alarm if* / *warn if*: the value that puts the device in alarm "
           "or warning in the viewer.", ""]
    for k in KINDS.values():
        out += [f"### `{k.name}` — {k.label} ({k.device_class})", ""]
        facts = [f"Report period {_num(k.report_period_s)} s; offline after {_num(k.offline_after_s)} s of silence."]
        if k.aliases:
            facts.append("Aliases: " + ", ".join(f"`{a}`" for a in k.aliases) + ".")
        if k.utility:
            facts.append(f"Feeds the `{k.utility}` utility (billing).")
        ifc = ", ".join(f"`{m.ifc_class}`" + (f" `{m.predefined_type}`" if m.predefined_type else "")
                        + (f" named `/{m.name_pattern}/`" if m.name_pattern else "") for m in k.ifc)
        if ifc:
            facts.append(f"IFC: {ifc}.")
        if k.sim_profile:
            facts.append(f"Simulator profile `{k.sim_profile}`.")
        if k.label_zh:
            facts.append(f"中文: {k.label_zh}.")
        out += [" ".join(facts), "",
                "| field | type | unit | range | alarm if / warn if | notes |",
                "|---|---|---|---|---|---|"]
        for f in k.fields:
            lo_hi = " … ".join([_num(f.min), _num(f.max)]) if f.type != "enum" and (f.min is not None or f.max is not None) \
                else (" / ".join(f.choices) if f.type == "enum" else "")
            cond = " / ".join(x for x in (f.alarm_if and f"alarm {f.alarm_if}", f.warn_if and f"warn {f.warn_if}") if x)
            note = f.description + (" (cumulative)" if f.counter else "")
            out.append(f"| `{f.name}` | {f.type} | {f.unit or ''} | {lo_hi} | {cond} | {note} |")
        if k.events:
            out += ["", "Events: " + ", ".join(f"`{e}` ({k.severity(e)})" for e in k.events) + "."]
        out.append("")
    out += ["### Kinds that report nothing", "",
            "Devices an IFC model may hold that the twin places but the live layer ignores: "
            + ", ".join(f"`{k.name}` ({', '.join(m.ifc_class + (' ' + m.predefined_type if m.predefined_type else '') for m in k.ifc)})"
                        for k in PASSIVE_KINDS.values()) + ".", ""]
    return "\n".join(out)
