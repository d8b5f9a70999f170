"""Drill records (应急预案演练记录) as JSON files, comparisons, heatmap reports and ensembles.

A drill store is a folder::

    <root>/<drill>/drill.json          name, description, created, scenario (the contract)
    <root>/<drill>/runs/<run>.json     one run: parameters (seed, extra blocked ids) + result

Everything here is pure file I/O around :func:`sim.evacuation.simulate`; the services layer
may later mirror records into the database.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import numpy as np

from sim.evacuation.engine import simulate
from sim.evacuation.errors import DrillError
from sim.evacuation.recording import CROWD_DENSITY_P_M2
from sim.evacuation.scenario import parse_scenario

__all__ = ["DrillStore", "compare_results", "ensemble", "heatmap_png", "variant_scenario"]

_NAME = re.compile(r"^[A-Za-z0-9_.\-\u4e00-\u9fff]{1,80}$")


def variant_scenario(scenario: dict, *, seed: int | None = None, blocked: list[str] = ()) -> dict:
    """Copy of a scenario dict with another seed and extra blocked ids."""
    d = json.loads(json.dumps(scenario))
    if seed is not None:
        d["seed"] = int(seed)
    if blocked:
        d["blocked"] = sorted(set(d.get("blocked", [])) | set(blocked))
    return d


class DrillStore:
    """Drill records under one folder (see the module docstring for the layout)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def _dir(self, name: str) -> Path:
        if not _NAME.match(name):
            raise DrillError(f"drill name {name!r} must be 1-80 letters, digits, '_', '-' or '.'")
        return self.root / name

    def create(self, name: str, scenario: dict, *, description: str = "") -> dict:
        """Store a new drill (the scenario is validated first). Raises if it exists."""
        parse_scenario(scenario)
        d = self._dir(name)
        if (d / "drill.json").exists():
            raise DrillError(f"drill {name!r} already exists")
        rec = {"schema_version": 1, "name": name, "description": description,
               "created": datetime.now(timezone.utc).isoformat(timespec="seconds"), "scenario": scenario}
        _write(d / "drill.json", rec)
        return rec

    def get(self, name: str) -> dict:
        """Return a drill record (raises :class:`DrillError` when missing)."""
        p = self._dir(name) / "drill.json"
        if not p.exists():
            raise DrillError(f"no drill named {name!r} in {self.root}")
        return json.loads(p.read_text(encoding="utf-8"))

    def names(self) -> list[str]:
        """Names of every stored drill, sorted."""
        if not self.root.is_dir():
            return []
        return sorted(p.parent.name for p in self.root.glob("*/drill.json"))

    def run(self, name: str, *, seed: int | None = None, blocked: list[str] = (),
            progress: Callable[[str], None] | None = None) -> dict:
        """Run a drill (optionally with another seed / extra blocked ids) and store the run."""
        drill = self.get(name)
        params = {"seed": seed if seed is not None else drill["scenario"].get("seed"), "blocked": sorted(blocked)}
        sc = parse_scenario(variant_scenario(drill["scenario"], seed=seed, blocked=list(blocked)))
        result = simulate(sc, progress=progress)
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
        digest = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:8]
        run_id = f"{stamp}-{digest}"
        rec = {"schema_version": 1, "drill": name, "run": run_id, "params": params, "result": result}
        _write(self._dir(name) / "runs" / f"{run_id}.json", rec)
        return rec

    def runs(self, name: str) -> list[str]:
        """Run ids of a drill, oldest first."""
        self.get(name)
        return sorted(p.stem for p in (self._dir(name) / "runs").glob("*.json"))

    def load_run(self, name: str, run_id: str) -> dict:
        """Return one stored run (raises :class:`DrillError` when missing)."""
        p = self._dir(name) / "runs" / f"{run_id}.json"
        if not p.exists():
            raise DrillError(f"drill {name!r} has no run {run_id!r}")
        return json.loads(p.read_text(encoding="utf-8"))


def _write(path: Path, obj) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(obj, ensure_ascii=False), encoding="utf-8")
    tmp.replace(path)


