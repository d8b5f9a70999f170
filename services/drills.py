"""Drills as background jobs: ``POST /api/drills`` checks the request, a job runs it.

A request names buildings, a time of day, a fire location (a space, or a device whose
space it is: that space's doors and the stairs in it are blocked), stairs/exits/doors to
block (ids or the names people use, :func:`services.cli.evacuate.resolve_blocked`) and a
number of runs, or gives a whole scenario. :func:`check_request` refuses bad input (422) before anything starts;
:class:`DrillJobs` then builds the scenario and runs each seed off the request:

* a local process pool (:class:`concurrent.futures.ProcessPoolExecutor`, ``spawn``,
  ``TWIN_DRILL_WORKERS`` processes, default 1, at most 2) by default;
* the dask.distributed scheduler at ``TWIN_DASK_SCHEDULER`` when that is set (as
  ``twin drill ensemble --scheduler`` does).

Records are drill records of :class:`sim.evacuation.drills.DrillStore` under
``data_dir/drills`` (the folder ``twin drill list`` reads), named ``api-<id>``: the
scenario in ``drill.json``, each run in ``runs/``, plus ``job.json`` (status, progress,
the request, the summary result) and ``trajectories.json`` (the first run's). While a job
is queued or running, its process keeps ``heartbeat.json`` (``{"pid", "host"}``) in the record
and touches it every :data:`HEARTBEAT_S` seconds; it goes once ``job.json`` holds the end. So
another process (``twin drill report --drill-id``) tells a drill still running elsewhere (fresh
heartbeat, and on this host its process alive) from one whose service stopped (``failed``).

Each change of a job (queued, running, progress, done, failed) goes to ``DrillJobs.publish``
as a ``drill`` event (:func:`live.events.drill_progress_event`): the app hands it to the
WebSocket hub, so the viewer follows a drill live.
"""

from __future__ import annotations

import difflib
import json
import logging
import os
import re
import socket
import threading
import time
import uuid
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from services.errors import Conflict, InvalidInput, UnknownEntity
from twin.errors import TwinError
from twin.model import Community

__all__ = ["DrillJobs", "MAX_RUNS", "check_request", "fire_blocks", "fire_space", "per_building", "run_seed",
           "stair_times"]

log = logging.getLogger(__name__)

#: Largest ``runs`` of one drill request.
MAX_RUNS = 50
#: Drills queued or running at once; more answer 409.
MAX_ACTIVE = 4
_TIME = re.compile(r"^([0-9]{2}):([0-9]{2})$")
_ID = re.compile(r"^[0-9a-f]{12}$")
_REMAINING = re.compile(r"remaining (\d+) of (\d+)")
_APP_LOCK = threading.Lock()
#: Seconds between two touches of a running job's ``heartbeat.json``.
HEARTBEAT_S = 5.0
#: A heartbeat older than this (s) is of a process that is gone.
HEARTBEAT_STALE_S = 30.0


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # it exists (another user's) or cannot be told: the heartbeat's age decides
    return True


def heartbeat_alive(folder: Path, now: float | None = None) -> bool:
    """Whether the process that runs the drill in ``folder`` is alive: its ``heartbeat.json``
    exists, was touched less than :data:`HEARTBEAT_STALE_S` ago and, when written on this host,
    names a process that still exists."""
    path = folder / "heartbeat.json"
    try:
        age = (time.time() if now is None else now) - path.stat().st_mtime
        beat = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if not isinstance(beat, dict) or age > HEARTBEAT_STALE_S:
        return False
    pid = beat.get("pid")
    if beat.get("host") == socket.gethostname() and isinstance(pid, int) and not isinstance(pid, bool):
        return _pid_alive(pid)
    return True


