"""Daily risk scoring and preventive work-order requests.

:func:`score_day` scores every elevator as of a date and returns :class:`Risk` records;
:class:`RiskLog` keeps each day's risks in a JSON file for the viewer (one entry per
date, rewritten atomically); :func:`work_order_requests` turns risks above a threshold
into plain preventive work-order requests that the operations service files (category
电梯, common area). Nothing here talks to a database or a broker: ``services/`` wires it.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from sim.elevators.errors import ParameterError, TelemetryError
from sim.elevators.features import FEATURES, compute_features
from sim.elevators.model import RiskModel
from sim.elevators.telemetry import to_grid

__all__ = ["Risk", "RiskLog", "attach_risks", "score_day", "work_order_requests",
           "DEFAULT_THRESHOLD"]

#: Default P(failure within 7 days) at or above which a preventive work order is requested:
#: chosen by ``benchmarks/elevator_threshold.py`` on tuning fleets (seeds 11 and 12, 200
#: elevators × 400 days) as the threshold with the largest worst-seed margin to both
#: closed-loop targets (≥ 70 % of failures preceded, ≤ 1 false order per 10 elevator-months);
#: evaluated on other seeds by ``benchmarks/closed_loop.py`` (docs/elevators.md).
DEFAULT_THRESHOLD = 0.50

#: Precursor features named as the reason of a request, with a human label.
_REASONS = {
    "reopen_z_3": "door reopens above the elevator's baseline",
    "fault_z_3": "fault codes above the elevator's baseline",
    "vibration_z_3": "car vibration above baseline",
    "leveling_z_3": "leveling error above baseline",
}


@dataclass(frozen=True)
class Risk:
    """The 7-day failure risk of one elevator on one day, with the strongest precursor."""

    elevator_id: str
    date: str
    p_fail_7d: float
    reason: str


def score_day(model: RiskModel, telemetry: pd.DataFrame, as_of: dt.date) -> list[Risk]:
    """Score every elevator that has reported by ``as_of`` (highest risk first).

    Raises
    ------
    TelemetryError
        ``as_of`` outside the telemetry period.
    """
    scores = model.predict(telemetry, as_of)
    grid = to_grid(telemetry)
    feats = compute_features(grid)[:, grid.day_index(as_of), :]
    row = {eid: i for i, eid in enumerate(grid.ids)}
    out = []
    for eid, p in zip(scores["elevator_id"], scores["p_fail_7d"]):
        z = {k: feats[row[eid], FEATURES.index(k)] for k in _REASONS}
        z = {k: v for k, v in z.items() if np.isfinite(v)}
        top = max(z, key=z.get) if z else None
        reason = _REASONS[top] if top is not None and z[top] > 2.0 else "wear and usage"
        out.append(Risk(eid, as_of.isoformat(), round(float(p), 6), reason))
    return sorted(out, key=lambda r: (-r.p_fail_7d, r.elevator_id))


def work_order_requests(risks: list[Risk], threshold: float = DEFAULT_THRESHOLD) -> list[dict]:
    """Return a preventive work-order request for each risk at or above ``threshold``.

    Each request is a plain dict: ``kind`` ("preventive"), ``category`` ("电梯"), ``scope``
    ("public"), ``priority`` ("紧急" at or above halfway from the threshold to certainty,
    ``(1 + threshold) / 2``, else "急修"), ``asset_id``
    (the elevator), ``title``, ``description``, ``p_fail_7d``, ``due`` (ISO date, within
    2 days), ``source`` ("elevator-risk") and ``dedupe_key`` (one open request per
    elevator per day).
    """
    if not 0.0 < threshold <= 1.0:
        raise ParameterError(f"threshold={threshold} must be in (0, 1]")
    out = []
    for r in risks:
        if r.p_fail_7d < threshold:
            continue
        day = dt.date.fromisoformat(r.date)
        out.append({
            "kind": "preventive", "category": "电梯", "scope": "public",
            "priority": "紧急" if r.p_fail_7d >= (1.0 + threshold) / 2 else "急修",
            "asset_id": r.elevator_id,
            "title": f"电梯预防性检修 {r.elevator_id}: 7-day failure risk {r.p_fail_7d:.0%}",
            "description": f"Risk model: P(failure within 7 days) = {r.p_fail_7d:.3f}; {r.reason}.",
            "p_fail_7d": r.p_fail_7d, "due": (day + dt.timedelta(days=2)).isoformat(),
            "source": "elevator-risk", "dedupe_key": f"elevator-risk:{r.elevator_id}:{r.date}",
        })
    return out


class RiskLog:
    """Daily risks kept in one JSON file ``{"schema", "days": {date: [risk, ...]}}``.

    Writing a day replaces that day only; other days are kept. Writes go to a temporary
    file renamed over the old one, so a crash never leaves a half-written log.
    """

    SCHEMA = "twin.elevators.risk-log/1"

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def _read(self) -> dict:
        if not self.path.exists():
            return {"schema": self.SCHEMA, "days": {}}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise TelemetryError(f"risk log {str(self.path)!r} is not JSON: {exc}") from None
        if data.get("schema") != self.SCHEMA:
            raise TelemetryError(f"risk log {str(self.path)!r} is not a {self.SCHEMA} file")
        return data

    def write_day(self, date: dt.date, risks: list[Risk]) -> None:
        """Store the risks of ``date`` (replacing any earlier scoring of that day)."""
        data = self._read()
        data["days"][date.isoformat()] = [asdict(r) for r in risks]
        data["days"] = dict(sorted(data["days"].items()))
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, ensure_ascii=False)
        os.replace(tmp, self.path)

    def day(self, date: dt.date) -> list[Risk]:
        """Risks stored for ``date`` (empty when the day was not scored)."""
        return [Risk(**r) for r in self._read()["days"].get(date.isoformat(), [])]

    def latest(self) -> tuple[str | None, list[Risk]]:
        """The last scored date and its risks (``(None, [])`` when empty)."""
        days = self._read()["days"]
        if not days:
            return None, []
        last = max(days)
        return last, [Risk(**r) for r in days[last]]


def attach_risks(community, risks: list[Risk]) -> int:
    """Put each risk on the twin element with its id, for the viewer; return how many matched.

    An elevator (``Community.elevators``) or a device (``Community.devices``) whose id is the
    risk's ``elevator_id`` gets ``attributes["risk"] = {"p_fail_7d", "date", "reason"}``.
    """
    by_id = {e.id: e for e in community.elevators}
    by_id.update({d.id: d for d in community.devices})
    matched = 0
    for r in risks:
        element = by_id.get(r.elevator_id)
        if element is not None:
            element.attributes["risk"] = {"p_fail_7d": r.p_fail_7d, "date": r.date,
                                          "reason": r.reason}
            matched += 1
    return matched

