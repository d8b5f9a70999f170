"""The device register of a site mapped onto the twin: id → kind and place, and topics.

Topics follow ``twin/{site}/{device_id}/{channel}``; the site segment is the community's
name. A device whose kind is not in :data:`live.kinds.KINDS` is kept in the register with
``kind_known=False``: its messages are dead-lettered with reason ``unknown_kind``.
"""

from __future__ import annotations

from dataclasses import dataclass

from live.errors import LiveError
from live.kinds import CHANNELS, DeviceKind, KINDS, resolve_kind
from twin.model import Community

__all__ = ["DeviceInfo", "DeviceRegistry", "topic_for", "parse_topic", "check_topic_segment"]

_BAD_TOPIC_CHARS = set("/+#\x00")


def check_topic_segment(value: str, what: str) -> str:
    """Return ``value`` if it is a valid MQTT topic segment, else raise LiveError."""
    if not value or any(ch in _BAD_TOPIC_CHARS for ch in value):
        raise LiveError(f"{what}={value!r} is not usable in an MQTT topic (empty or has / + # NUL)")
    return value


def topic_for(site: str, device_id: str, channel: str = "telemetry") -> str:
    """Return the topic ``twin/{site}/{device_id}/{channel}``."""
    return f"twin/{site}/{device_id}/{channel}"


def parse_topic(topic: str) -> tuple[str, str, str] | None:
    """Split ``twin/{site}/{device_id}/{channel}`` into (site, device_id, channel), or None."""
    parts = topic.split("/")
    if len(parts) != 4 or parts[0] != "twin" or not parts[1] or not parts[2]:
        return None
    if parts[3] not in CHANNELS:
        return None
    return parts[1], parts[2], parts[3]


@dataclass(frozen=True)
class DeviceInfo:
    """A registered device and where it sits in the twin (ids of building/storey/space)."""

    id: str
    kind: str
    name: str
    building: str | None
    storey: str | None
    space: str | None
    site: str

    @property
    def spec(self) -> DeviceKind | None:
        """The kind's declaration, or None for a kind the live layer does not know."""
        return KINDS.get(self.kind)

    @property
    def topic(self) -> str:
        """The device's telemetry topic."""
        return topic_for(self.site, self.id, "telemetry")

    def topics(self) -> dict[str, str]:
        """Topic per channel."""
        return {ch: topic_for(self.site, self.id, ch) for ch in CHANNELS}

    def to_dict(self) -> dict:
        """The ``twin devices list --json`` record."""
        return {"id": self.id, "kind": self.kind, "building": self.building,
                "storey": self.storey, "space": self.space, "topic": self.topic,
                "name": self.name, "topics": self.topics()}


class DeviceRegistry:
    """Registered devices of one site, looked up by id.

    Parameters
    ----------
    site : str
        Site name (topic segment).
    devices : iterable of DeviceInfo
    """

    def __init__(self, site: str, devices) -> None:
        self.site = check_topic_segment(site, "site")
        self._by_id: dict[str, DeviceInfo] = {}
        for d in devices:
            if d.id in self._by_id:
                raise LiveError(f"duplicate device id {d.id!r} in the register")
            self._by_id[d.id] = d

    @classmethod
    def from_community(cls, community: Community, site: str | None = None) -> "DeviceRegistry":
        """Build the register from the twin's devices; the site defaults to the community name.

        A device whose space is known but storey/building are not inherits them from the space.
        """
        site = site or community.name
        spaces = {s.id: s for s in community.spaces}
        infos = []
        for dev in community.devices:
            check_topic_segment(dev.id, "device id")
            storey, building = dev.storey_id, dev.building_id
            sp = spaces.get(dev.space_id) if dev.space_id else None
            if sp is not None:
                storey = storey or sp.storey_id
                building = building or sp.building_id
            kind = resolve_kind(dev.kind) or dev.kind
            infos.append(DeviceInfo(dev.id, kind, dev.name, building, storey, dev.space_id, site))
        return cls(site, infos)

    def get(self, device_id: str) -> DeviceInfo | None:
        """Return the device or None."""
        return self._by_id.get(device_id)

    def __contains__(self, device_id: str) -> bool:
        return device_id in self._by_id

    def __iter__(self):
        return iter(self._by_id.values())

    def __len__(self) -> int:
        return len(self._by_id)

    def subscription(self, group: str | None = None) -> str:
        """Topic filter of this site's devices, shared (``$share/{group}/...``) when grouped."""
        base = f"twin/{self.site}/+/+"
        return f"$share/{check_topic_segment(group, 'group')}/{base}" if group else base
