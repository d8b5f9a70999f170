"""What a drill report shows, as plain numbers: queueing per storey, people out per exit.

**Queueing time per storey.** From the trajectories (positions every ``every_s`` seconds
of the people on floors), a person *queues* on a storey during an interval between two
consecutive frames on that storey when their speed over the interval is below
``slow_mps`` (:data:`SLOW_MPS`, 0.2 m/s — about a seventh of a free walking speed of
1.34 m/s) **after they have started to move**: the standing still of pre-movement (before
a person first walks faster than ``slow_mps``, or first arrives on a storey by a stair)
is not queueing. For each storey: ``people`` (persons seen on it), ``queue_person_s``
(their queueing time summed, person-seconds), ``mean_s`` (``queue_person_s / people``,
the storey's colour in the render) and ``max_s`` (the longest of one person).

**People out per exit.** ``exit_flow`` counts from the result's ``agents`` (exit and exit
time of every person): the curve of exit E at time t is the number of people who entered
E's area at or before t, on a grid of ``step_s`` seconds from 0 to the last exit time.

**Two drills side by side.** ``compare_drills`` sets the times of drill A and drill B
against each other: the whole site (``evacuation_time_s``), per building (its last person
out), per exit (its last person out) and per staircase (the last person out of its
flights: the latest ``last_s`` of the stair links whose id is the stair's or
``<stair>/<lo>-<hi>``). Each row holds ``a_s``, ``b_s`` and ``diff_s = b_s − a_s``
(None when either is missing: not in that drill, or nobody used it).
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["CMAP", "NO_DATA_RGB", "SLOW_MPS", "compare_drills", "exit_flow", "queue_colour", "storey_queueing"]

#: Below this speed (m/s) a person who has started to move is queueing.
SLOW_MPS = 0.2
#: Matplotlib colour map of queueing time (light yellow = none, dark red = the longest).
CMAP = "YlOrRd"
#: Colour of a storey without people (no queueing figure), RGB 0..1.
NO_DATA_RGB = (0.78, 0.78, 0.78)


def storey_queueing(trajectories: dict, *, slow_mps: float = SLOW_MPS) -> dict[str, dict]:
    """Return per floor id ``{"people", "queue_person_s", "mean_s", "max_s"}`` (seconds).

    Parameters
    ----------
    trajectories : dict
        The trajectories JSON of a run (``every_s``, ``agents``, ``floors``, ``frames`` of
        ``{"t", "i", "f", "x", "y"}``), see docs/evacuation.md.
    slow_mps : float
        Speed (m/s) below which a moving person counts as queueing.

    Floors nobody stood on get ``people`` 0 and ``None`` figures.
    """
    every = float(trajectories.get("every_s") or 0.0)
    if not every > 0:
        raise ValueError(f"trajectories every_s={trajectories.get('every_s')!r} must be > 0")
    floors = list(trajectories.get("floors", []))
    n, nf = len(trajectories.get("agents", [])), len(floors)
    prev_f = np.full(n, -1, dtype=np.int64)
    prev_t = np.full(n, -np.inf)
    prev_x, prev_y = np.zeros(n), np.zeros(n)
    started = np.zeros(n, dtype=bool)
    entered, q_keys, q_dt = [], [], []  # memory in proportion to floor changes and queueing frames
    for fr in trajectories.get("frames", []):
        t = float(fr["t"])
        i = np.asarray(fr["i"], dtype=np.int64)
        f = np.asarray(fr["f"], dtype=np.int64)
        x, y = np.asarray(fr["x"], dtype=float), np.asarray(fr["y"], dtype=float)
        if i.size == 0:
            continue
        dt = t - prev_t[i]
        same = (prev_f[i] == f) & (dt > 0) & (dt <= 1.5 * every)
        speed = np.where(same, np.hypot(x - prev_x[i], y - prev_y[i]) / np.where(dt > 0, dt, 1.0), np.inf)
        queue = same & (speed < slow_mps) & started[i]
        q_keys.append(f[queue] * n + i[queue])
        q_dt.append(dt[queue])
        arrived = (prev_f[i] >= 0) & (prev_f[i] != f)  # came down or up a stair: on the move
        started[i[(same & (speed >= slow_mps)) | arrived]] = True
        new = prev_f[i] != f
        entered.append(f[new] * n + i[new])
        prev_f[i], prev_t[i], prev_x[i], prev_y[i] = f, t, x, y
    people = np.zeros(nf, dtype=np.int64)
    queued_s, longest = np.zeros(nf), np.zeros(nf)  # queueing seconds per floor (not money)
    if entered:
        people = np.bincount(np.unique(np.concatenate(entered)) // max(n, 1), minlength=nf)
    if q_keys and sum(k.size for k in q_keys):
        keys, inv = np.unique(np.concatenate(q_keys), return_inverse=True)
        per = np.bincount(inv, weights=np.concatenate(q_dt))  # seconds per (floor, person)
        queued_s = np.bincount(keys // n, weights=per, minlength=nf)
        np.maximum.at(longest, keys // n, per)
    out = {}
    for k, fid in enumerate(floors):
        p = int(people[k])
        out[fid] = {"people": p, "queue_person_s": round(float(queued_s[k]), 4),
                    "mean_s": round(float(queued_s[k]) / p, 4) if p else None,
                    "max_s": round(float(longest[k]), 4) if p else None}
    return out


def exit_flow(result: dict, *, step_s: float = 1.0) -> dict:
    """Return ``{"t_s": [...], "exits": {exit id: [people out by t]}}`` from a result.

    Every exit of ``result["exits"]`` gets a curve (all zeros when nobody used it); the
    grid runs from 0 to the last exit time rounded up to ``step_s``.
    """
    if not step_s > 0:
        raise ValueError(f"step_s={step_s!r} must be > 0")
    times: dict[str, list[float]] = {e: [] for e in result.get("exits", {})}
    for a in result.get("agents", []):
        if a.get("exit") is not None and a.get("exit_time_s") is not None:
            times.setdefault(a["exit"], []).append(float(a["exit_time_s"]))
    last = max((max(v) for v in times.values() if v), default=0.0)
    grid = np.arange(0, int(math.ceil(last / step_s - 1e-9)) + 1) * step_s
    return {"t_s": [round(float(t), 6) for t in grid],
            "exits": {e: np.searchsorted(np.sort(v), grid + 1e-9, side="right").tolist() for e, v in times.items()}}


def queue_colour(value: float | None, vmax: float) -> tuple[float, float, float]:
    """Return the RGB (0..1) of a storey's queueing time on :data:`CMAP` scaled to ``vmax``.

    0 s is the map's first colour, ``vmax`` (the longest storey) its last; ``None`` (a
    storey without people) is :data:`NO_DATA_RGB`. The map is sampled in 256 steps, as a
    colour bar shows it.
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return NO_DATA_RGB
    from matplotlib import colormaps

    frac = 0.0 if not vmax > 0 else min(max(float(value) / float(vmax), 0.0), 1.0)
    r, g, b, _a = colormaps[CMAP].resampled(256)(frac)
    return (float(r), float(g), float(b))


