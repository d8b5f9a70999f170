"""Drill playback cost in the browser: stair gaps at load, the density layer per frame.

    python benchmarks/drill_playback.py [--site sample_sites/tiny] [--agents 5000] [--frames 240]

Synthetic trajectories on the site's first building: ``--agents`` people walking on its
storeys; in the "stairs" variant every third person is inside a stair for 10 frames (in no
frame) between two storeys, which the viewer fills along the flight at load. Printed, each
against its baseline measured in the same run (medians of rounds):

- load: ``loadDrill`` time with the stair gaps vs without (ratio);
- per frame: ``seek`` (place every agent) with the density layer on vs off (ratio).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.viewer import CHROMIUM_ARGS, Server, say  # noqa: E402


def drill(floors: list[str], centre: tuple[float, float], n: int, n_frames: int, stairs: bool) -> dict:
    frames = []
    for k in range(n_frames):
        i, f, x, y = [], [], [], []
        for a in range(n):
            fl = a % len(floors)
            if stairs and a % 3 == 0:
                gap = 20 + (a % 7) * 5
                if gap <= k < gap + 10:
                    continue  # inside the stair
                if k >= gap + 10:
                    fl = max(fl - 1, 0)
            i.append(a)
            f.append(fl)
            x.append(round(centre[0] + (a % 50) * 0.4 + 0.01 * k, 3))
            y.append(round(centre[1] + (a // 50 % 20) * 0.4, 3))
        frames.append({"t": k * 0.5, "i": i, "f": f, "x": x, "y": y})
    return {"evacuation_time_s": (n_frames - 1) * 0.5,
            "trajectories": {"schema_version": 1, "every_s": 0.5, "agents": [f"a{a}" for a in range(n)],
                             "floors": floors, "frames": frames}}


LOAD = """(d) => { const t0 = performance.now(); window.twinViewer.loadDrill(d, 0, 'bench');
                   return performance.now() - t0; }"""
SEEK = """([on, n]) => { const v = window.twinViewer; v.heatmap(on); const dur = v.drillState()[0].duration_s;
                   const t0 = performance.now();
                   for (let k = 0; k < n; k++) v.seek((k * 7.3) % dur);
                   return (performance.now() - t0) / n; }"""


def run(site: Path, n_agents: int, n_frames: int, rounds: int) -> dict:
    import bim
    from playwright.sync_api import sync_playwright

    say(f"loading site {site}")
    community = bim.load(site)
    b = next(x for x in community.buildings if x.storeys)
    floors = [f"{b.id}/{s.id}" for s in sorted(b.storeys, key=lambda s: s.elevation_m)]
    c = b.footprint.centroid if b.footprint is not None else b.storeys[0].walkable.centroid
    plain = drill(floors, (c.x, c.y), n_agents, n_frames, stairs=False)
    gaps = drill(floors, (c.x, c.y), n_agents, n_frames, stairs=True)
    out: dict = {"site": community.name, "agents": n_agents, "frames": n_frames}
    with tempfile.TemporaryDirectory() as tmp, Server(community, site, Path(tmp)) as url, sync_playwright() as pw:
        exe = os.environ.get("TWIN_CHROMIUM", "/usr/bin/chromium")
        browser = pw.chromium.launch(executable_path=exe, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.goto(url + "/")
        page.evaluate("window.twinViewer.ready")
        load_plain, load_gaps, off, on = [], [], [], []
        for r in range(rounds):
            say(f"round {r + 1}/{rounds}")
            load_plain.append(page.evaluate(LOAD, plain))
            load_gaps.append(page.evaluate(LOAD, gaps))
            off.append(page.evaluate(SEEK, [False, 50]))
            on.append(page.evaluate(SEEK, [True, 50]))
        st = page.evaluate("window.twinViewer.drillState()[0]")
        browser.close()
    med = statistics.median
    out.update(load_ms_plain=round(med(load_plain), 1), load_ms_stairs=round(med(load_gaps), 1),
               load_ratio_stairs_vs_plain=round(med(g / p for g, p in zip(load_gaps, load_plain)), 3),
               seek_ms_density_off=round(med(off), 3), seek_ms_density_on=round(med(on), 3),
               seek_ratio_density_on_vs_off=round(med(a / b for a, b in zip(on, off)), 3),
               density_cells_last=st["density_cells"])
    return out


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--site", type=Path, default=Path("sample_sites/tiny"))
    p.add_argument("--agents", type=int, default=5000)
    p.add_argument("--frames", type=int, default=240)
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args(argv)
    print(json.dumps(run(args.site, args.agents, args.frames, args.rounds), indent=2))


if __name__ == "__main__":
    main()
