"""Exceptions of the live layer (MQTT ingestion, rules, simulator)."""

from twin.errors import TwinError

__all__ = ["LiveError", "PayloadError", "RulesError", "AlarmError", "ScenarioError", "BrokerError"]


class LiveError(TwinError):
    """Base class of every error of the live layer."""


class PayloadError(LiveError):
    """A message cannot be applied; ``reason`` is its dead-letter reason (see docs/mqtt.md).

    Parameters
    ----------
    reason : str
        One of :data:`live.ingest.DEAD_LETTER_REASONS`.
    detail : str
        Human text that names the bad value.
    """

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class RulesError(LiveError):
    """An alarm rules file is invalid (message names the rule and the bad value)."""


class AlarmError(LiveError):
    """An alarm operation is not allowed (unknown id, acknowledging a cleared alarm...)."""


class ScenarioError(LiveError):
    """A simulator incident (``fire:B3:12``) cannot be parsed or placed."""


class BrokerError(LiveError):
    """The broker URL is invalid or the broker cannot be reached."""
