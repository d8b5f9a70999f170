"""``twin evacuate``: run an evacuation scenario, or build one from a site folder.

- ``twin evacuate SCENARIO.json [--out RESULT.json] [--trajectories FILE] [--report FILE.pdf]``
- ``twin evacuate --site DIR [--building ID] [--time-of-day HH:MM] [--block ID|NAME ...]
  [--export-scenario FILE] [--no-run]``

The result JSON goes to stdout unless ``--out`` is given; progress goes to stderr. A bad
scenario is one line ``error: ...`` on stderr and exit code 2 (see ``services.cli.main``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import typer

from services.cli.common import print_json

__all__ = ["register", "resolve_blocked"]


def _progress(msg: str) -> None:
    sys.stderr.write(f"evacuate: {msg}\n")
    sys.stderr.flush()


def _write_json(path: Path, obj) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(obj, ensure_ascii=False), encoding="utf-8")
    tmp.replace(path)


def evacuate(
    scenario: Optional[Path] = typer.Argument(None, help="Scenario JSON file (see docs/evacuation.md)."),
    out: Optional[Path] = typer.Option(None, "--out", help="Write the result JSON here instead of stdout."),
    trajectories: Optional[Path] = typer.Option(None, "--trajectories", help="Write trajectories JSON here."),
    site: Optional[Path] = typer.Option(None, "--site", help="Build the scenario from this site folder."),
    building: Optional[list[str]] = typer.Option(None, "--building", help="Only this building (repeatable)."),
    time_of_day: str = typer.Option("02:00", "--time-of-day", help="Local time HH:MM for the occupancy profile."),
    block: Optional[list[str]] = typer.Option(
        None, "--block", help="Block an exit, stair or door: id or name, e.g. '1号楼 2单元 A梯' (repeatable)."),
    export_scenario: Optional[Path] = typer.Option(None, "--export-scenario", help="Write the built scenario JSON here."),
    no_run: bool = typer.Option(False, "--no-run", help="With --site: only build (and export) the scenario."),
    seed: Optional[int] = typer.Option(None, "--seed", min=0, max=2**63 - 1, help="Override the scenario's seed (every random draw)."),
    report: Optional[Path] = typer.Option(None, "--report", help="Also write the drill report PDF here (docs/drill-report.md)."),
) -> None:
    """Run an evacuation: a scenario file, or a scenario built from a site's twin."""
    from sim.evacuation import ScenarioError, load_scenario, parse_scenario, simulate

    if (scenario is None) == (site is None):
        raise ScenarioError("give either a SCENARIO.json file or --site DIR (not both)")
    if report is not None and report.is_dir():
        raise ScenarioError(f"--report {str(report)!r} is a folder: give a PDF file name")
    community, blocked = None, []
    if site is not None:
        from sim.evacuation.builder import scenario_from_community

        community = _load_site(site)
        _progress(f"building scenario from site {community.name!r}")
        blocked = resolve_blocked(community, block or [], buildings=building or None)
        data = scenario_from_community(community, buildings=building or None, time_of_day=time_of_day,
                                       blocked=blocked, seed=seed if seed is not None else 1)
        if export_scenario is not None:
            _write_json(export_scenario, data)
            _progress(f"scenario written to {export_scenario}")
        if no_run:
            return
        sc = parse_scenario(data)
    else:
        sc = load_scenario(scenario)
        data = json.loads(Path(scenario).read_text(encoding="utf-8"))
        if block:
            data["blocked"] = sorted(set(data.get("blocked", [])) | set(block))
            sc = parse_scenario(data)
    result = simulate(sc, seed=seed, trajectories=trajectories is not None or report is not None, progress=_progress)
    traj = result.pop("trajectories", None)
    if trajectories is not None and traj is not None:
        _write_json(trajectories, traj)
    t_ev = result["evacuation_time_s"]
    _progress(f"{result['evacuated']} evacuated, {result['not_evacuated']} not, "
              f"evacuation time {'none (not everybody left)' if t_ev is None else f'{t_ev:.1f} s'}"
              f"{', stalled' if result['stalled'] else ''}, seed {result['seed']}, wall {result['wall_time_s']:.2f} s")
    if out is not None:
        _write_json(out, result)
    else:
        print_json(result)
    if report is not None:
        _write_report(report, result, data, traj, community, time_of_day if site is not None else None,
                      list(dict.fromkeys([*data.get("blocked", []), *blocked])))


def _write_report(path: Path, result: dict, scenario: dict, traj, community, time_of_day, blocked: list[str]) -> None:
    from services.drill_report import write_report
    from services.drills import per_building

    _progress(f"writing the report {path}")
    res = dict(result, buildings=per_building(community, result)) if community is not None else result
    info = write_report(path, result=res, scenario=scenario, trajectories=traj, community=community,
                        meta={"drill": str(scenario.get("name", "")), "time_of_day": time_of_day,
                              "blocked": blocked})
    _progress(f"report written to {path} ({len(info['pages'])} pages)")


def resolve_blocked(community, texts: list[str], *, buildings: list[str] | None = None) -> list[str]:
    """Return the door/exit/stair ids meant by ``texts`` (ids or names, see twin.naming).

    An id of the site is kept as it is; a name is looked up among the stairs, exits and
    doors of ``buildings`` (default: the whole site); a staircase name (``2单元 A梯``)
    gives every flight of it. Raises :class:`twin.errors.NotFoundError` (one line, with
    the closest names) for an unknown or ambiguous name.
    """
    from twin.naming import SiteNames

    known = {d.id for d in community.doors} | {s.id for s in community.stairs}
    names = None
    out: list[str] = []
    for text in texts:
        if text in known:
            out.append(text)
            continue
        names = names or SiteNames(community)
        out += names.resolve(text, buildings=buildings)
    return list(dict.fromkeys(out))


def _load_site(site: Path):
    """Load a site folder into a twin Community (:func:`services.sites.load_site`)."""
    from services.sites import load_site

    return load_site(site)


def register(app: typer.Typer) -> None:
    """Attach ``evacuate`` (and the ``drill`` group) to the ``twin`` CLI."""
    app.command("evacuate")(evacuate)
    try:
        from services.cli.drill import register as register_drill
    except ImportError:  # pragma: no cover
        return
    register_drill(app)