def _diff(a, b) -> float | None:
    return None if a is None or b is None else round(float(b) - float(a), 4)


def _rows(a: dict, b: dict) -> list[dict]:
    keys = list(dict.fromkeys([*a, *b]))
    return [{"id": k, "a_s": a.get(k), "b_s": b.get(k), "diff_s": _diff(a.get(k), b.get(k))} for k in keys]


def _staircases(result: dict) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for sid, v in (result.get("stairs") or {}).items():
        base = sid.split("/", 1)[0]
        last = v.get("last_s")
        prev = out.get(base)
        out[base] = last if prev is None else (prev if last is None else max(prev, last))
    return out


def compare_drills(a: dict, b: dict) -> dict:
    """Drill A's and drill B's times side by side (seconds; ``diff_s`` is B − A).

    ``a`` and ``b`` are drill results (with ``buildings`` when they have them). Returns
    ``{"total": {"a_s", "b_s", "diff_s"}, "buildings": [...], "exits": [...], "stairs":
    [...]}``, each list of rows ``{"id", "a_s", "b_s", "diff_s"}`` in first-seen order (A's
    ids, then those only B has).
    """
    ta, tb = a.get("evacuation_time_s"), b.get("evacuation_time_s")
    return {
        "total": {"a_s": ta, "b_s": tb, "diff_s": _diff(ta, tb)},
        "buildings": _rows({k: v.get("evacuation_time_s") for k, v in (a.get("buildings") or {}).items()},
                           {k: v.get("evacuation_time_s") for k, v in (b.get("buildings") or {}).items()}),
        "exits": _rows({k: v.get("last_s") for k, v in (a.get("exits") or {}).items()},
                       {k: v.get("last_s") for k, v in (b.get("exits") or {}).items()}),
        "stairs": _rows(_staircases(a), _staircases(b)),
    }
