"""``twin drill ...``: drill records, runs, comparisons, heatmap reports and ensembles.

Records are JSON files under ``--dir`` (default ``$TWIN_DATA_DIR/drills``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import typer

from services.cli.common import print_json

__all__ = ["register"]

drill_app = typer.Typer(help="Evacuation drills: records, runs, comparisons, reports, ensembles.",
                        no_args_is_help=True)


def _store(dir_: Optional[Path]):
    from services.settings import get_settings
    from sim.evacuation.drills import DrillStore

    return DrillStore(dir_ if dir_ is not None else get_settings().data_dir / "drills")


def _say(msg: str) -> None:
    sys.stderr.write(f"drill: {msg}\n")
    sys.stderr.flush()


DirOpt = typer.Option(None, "--dir", help="Drill store folder (default $TWIN_DATA_DIR/drills).")


@drill_app.command("create")
def create(name: str, scenario: Path, description: str = typer.Option("", "--description"),
           dir_: Optional[Path] = DirOpt) -> None:
    """Store SCENARIO.json as drill NAME."""
    from sim.evacuation import ScenarioError

    try:
        data = json.loads(scenario.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ScenarioError(f"scenario {str(scenario)!r} is not valid JSON: {exc}") from None
    rec = _store(dir_).create(name, data, description=description)
    print_json({"name": rec["name"], "created": rec["created"]})


@drill_app.command("list")
def list_(dir_: Optional[Path] = DirOpt) -> None:
    """List drills and their runs (JSON)."""
    st = _store(dir_)
    print_json({n: st.runs(n) for n in st.names()})


@drill_app.command("run")
def run(name: str, seed: Optional[int] = typer.Option(None, "--seed"),
        block: Optional[list[str]] = typer.Option(None, "--block"), dir_: Optional[Path] = DirOpt) -> None:
    """Run drill NAME and store the run; prints the run id and headline figures."""
    rec = _store(dir_).run(name, seed=seed, blocked=block or [], progress=_say)
    r = rec["result"]
    print_json({"run": rec["run"], "evacuation_time_s": r["evacuation_time_s"], "evacuated": r["evacuated"],
                "not_evacuated": r["not_evacuated"]})


@drill_app.command("compare")
def compare(name: str, runs: list[str], dir_: Optional[Path] = DirOpt) -> None:
    """Compare stored runs of drill NAME (JSON on stdout)."""
    from sim.evacuation.drills import compare_results

    st = _store(dir_)
    print_json(compare_results({r: st.load_run(name, r)["result"] for r in runs}))


@drill_app.command("report")
def report(name: Optional[str] = typer.Argument(None, help="Drill record name (with RUN_ID)."),
           run_id: Optional[str] = typer.Argument(None, help="Run id of the drill record."),
           out: Path = typer.Option(..., "--out", help="Folder (NAME RUN_ID) or PDF file (--drill-id)."),
           drill_id: Optional[str] = typer.Option(None, "--drill-id",
                                                  help="A drill started by POST /api/drills: write its PDF report to --out."),
           site: Optional[Path] = typer.Option(None, "--site", help="Site folder for names (default $TWIN_SITE)."),
           compare: Optional[str] = typer.Option(None, "--compare",
                                                 help="With --drill-id: another drill to set side by side."),
           dir_: Optional[Path] = DirOpt) -> None:
    """NAME RUN_ID: heatmap PNGs and report.json into --out; --drill-id ID: the drill's PDF report."""
    from sim.evacuation import ScenarioError

    if drill_id is not None:
        if name is not None or run_id is not None:
            raise ScenarioError("give either NAME RUN_ID or --drill-id ID, not both")
        _pdf_report(drill_id, out, site, dir_, compare)
        return
    if compare is not None:
        raise ScenarioError("--compare goes with --drill-id ID")
    if name is None or run_id is None:
        raise ScenarioError("give NAME RUN_ID (heatmaps) or --drill-id ID (PDF report)")
    from sim.evacuation.drills import compare_results, heatmap_png

    rec = _store(dir_).load_run(name, run_id)
    pngs = heatmap_png(rec["result"], out)
    summary = compare_results({run_id: rec["result"]})
    (out / "report.json").write_text(json.dumps(summary, ensure_ascii=False, indent=1), encoding="utf-8")
    print_json({"heatmaps": [str(p) for p in pngs], "report": str(out / "report.json")})


def _pdf_report(drill_id: str, out: Path, site: Optional[Path], dir_: Optional[Path],
                compare: Optional[str] = None) -> None:
    from services.drills import DrillJobs
    from services.settings import get_settings

    settings = get_settings()
    if out.is_dir():
        from sim.evacuation import ScenarioError

        raise ScenarioError(f"--out {str(out)!r} is a folder: give a PDF file name, e.g. drill-{drill_id}.pdf")
    from services.cli.evacuate import _load_site

    community = _load_site(site if site is not None else settings.site)
    jobs = DrillJobs(dir_ if dir_ is not None else settings.data_dir / "drills", community)
    jobs.finished(drill_id)  # unknown, failed or still running: one line, exit 2
    if compare is not None:
        jobs.finished(compare)
    _say(f"writing the report of drill {drill_id}")
    info = jobs.write_report(drill_id, out, compare=compare)
    print_json({"report": str(out), "pages": len(info["pages"])})


@drill_app.command("ensemble")
def ensemble_cmd(scenario: Path, seeds: int = typer.Option(4, "--seeds", min=1),
                 variant: Optional[list[str]] = typer.Option(None, "--variant", help="NAME=ID,ID (blocked ids)"),
                 scheduler: Optional[str] = typer.Option(None, "--scheduler", help="dask scheduler address"),
                 workers: int = typer.Option(2, "--workers", min=1)) -> None:
    """Run SCENARIO.json for N seeds x variants on dask; print mean / p95 per variant."""
    from sim.evacuation import ScenarioError
    from sim.evacuation.drills import ensemble

    data = json.loads(scenario.read_text(encoding="utf-8"))
    variants = {"base": []}
    for v in variant or []:
        if "=" not in v:
            raise ScenarioError(f"--variant {v!r} must be NAME=ID[,ID...]")
        k, ids = v.split("=", 1)
        variants[k] = [i for i in ids.split(",") if i]
    base_seed = int(data.get("seed", 0))
    print_json(ensemble(data, seeds=[base_seed + k for k in range(seeds)], variants=variants,
                        scheduler=scheduler, workers=workers, progress=_say))


def register(app: typer.Typer) -> None:
    """Attach the ``drill`` group."""
    app.add_typer(drill_app, name="drill")