def check_request(community: Community | None, body: dict[str, Any]) -> dict[str, Any]:
    """Validate a drill request; return the job's plan (raises InvalidInput, 422).

    ``body`` holds either ``scenario`` (the scenario contract, checked with
    :func:`sim.evacuation.parse_scenario`) or ``buildings`` / ``time_of_day`` / ``block``;
    ``runs`` (1..50) goes with either. The plan: ``{"scenario"}`` or ``{"buildings",
    "time_of_day", "blocked"}`` (blocked as ids), plus ``runs`` and the ``request``.
    """
    runs = body.get("runs", 1)
    fire = body.get("fire")
    if isinstance(runs, bool) or not isinstance(runs, int) or not 1 <= runs <= MAX_RUNS:
        raise InvalidInput(f"runs={runs!r} must be a whole number from 1 to {MAX_RUNS}")
    if body.get("scenario") is not None:
        other = [k for k in ("buildings", "time_of_day", "block", "fire") if body.get(k) is not None]
        if other:
            raise InvalidInput(f"give either scenario or {', '.join(other)}, not both")
        from sim.evacuation import ScenarioError, parse_scenario

        try:
            parse_scenario(body["scenario"])
        except (ScenarioError, TypeError, ValueError, KeyError, AttributeError, IndexError) as exc:
            raise InvalidInput(f"scenario: {exc}") from None
        return {"scenario": body["scenario"], "runs": runs, "request": {"scenario": True, "runs": runs}}
    if community is None:
        raise UnknownEntity("no site is loaded: give a whole scenario or load a site")
    tod = body.get("time_of_day")
    tod = "02:00" if tod is None else tod
    m = _TIME.match(tod) if isinstance(tod, str) else None
    if m is None or int(m[1]) > 23 or int(m[2]) > 59:
        raise InvalidInput(f"time_of_day={tod!r} must be HH:MM (ASCII digits, 00:00 to 23:59)")
    known = {b.id: b for b in community.buildings if b.storeys}
    buildings = body.get("buildings")
    if buildings is not None:
        if not buildings:
            raise InvalidInput("buildings=[] names no building (leave it out for the whole site)")
        for bid in buildings:
            if bid not in known:
                close = difflib.get_close_matches(str(bid), list(known), n=3, cutoff=0.0)
                raise InvalidInput(f"building {bid!r} is not a building of the site; closest: {', '.join(close)}")
        buildings = list(dict.fromkeys(buildings))
    from services.cli.evacuate import resolve_blocked

    try:
        blocked = resolve_blocked(community, list(body.get("block") or []), buildings=buildings)
    except TwinError as exc:  # unknown or ambiguous name: the message lists the closest names
        raise InvalidInput(str(exc)) from None
    request = {"buildings": buildings, "time_of_day": tod, "block": list(body.get("block") or []), "runs": runs}
    if fire is not None:
        space = fire_space(community, fire)
        if buildings is not None and space.building_id not in buildings:
            raise InvalidInput(f"fire={fire!r} is in building {space.building_id!r}, not in buildings={buildings!r}")
        blocked = list(dict.fromkeys(blocked + fire_blocks(community, space)))
        request["fire"] = fire
        request["fire_space"] = space.id
    return {"buildings": buildings, "time_of_day": tod, "blocked": blocked, "runs": runs, "request": request}


def fire_space(community: Community, fire: str):
    """The space of a fire location: a space id, or a device id (its space); InvalidInput else."""
    spaces = {sp.id: sp for sp in community.spaces}
    if fire in spaces:
        return spaces[fire]
    dev = next((d for d in community.devices if d.id == fire), None)
    if dev is not None and dev.space_id in spaces:
        return spaces[dev.space_id]
    if dev is not None:
        raise InvalidInput(f"fire={fire!r}: device {fire!r} is in no space of the model")
    close = difflib.get_close_matches(str(fire), list(spaces) + [d.id for d in community.devices], n=3)
    raise InvalidInput(f"fire={fire!r} is not a space or device of the site; closest: {', '.join(close) or 'none'}")


def fire_blocks(community: Community, space) -> list[str]:
    """What a fire in ``space`` blocks: the doors of the space and the stairs of its building
    whose footprint overlaps the space's (by more than 0.01 m²), as ids."""
    out = [d.id for d in community.doors if space.id in d.spaces]
    fp = space.footprint
    for st in community.stairs:
        geoms = [f.footprint for f in st.flights if f.storey_id == space.storey_id] or [st.footprint]
        if st.building_id == space.building_id and space.storey_id in st.storey_ids and any(
                g is not None and fp.intersection(g).area > 0.01 for g in geoms):
            out.append(st.id)
    return out


