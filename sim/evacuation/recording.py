"""Result writers: the remaining-over-time curve, density rasters and trajectories.

A :class:`Recorder` is fed the state after every step (``sample``) and keeps what the result
contract needs: ``remaining`` once per simulated second, a density raster per floor
(``record.density_cell_m`` square cells, sampled every 0.5 s: the maximum density in P/m² and
the seconds spent above :data:`CROWD_DENSITY_P_M2`), and optionally positions every
``record.trajectory_every_s`` seconds.
"""

from __future__ import annotations

import math

import numpy as np

from sim.evacuation import kernels as K

__all__ = ["CROWD_DENSITY_P_M2", "DENSITY_EVERY_S", "Recorder"]

#: Density (P/m²) above which a cell counts as crowded (drill reports: "where and how long").
CROWD_DENSITY_P_M2 = 4.0
#: Sampling interval of the density rasters (s).
DENSITY_EVERY_S = 0.5


class Recorder:
    """Collects remaining counts, density rasters and trajectories during one run."""

    def __init__(self, scn, layout, agents, *, trajectories: bool = False) -> None:
        self.scn = scn
        self.dt = scn.dt_s
        self.remaining: list[list[float]] = []
        self._next_second = 0
        self.dc = scn.density_cell_m
        self.grids = []
        off = 0
        for g in layout.grids:
            nx = max(int(math.ceil(g.nx * g.h / self.dc)), 1)
            ny = max(int(math.ceil(g.ny * g.h / self.dc)), 1)
            self.grids.append((g.x0, g.y0, nx, ny, off))
            off += nx * ny
        self.n_dcells = off
        self.max_density = np.zeros(off)
        self.over_s = np.zeros(off)
        self._d_every = max(int(round(DENSITY_EVERY_S / self.dt)), 1)
        self._t_every = max(int(round(scn.trajectory_every_s / self.dt)), 1)
        self._step = 0
        self.trajectories = [] if trajectories else None
        self.ids = agents.ids
        self.gx0 = np.array([g[0] for g in self.grids])
        self.gy0 = np.array([g[1] for g in self.grids])
        self.gnx = np.array([g[2] for g in self.grids], dtype=np.int64)
        self.gny = np.array([g[3] for g in self.grids], dtype=np.int64)
        self.goff = np.array([g[4] for g in self.grids], dtype=np.int64)

    def sample(self, t: float, x, y, fl, state) -> None:
        """Record the state at time ``t`` (s), right after a step (or at 0)."""
        while t + 1e-9 >= self._next_second:
            left = int(np.count_nonzero(state != K.EVACUATED))
            self.remaining.append([self._next_second, left])
            self._next_second += 1
        d_now = self._step % self._d_every == 0
        t_now = self.trajectories is not None and self._step % self._t_every == 0
        self._step += 1
        if not (d_now or t_now):
            return
        self._step -= 1
        on = state == K.ACTIVE
        if d_now and on.any():
            f = fl[on]
            i = np.clip(np.floor((x[on] - self.gx0[f]) / self.dc).astype(np.int64), 0, self.gnx[f] - 1)
            j = np.clip(np.floor((y[on] - self.gy0[f]) / self.dc).astype(np.int64), 0, self.gny[f] - 1)
            c = self.goff[f] + j * self.gnx[f] + i
            cells, counts = np.unique(c, return_counts=True)
            dens = counts / (self.dc * self.dc)
            self.max_density[cells] = np.maximum(self.max_density[cells], dens)
            self.over_s[cells[dens > CROWD_DENSITY_P_M2]] += self._d_every * self.dt
        if t_now:
            idx = np.flatnonzero(on)
            self.trajectories.append({
                "t": round(t, 3), "i": idx.tolist(), "f": fl[idx].tolist(),
                "x": np.round(x[idx], 3).tolist(), "y": np.round(y[idx], 3).tolist(),
            })
        self._step += 1

    def close(self, t_end: float, state) -> None:
        """Add the count at the first whole second after the end (the curve ends there)."""
        if self.remaining and self.remaining[-1][0] >= t_end - 1e-9:
            return
        self.remaining.append([self._next_second, int(np.count_nonzero(state != K.EVACUATED))])
        self._next_second += 1

    def finish(self) -> dict:
        """Return the ``density`` (and ``trajectories``) parts of the result."""
        density = {}
        hot = []
        for k, (x0, y0, nx, ny, off) in enumerate(self.grids):
            md = self.max_density[off: off + nx * ny].reshape(ny, nx)
            ov = self.over_s[off: off + nx * ny].reshape(ny, nx)
            if not md.any():
                continue
            fid = self.scn.floors[k].id
            density[fid] = {
                "x0": round(float(x0), 3), "y0": round(float(y0), 3), "cell_m": self.dc, "nx": nx, "ny": ny,
                "max_p_m2": np.round(md, 2).tolist(), "over_4_s": np.round(ov, 2).tolist(),
            }
            for j, i in zip(*np.nonzero(ov > 0)):
                hot.append({"floor": fid, "x": round(float(x0 + (i + 0.5) * self.dc), 2),
                            "y": round(float(y0 + (j + 0.5) * self.dc), 2),
                            "seconds": round(float(ov[j, i]), 2), "max_p_m2": round(float(md[j, i]), 2)})
        hot.sort(key=lambda h: (-h["seconds"], h["floor"], h["x"], h["y"]))
        out = {"density": density, "crowded_cells": hot}
        if self.trajectories is not None:
            out["trajectories"] = {
                "schema_version": 1, "every_s": self._t_every * self.dt, "agents": self.ids,
                "floors": [f.id for f in self.scn.floors], "frames": self.trajectories,
            }
        return out
