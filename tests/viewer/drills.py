"""Hand-made evacuation trajectories (schema_version 1 of the evacuation result)."""

from __future__ import annotations

from tests.viewer.common import E0, N0


def walking_drill(n_agents: int = 3, *, speed_mps: float = 1.0, duration_s: float = 10.0,
                  every_s: float = 0.5, floor: str = "B1/B1-F01", x0: float = 5.0,
                  y0: float = 30.0) -> dict:
    """Agent ``i`` walks east from (x0, y0 + i) at ``speed_mps``; all leave at ``duration_s``.

    Position at time t (by hand): x = E0 + x0 + speed·t, y = N0 + y0 + i.
    """
    frames = []
    steps = int(round(duration_s / every_s))
    for k in range(steps + 1):
        t = k * every_s
        alive = list(range(n_agents)) if k < steps else []
        frames.append({"t": t, "i": alive, "f": [0] * len(alive),
                       "x": [E0 + x0 + speed_mps * t] * len(alive),
                       "y": [N0 + y0 + i for i in alive]})
    density = {floor: {"x0": E0, "y0": N0, "cell_m": 2.0, "nx": 3, "ny": 2,
                       "max_p_m2": [[0.0, 1.0, 2.0], [3.0, 4.5, 0.0]],
                       "over_4_s": [[0, 0, 0], [0, 1.5, 0]]}}
    return {"evacuation_time_s": duration_s, "density": density,
            "trajectories": {"schema_version": 1, "every_s": every_s,
                             "agents": [f"a{i}" for i in range(n_agents)], "floors": [floor],
                             "frames": frames}}