def run_seed(text: str, seed: int, progress_path: str | None, trajectories: bool) -> dict:
    """Run one seed of a scenario (in a worker process); write progress 0..1 to a file."""
    from sim.evacuation import parse_scenario, simulate

    def say(msg: str) -> None:
        m = _REMAINING.search(msg)
        if progress_path is None or m is None or int(m[2]) == 0:
            return
        tmp = progress_path + ".tmp"
        with open(tmp, "w", encoding="ascii") as f:
            f.write(f"{1 - int(m[1]) / int(m[2]):.4f}")
        os.replace(tmp, progress_path)

    return simulate(parse_scenario(json.loads(text)), seed=seed, trajectories=trajectories, progress=say)


def stair_times(scenario: dict, trajectories: dict | None) -> dict[str, dict]:
    """Per stair link: when people were first seen going in and last seen coming out (s).

    The engine keeps a person inside a stair in no frame: a gap between a frame on floor
    ``a`` and the next on floor ``b`` is a passage. It went in by the link from ``a`` whose
    entry is nearest its last place, and came out of the link into ``b`` whose exit is nearest
    its first place there. ``first_s`` is the frame before the earliest passage (at most one
    trajectory interval before the real entry), ``last_s`` the frame after the latest one;
    when one gap spans several flights (a person went down two storeys between two frames)
    both flights get the gap's bounds. ``passages`` counts the gaps that started in the link.
    Links nobody used are left out.
    """
    if not trajectories or not trajectories.get("frames"):
        return {}
    from shapely.geometry import Point, shape

    floors = trajectories.get("floors") or []
    links = [(st["id"], st["from_floor"], st["to_floor"], shape(st["entry"]), shape(st["exit"]))
             for st in scenario.get("stairs", []) if not st.get("elevator")]
    last: dict[int, tuple[float, int, float, float]] = {}  # agent → (t, floor, x, y) last seen
    out: dict[str, dict] = {}

    def nearest(cands, x, y):
        return min(cands, key=lambda c: c[1].distance(Point(x, y)))[0] if cands else None

    for fr in trajectories["frames"]:
        t = fr["t"]
        for k, i in enumerate(fr["i"]):
            f = fr["f"][k] if fr.get("f") else 0
            seen = last.get(i)
            if seen is not None and seen[1] != f and 0 <= seen[1] < len(floors) and 0 <= f < len(floors):
                fa, fb = floors[seen[1]], floors[f]
                went = nearest([(lid, entry) for lid, a, _b, entry, _e in links if a == fa], seen[2], seen[3])
                came = nearest([(lid, ex) for lid, _a, b, _n, ex in links if b == fb], fr["x"][k], fr["y"][k])
                for lid, passage in ((went, True), (came, False)):
                    if lid is None:
                        continue
                    # through several flights between two frames: each is bounded by the gap
                    e = out.setdefault(lid, {"first_s": seen[0], "last_s": t, "passages": 0})
                    if passage or went != came:
                        e["first_s"] = min(e["first_s"], seen[0])
                        e["last_s"] = max(e["last_s"], t)
                    e["passages"] += int(passage)
            last[i] = (t, f, fr["x"][k], fr["y"][k])
    return {k: {**v, "first_s": round(v["first_s"], 4),
                "last_s": None if v["last_s"] is None else round(v["last_s"], 4)} for k, v in out.items()}


def per_building(community: Community | None, result: dict) -> dict[str, dict]:
    """Per building: the time its last person left (s), people out, and its exits and stairs.

    Exits and stairs are mapped to their building through the twin's doors and stairs; a
    flight of a stair record spanning more than two storeys, ``<stair>/<lo>-<hi>`` (as
    :func:`sim.evacuation.builder.scenario_from_community` names it), goes to its stair's
    building (ids the twin does not know fall under ``"?"``).
    """
    door_b = {d.id: d.building_id for d in community.doors} if community else {}
    stair_b = {s.id: s.building_id for s in community.stairs} if community else {}

    def stair_building(sid: str) -> str:
        if sid in stair_b:
            return stair_b[sid]
        found, cut = "?", sid.find("/")
        while cut > 0:  # the longest known stair id before a "/"
            found = stair_b.get(sid[:cut], found)
            cut = sid.find("/", cut + 1)
        return found

    out: dict[str, dict] = {}
    for eid, e in result.get("exits", {}).items():
        b = out.setdefault(door_b.get(eid, "?"), {"evacuation_time_s": None, "evacuated": 0, "exits": {}, "stairs": {}})
        b["exits"][eid] = e
        b["evacuated"] += e["count"]
        if e.get("last_s") is not None:
            b["evacuation_time_s"] = max(b["evacuation_time_s"] or 0.0, e["last_s"])
    for sid, s in result.get("stairs", {}).items():
        b = out.setdefault(stair_building(sid), {"evacuation_time_s": None, "evacuated": 0, "exits": {}, "stairs": {}})
        b["stairs"][sid] = s
    return out


