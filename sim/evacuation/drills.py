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
from functools import lru_cache
from pathlib import Path
from typing import Callable

import numpy as np

from sim.evacuation.engine import simulate
from sim.evacuation.errors import DrillError
from sim.evacuation.recording import CROWD_DENSITY_P_M2
from sim.evacuation.scenario import parse_scenario

__all__ = ["DrillStore", "compare_results", "convergence", "ensemble", "heatmap_png", "variant_scenario"]

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
        return self.save_run(name, params, simulate(sc, progress=progress))

    def save_run(self, name: str, params: dict, result: dict) -> dict:
        """Store one run computed elsewhere (a background job) under drill ``name``."""
        self.get(name)
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
    for lab in labels:  # null when either run left somebody behind (no evacuation time)
        t = rows[lab]["evacuation_time_s"]
        rows[lab]["delta_s_vs_first"] = None if t is None or base is None else round(t - base, 4)
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


@lru_cache(maxsize=4)
def _prepared(text: str):
    """Parse and prepare a scenario once per worker process (keyed by its JSON text)."""
    from sim.evacuation.engine import prepare

    return prepare(parse_scenario(json.loads(text)))


def _one(args):
    text, seed = args
    r = simulate(_prepared(text), seed=seed)
    return {"evacuation_time_s": r["evacuation_time_s"], "not_evacuated": r["not_evacuated"],
            "seed": r["seed"], "stalled": r["stalled"], "remaining": [n for _t, n in r["remaining"]]}


#: Ensemble convergence (Ronchi et al. 2014, functional analysis): threshold on the relative
#: change of the mean curve (ERD) and of the mean evacuation time, held for this many runs.
CONVERGENCE_THRESHOLD = 0.01
CONVERGENCE_RUNS = 3


def convergence(curves: list[list[float]], times: list[float | None], *,
                threshold: float = CONVERGENCE_THRESHOLD, runs: int = CONVERGENCE_RUNS) -> dict:
    """Return the convergence figures of an ensemble, in run order.

    Parameters
    ----------
    curves : list of list of float
        Each run's remaining-over-time curve (people, one value per simulated second); a
        shorter curve is held at its last value.
    times : list of float or None
        Each run's evacuation time (s); None for a run that left somebody behind.

    Returns
    -------
    dict
        ``erd``: for k = 2..N, the Euclidean relative difference ||M_k − M_{k−1}|| / ||M_{k−1}||
        of the mean curves of the first k and k − 1 runs; ``tet_change``: the relative change
        of the mean evacuation time; ``converged_at``: the first run count N after which both
        have stayed below ``threshold`` for the last ``runs`` additions (runs N − runs + 1 .. N;
        None when not reached): the ensemble size the rule asks for.

    Notes
    -----
    Ronchi, Kuligowski, Reneke, Peacock & Nilsson, "The process of verification and
    validation of building fire evacuation models", NIST TN 1822 (2013), and Ronchi, Reneke
    & Peacock, "A method for the analysis of behavioural uncertainty in evacuation
    modelling", Fire Technology 50 (2014): stop adding runs when the functional measures of
    the mean curve change less than a threshold over successive runs.
    """
    n = len(curves)
    length = max((len(c) for c in curves), default=0)
    if n == 0 or length == 0:
        return {"threshold": threshold, "runs": runs, "erd": [], "tet_change": [], "converged_at": None}
    mat = np.array([list(c) + [c[-1] if c else 0.0] * (length - len(c)) for c in curves], dtype=float)
    cum = np.cumsum(mat, axis=0) / np.arange(1, n + 1)[:, None]
    erd, dtet = [], []
    tet = [t for t in times]
    for k in range(1, n):
        prev, cur = cum[k - 1], cum[k]
        erd.append(float(np.linalg.norm(cur - prev) / max(np.linalg.norm(prev), 1e-12)))
        a, b = tet[:k], tet[:k + 1]
        if any(t is None for t in b):
            dtet.append(None)
        else:
            ma, mb = float(np.mean(a)), float(np.mean(b))
            dtet.append(abs(mb - ma) / max(ma, 1e-12))
    ok = [e < threshold and d is not None and d < threshold for e, d in zip(erd, dtet)]
    conv = None
    for k in range(len(ok) - runs + 1):
        if all(ok[k:k + runs]):
            conv = k + runs + 1  # ok[k] compares k + 2 runs with k + 1
            break
    return {"threshold": threshold, "runs": runs, "erd": [round(e, 6) for e in erd],
            "tet_change": [None if d is None else round(d, 6) for d in dtet], "converged_at": conv}


def ensemble(scenario: dict, *, seeds: list[int], variants: dict[str, list[str]] | None = None,
             scheduler: str | None = None, workers: int = 2,
             progress: Callable[[str], None] | None = None) -> dict:
    """Run every (variant, seed) with dask.distributed and summarise each variant.

    Parameters
    ----------
    scenario : dict
        The base scenario (contract form).
    seeds : list of int
        Seeds to run per variant: each seed drives every draw of its run (positions in
        groups, speeds, pre-movement, impatience, stair order).
    variants : dict, optional
        Variant name → extra blocked ids (default: ``{"base": []}``).
    scheduler : str, optional
        Address of a running dask scheduler; default a LocalCluster of ``workers`` processes.

    Returns
    -------
    dict
        Per variant: ``seeds``, ``runs`` (evacuation times, s; None for a run that left
        somebody behind), ``mean_s`` and ``p95_s`` over the complete runs (None when there is
        none), ``incomplete`` (runs that left somebody behind), ``max_not_evacuated`` and
        ``convergence`` (see :func:`convergence`).
    """
    from dask.distributed import Client, LocalCluster, as_completed

    parse_scenario(scenario)
    variants = variants or {"base": []}
    texts = {}
    for name, blocked in variants.items():
        v = variant_scenario(scenario, blocked=blocked)
        parse_scenario(v)
        texts[name] = json.dumps(v, sort_keys=True)
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
        futs = {client.submit(_one, (texts[v], s), pure=False): (v, s) for v, s in tasks}
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
        times = [out[(v, s)]["evacuation_time_s"] for s in seeds]
        done = np.array([t for t in times if t is not None], dtype=float)
        summary[v] = {"seeds": list(seeds), "runs": times,
                      "mean_s": round(float(done.mean()), 4) if done.size else None,
                      "p95_s": round(float(np.percentile(done, 95)), 4) if done.size else None,
                      "incomplete": int(len(times) - done.size),
                      "max_not_evacuated": int(max(out[(v, s)]["not_evacuated"] for s in seeds)),
                      "convergence": convergence([out[(v, s)]["remaining"] for s in seeds], times)}
    return {"variants": summary}
