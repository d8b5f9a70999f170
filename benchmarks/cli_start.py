"""Benchmark of the ``twin`` command's start-up and of ``twin demo``'s stop on Ctrl-C.

Each command runs ``--repeat`` times in a fresh interpreter (``python -m services ...``);
the figure is the median wall time. Two baselines run in the same rounds, interleaved:
``python -c pass`` (the interpreter) and ``python -c "import typer"`` (the CLI framework),
and every figure is also printed as a ratio to them, which a loaded machine disturbs less
than seconds, next to the median CPU seconds (user + system) of the child, which waiting for
a core does not inflate.

- ``help``: ``twin --help`` (target <= 0.3 s);
- ``load``: warm ``twin load sample_sites/lakeside --json`` (the cache filled by one
  untimed run first; target <= 0.5 s);
- ``demo stop`` (``--demo``): ``twin demo --site sample_sites/tiny`` started, ``/api/health``
  answered 200 and a few seconds of device traffic, then SIGINT; the time from the signal
  to the process's exit (target <= 3 s), and whether stderr says "did not finish cleanly".

Usage::

    python benchmarks/cli_start.py [--repeat 7] [--demo] [--demo-repeat 3] [--site DIR] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _env(data_dir: str) -> dict[str, str]:
    env = {**os.environ, "TWIN_DATA_DIR": data_dir}
    env.pop("TWIN_MQTT_URL", None)   # the embedded broker
    env.pop("TWIN_DB_URL", None)     # SQLite in the data folder
    return env


def _run(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds: user + system of the child)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    subprocess.run(argv, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   check=True)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def start_times(repeat: int, env: dict[str, str]) -> tuple[dict[str, float], dict[str, float]]:
    """Median wall and CPU seconds of each command, the rounds interleaved."""
    py = sys.executable
    commands = {
        "python -c pass": [py, "-c", "pass"],
        "import typer": [py, "-c", "import typer"],
        "twin --help": [py, "-m", "services", "--help"],
        "twin load --json (warm)": [py, "-m", "services", "load", "sample_sites/lakeside", "--json"],
    }
    _run(commands["twin load --json (warm)"], env)  # fill the derived-model cache
    wall: dict[str, list[float]] = {k: [] for k in commands}
    cpu: dict[str, list[float]] = {k: [] for k in commands}
    for _ in range(repeat):
        for name, argv in commands.items():
            w, c = _run(argv, env)
            wall[name].append(w)
            cpu[name].append(c)
    return ({k: statistics.median(v) for k, v in wall.items()},
            {k: statistics.median(v) for k, v in cpu.items()})


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def demo_stop(site: Path, traffic_s: float = 3.0, timeout_s: float = 240.0) -> tuple[float, bool]:
    """Start ``twin demo``, wait for health and traffic, send SIGINT; (seconds to exit, clean)."""
    with tempfile.TemporaryDirectory() as data:
        port = _free_port()
        err_path = Path(data) / "stderr.txt"
        with open(err_path, "w") as err:
            proc = subprocess.Popen([sys.executable, "-m", "services", "demo", "--site", str(site),
                                     "--port", str(port)], cwd=REPO, env=_env(data),
                                    stdout=subprocess.DEVNULL, stderr=err)
            try:
                deadline = time.monotonic() + timeout_s
                while True:
                    if proc.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(f"twin demo did not come up: {err_path.read_text()[-2000:]}")
                    try:
                        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=2) as r:
                            if r.status == 200:
                                break
                    except OSError:
                        pass
                    time.sleep(0.2)
                time.sleep(traffic_s)
                t = time.perf_counter()
                proc.send_signal(signal.SIGINT)
                proc.wait(timeout=120)
                stop_s = time.perf_counter() - t
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
        clean = "did not finish cleanly" not in err_path.read_text()
    return stop_s, clean


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=7, help="fresh interpreters per command")
    ap.add_argument("--demo", action="store_true", help="also time twin demo's stop on SIGINT")
    ap.add_argument("--demo-repeat", type=int, default=3)
    ap.add_argument("--site", type=Path, default=REPO / "sample_sites" / "tiny", help="site of the demo")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args()

    out: dict = {}
    with tempfile.TemporaryDirectory() as data:
        med, cpu = start_times(args.repeat, _env(data))
    base, typer_s = med["python -c pass"], med["import typer"]
    out["start_s"] = {k: round(v, 3) for k, v in med.items()}
    out["start_cpu_s"] = {k: round(v, 3) for k, v in cpu.items()}
    out["ratio_to_python"] = {k: round(v / base, 2) for k, v in med.items()}
    out["ratio_to_typer"] = {k: round(v / typer_s, 2) for k, v in med.items()}
    out["targets_met"] = {"twin --help <= 0.3 s": med["twin --help"] <= 0.3,
                          "warm twin load --json <= 0.5 s": med["twin load --json (warm)"] <= 0.5}
    if args.demo:
        runs = [demo_stop(args.site) for _ in range(args.demo_repeat)]
        stops = [s for s, _ in runs]
        out["demo_stop_s"] = {"site": args.site.name, "runs": [round(s, 2) for s in stops],
                              "median": round(statistics.median(stops), 2),
                              "all_clean": all(c for _, c in runs)}
        out["targets_met"]["twin demo stops <= 3 s after SIGINT"] = statistics.median(stops) <= 3.0
    if args.json:
        print(json.dumps(out, indent=1))
        return
    print(f"{'command':28} {'median s':>9} {'/python':>8} {'/typer':>7} {'CPU s':>7}   "
          f"({args.repeat} runs each; wall medians, CPU = user + system)")
    for k, v in med.items():
        print(f"{k:28} {v:9.3f} {v / base:8.2f} {v / typer_s:7.2f} {cpu[k]:7.3f}")
    if args.demo:
        d = out["demo_stop_s"]
        print(f"twin demo --site {d['site']}: SIGINT -> exit {d['runs']} s, median {d['median']} s, "
              f"{'clean' if d['all_clean'] else 'NOT clean'}")
    for k, ok in out["targets_met"].items():
        print(f"{'met ' if ok else 'MISSED'} {k}")


if __name__ == "__main__":
    main()