def compare_results(results: dict[str, dict]) -> dict:
    """Compare runs: evacuation time, evacuated, per-exit and per-stair usage, crowded cells.

    ``results`` maps a label to a result dict. Crowded cells are density cells above
    4 P/m² with the seconds spent above it (from the result's ``crowded_cells``).
    """
    rows = {}
    for label, r in results.items():
        crowded = r.get("crowded_cells", [])
        rows[label] = {
            "evacuation_time_s": r["evacuation_time_s"], "evacuated": r["evacuated"],
            "not_evacuated": r["not_evacuated"],
            "exits": {k: v["count"] for k, v in r["exits"].items()},
            "stairs": {k: v["count"] for k, v in r.get("stairs", {}).items()},
            "crowded_cells": len(crowded),
            "crowded_cell_seconds": round(sum(c["seconds"] for c in crowded), 2),
            "worst_crowding": crowded[:5],
        }
    labels = list(rows)
    base = rows[labels[0]]["evacuation_time_s"] if labels else 0.0
    for lab in labels:
        rows[lab]["delta_s_vs_first"] = round(rows[lab]["evacuation_time_s"] - base, 4)
    return {"threshold_p_m2": CROWD_DENSITY_P_M2, "runs": rows}


def heatmap_png(result: dict, out_dir: str | Path) -> list[Path]:
    """Write one max-density heatmap PNG per floor (matplotlib, Agg); return the paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for fid, d in sorted(result.get("density", {}).items()):
        md = np.asarray(d["max_p_m2"])
        fig, ax = plt.subplots(figsize=(6, 6 * max(md.shape[0], 1) / max(md.shape[1], 1) + 0.8), dpi=100)
        x0, y0, c = d["x0"], d["y0"], d["cell_m"]
        im = ax.imshow(md, origin="lower", cmap="inferno", vmin=0, vmax=max(5.0, float(md.max())),
                       extent=(x0, x0 + c * md.shape[1], y0, y0 + c * md.shape[0]))
        over = np.asarray(d["over_4_s"]) > 0
        if over.any():
            ax.contour(over.astype(float), levels=[0.5], colors="cyan", origin="lower",
                       extent=(x0, x0 + c * md.shape[1], y0, y0 + c * md.shape[0]))
        fig.colorbar(im, ax=ax, label="max density (P/m²)")
        ax.set_title(f"floor {fid}: max density, cyan > {CROWD_DENSITY_P_M2:g} P/m²")
        ax.set_xlabel("x (m)")
        ax.set_ylabel("y (m)")
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", fid)
        p = out / f"heatmap_{safe}.png"
        fig.savefig(p)
        plt.close(fig)
        paths.append(p)
    return paths


def _one(args):
    scenario, seed, blocked = args
    from sim.evacuation.engine import simulate as _sim
    from sim.evacuation.scenario import parse_scenario as _parse

    r = _sim(_parse(variant_scenario(scenario, seed=seed, blocked=blocked)))
    return {"evacuation_time_s": r["evacuation_time_s"], "not_evacuated": r["not_evacuated"]}


def ensemble(scenario: dict, *, seeds: list[int], variants: dict[str, list[str]] | None = None,
             scheduler: str | None = None, workers: int = 2,
             progress: Callable[[str], None] | None = None) -> dict:
    """Run every (variant, seed) with dask.distributed and summarise each variant.

    Parameters
    ----------
    scenario : dict
        The base scenario (contract form).
    seeds : list of int
        Seeds to run per variant.
    variants : dict, optional
        Variant name → extra blocked ids (default: ``{"base": []}``).
    scheduler : str, optional
        Address of a running dask scheduler; default a LocalCluster of ``workers`` processes.

    Returns
    -------
    dict
        Per variant: ``runs`` (evacuation times, s), ``mean_s``, ``p95_s``, ``max_not_evacuated``.
    """
    from dask.distributed import Client, LocalCluster, as_completed

    parse_scenario(scenario)
    variants = variants or {"base": []}
    for name, blocked in variants.items():
        parse_scenario(variant_scenario(scenario, blocked=blocked))
    say = progress or (lambda _m: None)
    tasks = [(v, s) for v in variants for s in seeds]
    cluster = None
    if scheduler:
        client = Client(scheduler)
    else:
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                               dashboard_address=None)
        client = Client(cluster)
    try:
        futs = {client.submit(_one, (scenario, s, variants[v]), pure=False): (v, s) for v, s in tasks}
        out: dict[tuple, dict] = {}
        for k, fut in enumerate(as_completed(futs), 1):
            out[futs[fut]] = fut.result()
            say(f"ensemble {k}/{len(tasks)} done")
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    summary = {}
    for v in variants:
        times = np.array([out[(v, s)]["evacuation_time_s"] for s in seeds])
        summary[v] = {"seeds": list(seeds), "runs": times.tolist(), "mean_s": round(float(times.mean()), 4),
                      "p95_s": round(float(np.percentile(times, 95)), 4),
                      "max_not_evacuated": int(max(out[(v, s)]["not_evacuated"] for s in seeds))}
    return {"variants": summary}