class DrillJobs:
    """Drill jobs of one app: records on disk, runs in a process pool or on dask."""

    def __init__(self, root: Path, community: Community | None, *, scheduler: str | None = None,
                 workers: int = 1) -> None:
        from sim.evacuation.drills import DrillStore

        self.store = DrillStore(root)
        self.community = community
        self.scheduler = scheduler
        self.workers = min(max(int(workers), 1), 2)
        self._pool: ProcessPoolExecutor | None = None
        self._client = None
        self._lock = threading.Lock()
        self._report_lock = threading.Lock()
        self._jobs: dict[str, dict] = {}
        self._closed = False
        self._beats: threading.Thread | None = None
        self._beats_stop: threading.Event | None = None
        #: Receives each ``drill`` event (the app sets it to the WebSocket hub's publish).
        self.publish = None

    @classmethod
    def from_settings(cls, settings, community: Community | None) -> "DrillJobs":
        """Jobs under ``data_dir/drills``; dask when ``TWIN_DASK_SCHEDULER`` is set."""
        workers = os.environ.get("TWIN_DRILL_WORKERS", "1")
        return cls(Path(settings.data_dir) / "drills", community,
                   scheduler=os.environ.get("TWIN_DASK_SCHEDULER") or None,
                   workers=int(workers) if workers.isascii() and workers.isdigit() else 1)

    @classmethod
    def of_app(cls, app) -> "DrillJobs":
        """The app's drill jobs (``app.state.drill_jobs``, made on first use; the app closes
        them when it stops): drills and the forecast share one set of workers."""
        with _APP_LOCK:
            jobs = getattr(app.state, "drill_jobs", None)
            if jobs is None:
                jobs = app.state.drill_jobs = cls.from_settings(app.state.settings, app.state.community)
            live = getattr(app.state, "live", None)
            if getattr(jobs, "publish", None) is None and live is not None and getattr(live, "hub", None) is not None:
                jobs.publish = live.hub.publish  # drill events to the viewers (WebSocket)
        return jobs

    # ------------------------------------------------------------------ records
    def _folder(self, drill_id: str) -> Path:
        return self.store.root / f"api-{drill_id}"

    def _save(self, job: dict) -> None:
        from sim.evacuation.drills import _write

        _write(self._folder(job["id"]) / "job.json", job)

    def _announce(self, job: dict) -> None:
        """Publish the job's state as a ``drill`` event (never raises: a drill outlives its viewers)."""
        publish = self.publish
        if publish is None:
            return
        from live.events import drill_progress_event

        with self._lock:
            snap = dict(job, progress=self._progress(job))
        try:
            publish(drill_progress_event(snap))
        except Exception:  # noqa: BLE001
            log.exception("publishing drill %s", job["id"])

    def get(self, drill_id: str) -> dict:
        """``{"id", "status", "progress", "result", ...}`` (UnknownEntity when missing)."""
        if not _ID.match(drill_id):
            raise UnknownEntity(f"no drill {drill_id!r}")
        with self._lock:
            job = self._jobs.get(drill_id)
            if job is not None:
                return dict(job, progress=self._progress(job))
        path = self._folder(drill_id) / "job.json"
        if not path.exists():
            raise UnknownEntity(f"no drill {drill_id!r}")
        job = json.loads(path.read_text(encoding="utf-8"))
        if job["status"] in ("queued", "running"):
            if heartbeat_alive(self._folder(drill_id)):  # running in another process
                return dict(job, progress=self._progress(job), elsewhere=True)
            again = json.loads(path.read_text(encoding="utf-8"))  # it may have just ended
            if again["status"] not in ("queued", "running"):
                return again
            # its process is gone (the service stopped or restarted)
            job.update(status="failed", error="the service stopped while the drill ran")
        return job

    def list(self) -> list[dict]:
        """Every drill job, newest first, without results."""
        ids = [p.parent.name[4:] for p in self.store.root.glob("api-*/job.json")] if self.store.root.is_dir() else []
        rows = []
        for i in ids:
            try:
                j = self.get(i)
            except UnknownEntity:
                continue
            res = j.get("result") or {}
            rows.append({k: j.get(k) for k in ("id", "status", "progress", "created", "request", "error")}
                        | {"evacuation_time_s": res.get("evacuation_time_s")})
        return sorted(rows, key=lambda r: r["created"] or "", reverse=True)

    def trajectories(self, drill_id: str) -> Path:
        """The trajectories file of a finished drill (Conflict while it runs)."""
        job = self.get(drill_id)
        path = self._folder(drill_id) / "trajectories.json"
        if job["status"] != "done" or not path.exists():
            raise Conflict(f"drill {drill_id} has no trajectories (status {job['status']})")
        return path

    def report(self, drill_id: str, compare: str | None = None) -> Path:
        """The report PDF of a finished drill (``report.pdf`` in its record), made on first use;
        with ``compare`` (another drill's id) the report plus the comparison pages
        (``report-vs-<other>.pdf``).

        Raises UnknownEntity (404) for an unknown drill (either) and Conflict (409) while
        either is queued or running, or when it failed. Blocking (render and PDF take
        seconds): call it from a worker thread; one report is made at a time.
        """
        self._finished(drill_id)
        if compare is not None:
            self._finished(compare)
        path = self._folder(drill_id) / ("report.pdf" if compare is None else f"report-vs-{compare}.pdf")
        with self._report_lock:
            if not path.exists():
                self.write_report(drill_id, path, compare=compare)
        return path

    def write_report(self, drill_id: str, out: Path, compare: str | None = None) -> dict:
        """Write the report PDF of a finished drill to ``out`` (see :mod:`services.drill_report`);
        ``compare``: another finished drill, set side by side on the comparison pages."""
        from services.drill_report import write_report

        job = self._finished(drill_id)
        other = None if compare is None else {"drill": compare, "result": self._finished(compare)["result"]}
        scenario = self.store.get(f"api-{drill_id}")["scenario"]
        tpath = self._folder(drill_id) / "trajectories.json"
        traj = json.loads(tpath.read_text(encoding="utf-8")) if tpath.exists() else None
        request = job.get("request") or {}
        blocked = list(scenario.get("blocked", []))
        if self.community is not None and request.get("block"):  # blocked doors are not listed in the scenario
            from services.cli.evacuate import resolve_blocked

            try:
                blocked += resolve_blocked(self.community, request["block"], buildings=request.get("buildings"))
            except TwinError:  # the site changed since the drill ran: the scenario's list stands
                pass
        meta = {"drill": drill_id, "created": job.get("created"), "time_of_day": request.get("time_of_day"),
                "blocked": list(dict.fromkeys(blocked))}
        return write_report(out, result=job["result"], scenario=scenario, trajectories=traj,
                            community=self.community, meta=meta, compare=other)

    def finished(self, drill_id: str) -> dict:
        """The job of a finished drill; UnknownEntity, or Conflict saying it failed or is still
        queued or running (here or in another process)."""
        return self._finished(drill_id)

    def _finished(self, drill_id: str) -> dict:
        job = self.get(drill_id)
        if job["status"] == "failed":
            raise Conflict(f"drill {drill_id} failed ({job.get('error')}): it has no report")
        if job["status"] != "done" or not job.get("result"):
            where = " in another process" if job.get("elsewhere") else ""
            raise Conflict(f"drill {drill_id} is still {job['status']}{where} ({job['progress']:.0%} done): "
                           "its report is ready when it is done")
        return job

    def _progress(self, job: dict) -> float:
        if job["status"] in ("done", "failed"):
            return job["progress"]
        part = 0.0
        for p in self._folder(job["id"]).glob("progress-*"):
            try:
                part += min(max(float(p.read_text(encoding="ascii")), 0.0), 1.0)
            except (OSError, ValueError):
                pass
        return round(min(job["done_runs"] + part, job["runs"]) / job["runs"] * 0.99, 4)

    # ------------------------------------------------------------------ jobs
    def submit(self, plan: dict) -> dict:
        """Start a checked plan (:func:`check_request`) as a job; return ``{"id", "status"}``."""
        with self._lock:
            if self._closed:
                raise Conflict("the service is stopping")
            active = sum(j["status"] in ("queued", "running") for j in self._jobs.values())
            if active >= MAX_ACTIVE:
                raise Conflict(f"{active} drills are queued or running; try again when one is done")
            drill_id = uuid.uuid4().hex[:12]
            job = {"id": drill_id, "status": "queued", "progress": 0.0, "result": None, "error": None,
                   "runs": plan["runs"], "done_runs": 0, "request": plan["request"],
                   "created": datetime.now(timezone.utc).isoformat(timespec="seconds"), "finished": None}
            self._jobs[drill_id] = job
        self._folder(drill_id).mkdir(parents=True, exist_ok=True)
        self._beat(drill_id)  # before job.json: a queued record always has a live heartbeat
        self._save(job)
        self._announce(job)
        threading.Thread(target=self._run, args=(job, plan), name=f"drill-{drill_id}", daemon=True).start()
        self._start_heartbeats()
        return {"id": drill_id, "status": "queued"}

    def _beat(self, drill_id: str) -> None:
        """Write (or touch) the job's ``heartbeat.json``."""
        from sim.evacuation.drills import _write

        try:
            _write(self._folder(drill_id) / "heartbeat.json", {"pid": os.getpid(), "host": socket.gethostname()})
        except OSError:
            log.warning("drill %s: cannot write its heartbeat", drill_id)

    def _start_heartbeats(self) -> None:
        """One thread touches the heartbeat of each active job every HEARTBEAT_S seconds."""
        with self._lock:
            if self._beats is not None and self._beats.is_alive():
                return
            self._beats_stop = threading.Event()
            self._beats = threading.Thread(target=self._heartbeats, args=(self._beats_stop,),
                                           name="drill-heartbeats", daemon=True)
            self._beats.start()

    def _heartbeats(self, stop: threading.Event) -> None:
        while not stop.wait(HEARTBEAT_S):
            with self._lock:
                if self._closed:
                    return
                active = [i for i, j in self._jobs.items() if j["status"] in ("queued", "running")]
            for i in active:
                self._beat(i)

    def _scenario(self, plan: dict) -> dict:
        if "scenario" in plan:
            return plan["scenario"]
        from sim.evacuation.builder import scenario_from_community

        return scenario_from_community(self.community, buildings=plan["buildings"], time_of_day=plan["time_of_day"],
                                       blocked=plan["blocked"], seed=1)

    def _run(self, job: dict, plan: dict) -> None:
        folder = self._folder(job["id"])
        try:
            scenario = self._scenario(plan)
            name = f"api-{job['id']}"
            self.store.create(name, scenario, description=json.dumps(plan["request"], ensure_ascii=False))
            text = json.dumps(scenario, sort_keys=True)
            base = int(scenario.get("seed", 0))
            seeds = [base + k for k in range(plan["runs"])]
            with self._lock:
                job["status"] = "running"
            self._save(job)
            self._announce(job)
            results = self._execute(job, text, seeds, folder)
            for seed, r in zip(seeds, results):
                self.store.save_run(name, {"seed": seed, "blocked": []},
                                    {k: v for k, v in r.items() if k != "trajectories"})
            traj = results[0].pop("trajectories", None)
            for sid, times in stair_times(scenario, traj).items():  # per stair: first in, last out (s)
                if sid in results[0].get("stairs", {}):
                    results[0]["stairs"][sid].update(first_s=times["first_s"], last_s=times["last_s"])
            if traj is not None:
                from sim.evacuation.drills import _write

                _write(folder / "trajectories.json", traj)
            summary = self._summary(results, seeds)
            with self._lock:
                job.update(status="done", progress=1.0, result=summary, done_runs=len(seeds),
                           finished=datetime.now(timezone.utc).isoformat(timespec="seconds"))
        except Exception as exc:  # noqa: BLE001 - a failed job is recorded, never lost
            log.exception("drill %s failed", job["id"])
            with self._lock:
                job.update(status="failed", error=f"{type(exc).__name__}: {exc}",
                           finished=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                           progress=self._progress(job))
        for p in folder.glob("progress-*"):
            p.unlink(missing_ok=True)
        self._save(job)
        (folder / "heartbeat.json").unlink(missing_ok=True)  # after job.json holds the end
        self._announce(job)

    def _execute(self, job: dict, text: str, seeds: list[int], folder: Path) -> list[dict]:
        args = [(text, s, str(folder / f"progress-{k}"), k == 0) for k, s in enumerate(seeds)]
        if self.scheduler:
            return self._execute_dask(job, args)
        with self._lock:
            if self._closed:
                raise RuntimeError("the service stopped before the drill ran")
            pool = self._ensure_pool()
            futs: dict[Future, int] = {pool.submit(run_seed, *a): k for k, a in enumerate(args)}
        out: list[dict | None] = [None] * len(seeds)
        pending = set(futs)
        said = -1.0
        while pending:
            done, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
            for f in done:
                out[futs[f]] = f.result()
                with self._lock:  # count the run before its progress file goes: never backwards
                    job["done_runs"] += 1
                Path(args[futs[f]][2]).unlink(missing_ok=True)
            with self._lock:
                now = self._progress(job)
            if pending and now >= said + 0.01:  # at most every 0.5 s, on a change of 1 % or more
                said = now
                self._announce(job)
        return out  # type: ignore[return-value]

    def _ensure_pool(self) -> ProcessPoolExecutor:
        """The worker processes (started on first use; call with the lock held)."""
        if self._pool is None:
            import multiprocessing

            self._pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"))
        return self._pool

    def call(self, fn, *args) -> Future:
        """Run ``fn(*args)`` on the drills' workers (the process pool, or dask when a
        scheduler is set) and return a :class:`concurrent.futures.Future` of its result.

        Other background simulations (the live evacuation forecast) share the drills'
        workers this way; ``fn`` must be a module-level function (it is pickled).
        Raises :class:`Conflict` once the service is stopping.
        """
        with self._lock:
            if self._closed:
                raise Conflict("the service is stopping")
            if not self.scheduler:
                from concurrent.futures.process import BrokenProcessPool

                try:
                    return self._ensure_pool().submit(fn, *args)
                except BrokenProcessPool:  # a worker died (killed, out of memory): start afresh
                    log.warning("drill workers broke; starting new ones")
                    self._pool = None
                    return self._ensure_pool().submit(fn, *args)
            if self._client is None:
                from dask.distributed import Client

                self._client = Client(self.scheduler)
            client = self._client
        out: Future = Future()
        fut = client.submit(fn, *args, pure=False)

        def done(f) -> None:
            try:
                out.set_result(f.result())
            except BaseException as exc:  # noqa: BLE001 - handed to the caller's future
                out.set_exception(exc)
        fut.add_done_callback(done)
        return out

    def _execute_dask(self, job: dict, args: list[tuple]) -> list[dict]:
        from dask.distributed import Client, as_completed

        with self._lock:
            if self._client is None:
                self._client = Client(self.scheduler)
            client = self._client
        futs = {client.submit(run_seed, a[0], a[1], None, a[3], pure=False): k for k, a in enumerate(args)}
        out: list[dict | None] = [None] * len(args)
        for fut in as_completed(futs):
            out[futs[fut]] = fut.result()
            with self._lock:
                job["done_runs"] += 1
            self._announce(job)
        return out  # type: ignore[return-value]

    def _summary(self, results: list[dict], seeds: list[int]) -> dict:
        """The first run's result with ``buildings`` and, for several runs, ``ensemble``."""
        first = dict(results[0])
        first["buildings"] = per_building(self.community, first)
        times = [r["evacuation_time_s"] for r in results]
        done = np.array([t for t in times if t is not None], dtype=float)
        first["ensemble"] = {
            "seeds": seeds, "evacuation_times_s": times,
            "mean_s": round(float(done.mean()), 4) if done.size else None,
            "p95_s": round(float(np.percentile(done, 95)), 4) if done.size else None,
            "incomplete": int(len(times) - done.size)}
        return first

    def close(self) -> None:
        """Cancel what has not started and stop the worker processes."""
        with self._lock:
            self._closed = True
            pool, self._pool = self._pool, None
            client, self._client = self._client, None
            abandoned = [i for i, j in self._jobs.items() if j["status"] in ("queued", "running")]
            stop = self._beats_stop
        if stop is not None:
            stop.set()
        for i in abandoned:  # no heartbeat: other processes read these jobs as failed at once
            (self._folder(i) / "heartbeat.json").unlink(missing_ok=True)
        if pool is not None:
            procs = list(getattr(pool, "_processes", {}).values())
            pool.shutdown(wait=False, cancel_futures=True)
            for p in procs:  # a run in progress is abandoned: its job reads as failed after a restart
                if p.is_alive():
                    p.terminate()
        if client is not None:
            client.close()
