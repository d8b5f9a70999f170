"""Facade texture cost: overview fps with the facade texture vs plain shells (``?facade=off``),
same scene, same canvas, interleaved rounds in one headless Chromium (software WebGL: read the
ratio, not the fps). Also checks that the texture adds no triangle.

Usage::

    python benchmarks/facade.py [--site sample_sites/tiny] [--seconds 2.5] [--rounds 3]

Prints one JSON object (a summary on stderr).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.viewer import CHROMIUM_ARGS, Server, measure_fps, say  # noqa: E402


def run(site: Path, seconds: float, rounds_n: int) -> dict:
    import bim
    from playwright.sync_api import sync_playwright

    community = bim.load(site)
    out: dict = {"site": community.name}
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=os.environ.get("TWIN_CHROMIUM", "/usr/bin/chromium"),
                                     headless=True, args=CHROMIUM_ARGS)
        pages = {k: browser.new_page(viewport={"width": 1280, "height": 800}) for k in ("facade", "plain")}
        with Server(community, site, Path(tmp) / "data") as url:
            for k, page in pages.items():
                page.goto(url + ("/" if k == "facade" else "/?facade=off"))
                out[f"{k}_stats"] = page.evaluate("window.twinViewer.ready")
                page.wait_for_timeout(1000)
            rounds = []
            for _ in range(rounds_n):  # one page at a time: the other is in the background
                r = {}
                for k, page in pages.items():
                    page.bring_to_front()
                    r[k] = measure_fps(page, seconds)
                rounds.append(r)
        browser.close()
    out["fps_rounds"] = [{k: round(v, 2) for k, v in r.items()} for r in rounds]
    out["fps_facade"] = round(statistics.median(r["facade"] for r in rounds), 2)
    out["fps_plain"] = round(statistics.median(r["plain"] for r in rounds), 2)
    out["fps_ratio_facade_vs_plain"] = round(statistics.median(r["facade"] / r["plain"] for r in rounds), 3)
    out["same_triangles"] = out["facade_stats"]["triangles"] == out["plain_stats"]["triangles"]
    say(f"overview fps: facade {out['fps_facade']}, plain {out['fps_plain']} (ratio "
        f"{out['fps_ratio_facade_vs_plain']}); triangles {out['facade_stats']['triangles']} / "
        f"{out['plain_stats']['triangles']}")
    return out


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--site", type=Path, default=REPO / "sample_sites" / "tiny")
    p.add_argument("--seconds", type=float, default=2.5)
    p.add_argument("--rounds", type=int, default=3)
    a = p.parse_args(argv)
    print(json.dumps(run(a.site, a.seconds, a.rounds), indent=1))


if __name__ == "__main__":
    main()
