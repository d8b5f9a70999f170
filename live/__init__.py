"""Live device streams: MQTT ingestion, device kinds, live state, alarms, simulator.

Public API (see docs/mqtt.md and docs/alarms.md).
"""

from live.alarms import Alarm, AlarmBook, DrillSuggestion, WorkOrderRequest, WorkOrderSink
from live.broker import BrokerURL, EmbeddedBroker, parse_mqtt_url
from live.errors import AlarmError, BrokerError, LiveError, PayloadError, RulesError, ScenarioError
from live.ingest import DEAD_LETTER_REASONS, Pipeline
from live.kinds import CHANNELS, KINDS, DeviceKind, ValueField, get_kind, resolve_kind
from live.payload import MAX_PAYLOAD_BYTES, Reading, decode
from live.registry import DeviceInfo, DeviceRegistry, parse_topic, topic_for
from live.rules import DEFAULT_RULES_PATH, Rule, RuleEngine, load_rules, parse_rules
from live.shared_rules import SharedCombos
from live.state import DeviceState, LiveState
from live.store import LIVE_METADATA, LiveStore

__all__ = [
    "Alarm", "AlarmBook", "AlarmError", "BrokerError", "BrokerURL", "CHANNELS", "DEAD_LETTER_REASONS",
    "DEFAULT_RULES_PATH", "DeviceInfo", "DeviceKind", "DeviceRegistry", "DeviceState",
    "DrillSuggestion", "EmbeddedBroker", "KINDS", "LIVE_METADATA", "LiveError", "LiveState",
    "LiveStore", "MAX_PAYLOAD_BYTES", "PayloadError", "Pipeline", "Reading", "Rule", "RuleEngine",
    "RulesError", "ScenarioError", "SharedCombos", "ValueField", "WorkOrderRequest", "WorkOrderSink", "decode",
    "get_kind", "load_rules", "parse_mqtt_url", "parse_rules", "parse_topic", "resolve_kind",
    "topic_for",
]
