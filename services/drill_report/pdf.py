"""Assemble a drill report PDF (matplotlib ``PdfPages``): title, summary, render, storeys, flows.

Pages, in order (titles as in :data:`PAGE_TITLES`): the title page (site and building
names, scenario: time of day, blocked stairs/exits by name, runs and seeds); the summary
(evacuation time mean / p95 over the runs, per building, every run side by side); exits and
stairs (one or more pages of tables); the 3D render of the towers coloured by queueing time
per storey with a colour bar; the storeys with the longest queueing; the per-exit flow
curves (people out per exit against time, one panel per building, four per page); and,
when another drill is given (``compare``), the comparison pages: both drills' times per
building, exit and staircase and their differences (:func:`compare_drills`).
Names are those people use (:class:`twin.naming.SiteNames`) when the site is known, else
the scenario's own ids.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from services.drill_report.data import CMAP, SLOW_MPS, compare_drills, exit_flow, storey_queueing
from services.drill_report.render import Slab, render_towers, slabs_of

__all__ = ["Labels", "PAGE_TITLES", "title_lines", "write_report"]

PAGE_TITLES = ("title", "summary", "exits and stairs", "render", "storeys", "exit flows", "comparison")
A4_LANDSCAPE_IN = (11.69, 8.27)
ROWS_PER_PAGE = 28
#: Font families tried in order per glyph (CJK names need a CJK font: Debian fonts-noto-cjk).
FONTS = ("DejaVu Sans", "Noto Sans CJK SC", "Noto Sans CJK JP", "WenQuanYi Zen Hei", "Droid Sans Fallback")


def _fonts() -> list[str]:
    from matplotlib import font_manager

    have = {f.name for f in font_manager.fontManager.ttflist}
    return [f for f in FONTS if f in have] or ["DejaVu Sans"]


class _Pages:
    """``PdfPages`` that can also save each page as ``page-<n>.png`` (for docs and checks)."""

    def __init__(self, pdf, png_dir: Path | None) -> None:
        self.pdf, self.png_dir, self.n = pdf, png_dir, 0

    def savefig(self, fig) -> None:
        self.pdf.savefig(fig)
        self.n += 1
        if self.png_dir is not None:
            self.png_dir.mkdir(parents=True, exist_ok=True)
            fig.savefig(self.png_dir / f"page-{self.n}.png", dpi=80)


@dataclass
class Labels:
    """Names for a report: site, buildings, floors, exits and stairs (id → name)."""

    site: str = ""
    buildings: dict[str, str] = field(default_factory=dict)
    floors: dict[str, str] = field(default_factory=dict)
    exits: dict[str, str] = field(default_factory=dict)
    stairs: dict[str, str] = field(default_factory=dict)
    staircase: dict[str, str] = field(default_factory=dict)
    doors: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, community, scenario: dict) -> "Labels":
        """Names from the twin (``community`` may be ``None``: the scenario's ids are kept)."""
        lab = cls(site=str(scenario.get("name", "")))
        if community is not None:
            from twin.naming import SiteNames

            n = SiteNames(community)
            lab.site = community.name or lab.site
            lab.buildings = dict(n.buildings)
            bname = {s.id: n.buildings.get(b.id, b.id) for b in community.buildings for s in b.storeys}
            for f in scenario.get("floors", []):
                bid, _, sid = f["id"].partition("/")
                if sid in n.storeys:
                    lab.floors[f["id"]] = f"{bname.get(sid, bid)} {n.storeys[sid]}"
            lab.exits = {e.id: e.full for e in n.exits}
            lab.doors = {d.id: d.full for d in n.doors}
            lab.stairs = {s.id: s.full for s in n.stairs}
            lab.staircase = {s.id: f"{n.buildings[s.building]} {s.group or s.name}" for s in n.stairs}
        return lab

    def building_of_floor(self, fid: str) -> str:
        return fid.split("/", 1)[0] if "/" in fid else ""

    def building(self, bid: str) -> str:
        return self.buildings.get(bid, bid or "—")

    def floor(self, fid: str) -> str:
        return self.floors.get(fid, fid)

    def exit(self, eid: str) -> str:
        return self.exits.get(eid, self.doors.get(eid, eid))

    def stair(self, sid: str) -> str:
        """A stair link id ``<stair>`` or ``<stair>/<lo>-<hi>`` → its staircase's name."""
        base = sid.split("/", 1)[0]
        return self.staircase.get(base, self.stairs.get(base, sid))

    def blocked(self, ident: str) -> str:
        base = ident.split("/", 1)[0]
        return self.exits.get(ident) or self.doors.get(ident) or self.stairs.get(base) or ident


def _fmt_s(v) -> str:
    return "—" if v is None else f"{float(v):.1f}"


def _new_page(title: str):
    from matplotlib.figure import Figure

    fig = Figure(figsize=A4_LANDSCAPE_IN)
    fig.suptitle(title, fontsize=16, x=0.04, ha="left", y=0.96)
    return fig


def _table(fig, header: list[str], rows: list[list[str]], *, rect=(0.04, 0.06, 0.92, 0.82)) -> None:
    ax = fig.add_axes(rect)
    ax.axis("off")
    if not rows:
        ax.text(0, 1, "(none)", va="top")
        return
    t = ax.table(cellText=rows, colLabels=header, loc="upper left", cellLoc="left", colLoc="left")
    t.auto_set_font_size(False)
    t.set_fontsize(9)
    t.scale(1, 1.25)
    for (r, _c), cell in t.get_celld().items():
        cell.set_edgecolor("#cccccc")
        if r == 0:
            cell.set_facecolor("#eeeeee")


def _table_pages(pdf, pages: list, title: str, header: list[str], rows: list[list[str]], key: str) -> None:
    chunks = [rows[k:k + ROWS_PER_PAGE] for k in range(0, len(rows), ROWS_PER_PAGE)] or [[]]
    for k, chunk in enumerate(chunks):
        fig = _new_page(title + (f" ({k + 1}/{len(chunks)})" if len(chunks) > 1 else ""))
        _table(fig, header, chunk)
        pdf.savefig(fig)
        pages.append(key)


def title_lines(lab: Labels, result: dict, scenario: dict, meta: dict) -> list[tuple[str, str]]:
    """Return the title page's ``(label, text)`` lines: site, buildings, drill, scenario, people."""
    ens = result.get("ensemble") or {}
    seeds = ens.get("seeds") or [result.get("seed")]
    bids = sorted({lab.building_of_floor(f["id"]) for f in scenario.get("floors", [])})
    blocked = [lab.blocked(b) for b in (meta.get("blocked") or scenario.get("blocked", []))]
    return [
        ("site", lab.site or "—"),
        ("buildings", "、".join(lab.building(b) for b in bids) or "—"),
        ("drill", meta.get("drill") or "—"),
        ("created", meta.get("created") or "—"),
        ("time of day", meta.get("time_of_day") or "—"),
        ("blocked", "、".join(dict.fromkeys(blocked)) or "none"),
        ("runs", str(len(seeds))),
        ("seeds", ", ".join(str(s) for s in seeds[:20]) + (" …" if len(seeds) > 20 else "")),
        ("people", f"{result.get('evacuated', 0)} evacuated, {result.get('not_evacuated', 0)} not"),
    ]


def _title_page(pdf, pages, lab: Labels, result: dict, scenario: dict, meta: dict) -> None:
    fig = _new_page("疏散演练报告 Evacuation drill report")
    y = 0.82
    for k, v in title_lines(lab, result, scenario, meta):
        text = _wrap(v, 80)
        fig.text(0.06, y, k, fontsize=12, color="#555555", va="top")
        fig.text(0.24, y, text, fontsize=12, va="top")
        y -= 0.07 + 0.03 * text.count("\n")
    pdf.savefig(fig)
    pages.append("title")


def _wrap(text: str, width: int) -> str:
    return "\n".join(text[k:k + width] for k in range(0, len(text), width)) or text


def _summary_page(pdf, pages, lab: Labels, result: dict) -> None:
    fig = _new_page("Summary")
    ens = result.get("ensemble") or {}
    times = ens.get("evacuation_times_s") or [result.get("evacuation_time_s")]
    mean_s = ens.get("mean_s", result.get("evacuation_time_s"))
    p95_s = ens.get("p95_s", result.get("evacuation_time_s"))
    fig.text(0.04, 0.86, f"total evacuation time: mean {_fmt_s(mean_s)} s, p95 {_fmt_s(p95_s)} s over "
             f"{len(times)} run(s); incomplete runs: {ens.get('incomplete', 0)}", fontsize=12)
    rows = [[lab.building(b) if b != "?" else "other", _fmt_s(v.get("evacuation_time_s")), str(v.get("evacuated", 0)),
             str(len(v.get("exits", {})))] for b, v in sorted((result.get("buildings") or {}).items())
            if b != "?" or v.get("evacuated") or v.get("exits")]  # "?": stair flights of no known building
    _table(fig, ["building", "last person out (s)", "people out", "exits"], rows[:12], rect=(0.04, 0.45, 0.55, 0.37))
    seeds = ens.get("seeds") or [result.get("seed")]
    runs = [[str(k + 1), str(s), _fmt_s(t)] for k, (s, t) in enumerate(zip(seeds, times))]
    _table(fig, ["run", "seed", "evacuation time (s)"], runs[:12], rect=(0.62, 0.45, 0.34, 0.37))
    if len(times) > 1:  # every run side by side
        ax = fig.add_axes((0.08, 0.07, 0.86, 0.3))
        ax.bar(range(1, len(times) + 1), [t if t is not None else 0 for t in times], color="#c0504d")
        ax.set_xlabel("run")
        ax.set_ylabel("evacuation time (s)")
    pdf.savefig(fig)
    pages.append("summary")


def _exits_stairs_pages(pdf, pages, lab: Labels, result: dict) -> None:
    rows = [[lab.exit(e), str(v["count"]), _fmt_s(v.get("first_s")), _fmt_s(v.get("last_s"))]
            for e, v in sorted(result.get("exits", {}).items(), key=lambda kv: lab.exit(kv[0]))]
    per_case: dict[str, int] = {}
    for s, v in result.get("stairs", {}).items():
        per_case[lab.stair(s)] = max(per_case.get(lab.stair(s), 0), int(v["count"]))
    rows += [[f"stair {k}", str(c), "", ""] for k, c in sorted(per_case.items())]
    _table_pages(pdf, pages, "Exits and stairs",
                 ["exit / stair", "people (stair: busiest flight)", "first out (s)", "last out (s)"],
                 rows, "exits and stairs")


def _render_page(pdf, pages, lab: Labels, slabs: list[Slab], queue: dict, png: Path | None) -> None:
    from matplotlib import colormaps
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    values = {fid: q["mean_s"] for fid, q in queue.items()}
    vmax = max([v for v in values.values() if v is not None] or [0.0]) or 1.0
    tops: dict[str, tuple[float, float, float]] = {}
    for s in slabs:  # a label over each tower's highest storey
        b = lab.building_of_floor(s.floor)
        c = s.footprint.centroid
        z = s.z_m + s.height_m
        if b not in tops or z > tops[b][2]:
            tops[b] = (c.x, c.y, z + 3.0)
    img, px = render_towers(slabs, values, vmax=vmax, probes=list(tops.values()))
    if png is not None:
        from matplotlib.image import imsave

        imsave(png, img)
    fig = _new_page(f"Queueing time per storey (mean s per person; moving slower than {SLOW_MPS:g} m/s)")
    ax = fig.add_axes((0.02, 0.03, 0.84, 0.86))
    ax.imshow(img)
    ax.axis("off")
    for b, (x, y) in zip(tops, px):
        if 0 <= x < img.shape[1] and 0 <= y < img.shape[0]:
            ax.text(x, y, lab.building(b), ha="center", va="bottom", fontsize=10,
                    bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.7, "pad": 1})
    cax = fig.add_axes((0.89, 0.15, 0.02, 0.65))
    fig.colorbar(ScalarMappable(Normalize(0, vmax), colormaps[CMAP].resampled(256)), cax=cax,
                 label="queueing time per person (s)")
    fig.text(0.89, 0.1, "grey: nobody", fontsize=9)
    pdf.savefig(fig)
    pages.append("render")


def _storeys_page(pdf, pages, lab: Labels, queue: dict) -> None:
    ranked = sorted(((fid, q) for fid, q in queue.items() if q["people"]),
                    key=lambda kv: (-(kv[1]["mean_s"] or 0.0), kv[0]))
    rows = [[lab.floor(fid), str(q["people"]), _fmt_s(q["mean_s"]), _fmt_s(q["max_s"]), _fmt_s(q["queue_person_s"])]
            for fid, q in ranked[:ROWS_PER_PAGE]]
    fig = _new_page(f"Storeys with the longest queueing (top {min(len(ranked), ROWS_PER_PAGE)} of {len(ranked)})")
    _table(fig, ["storey", "people", "mean queueing (s)", "longest (s)", "total (person·s)"], rows)
    pdf.savefig(fig)
    pages.append("storeys")


def _flow_pages(pdf, pages, lab: Labels, result: dict, scenario: dict) -> None:
    flow = exit_flow(result)
    floor_b = {f["id"]: lab.building_of_floor(f["id"]) for f in scenario.get("floors", [])}
    exit_b = {e["id"]: floor_b.get(e["floor"], "") for e in scenario.get("exits", [])}
    groups: dict[str, list[str]] = {}
    for e in flow["exits"]:
        groups.setdefault(exit_b.get(e, ""), []).append(e)
    keys = sorted(groups, key=lab.building)
    t = np.asarray(flow["t_s"])
    for k in range(0, max(len(keys), 1), 4):
        fig = _new_page("People out per exit")
        chunk = keys[k:k + 4]
        shape = {1: (1, 1), 2: (1, 2)}.get(len(chunk), (2, 2))
        for j, b in enumerate(chunk):
            ax = fig.add_subplot(*shape, j + 1)
            for e in sorted(groups[b], key=lab.exit):
                ax.step(t, flow["exits"][e], where="post", label=lab.exit(e))
            ax.set_title(lab.building(b) if b else "all exits", fontsize=11)
            ax.set_xlabel("time (s)")
            ax.set_ylabel("people out")
            ax.grid(alpha=0.3)
            ax.legend(fontsize=7, loc="upper left")
        fig.subplots_adjust(top=0.88, hspace=0.35, wspace=0.2)
        pdf.savefig(fig)
        pages.append("exit flows")


def _diff_text(v) -> str:
    return "—" if v is None else f"{float(v):+.1f}"


def _comparison_pages(pdf, pages, lab: Labels, result: dict, meta: dict, other: dict) -> dict:
    """Both drills' times and their differences (B − A): total, buildings, exits, staircases."""
    cmp = compare_drills(result, other["result"])
    a_name, b_name = meta.get("drill") or "A", other.get("drill") or "B"
    named = [("site", "all buildings", cmp["total"])]
    named += [("building", lab.building(r["id"]) if r["id"] != "?" else "other", r) for r in cmp["buildings"]]
    named += [("exit", lab.exit(r["id"]), r) for r in sorted(cmp["exits"], key=lambda r: lab.exit(r["id"]))]
    named += [("stair", lab.stair(r["id"]), r) for r in sorted(cmp["stairs"], key=lambda r: lab.stair(r["id"]))]
    rows = [[kind, name, _fmt_s(r["a_s"]), _fmt_s(r["b_s"]), _diff_text(r["diff_s"])] for kind, name, r in named]
    _table_pages(pdf, pages, f"Comparison: drill A {a_name} and drill B {b_name} (last person out, s)",
                 ["", "building / exit / staircase", f"A {a_name} (s)", f"B {b_name} (s)", "B − A (s)"],
                 rows, "comparison")
    return cmp


def write_report(out: str | Path, *, result: dict, scenario: dict, trajectories: dict | None,
                 community=None, meta: dict | None = None, render_png: str | Path | None = None,
                 pages_png: str | Path | None = None, compare: dict | None = None) -> dict:
    """Write the drill report PDF to ``out``; return ``{"pages", "storeys", "flow"}``.

    ``result`` is an evacuation result (a drill's, with ``buildings`` and ``ensemble`` when
    present); ``scenario`` the scenario that ran; ``trajectories`` the first run's (without
    them every storey is "no data"); ``meta`` may give ``drill``, ``created``,
    ``time_of_day`` and ``blocked`` (ids of blocked doors, exits and stairs; default the
    scenario's ``blocked``, which does not list doors: the builder removes their openings). ``render_png`` also saves the render as a PNG, ``pages_png`` (a folder) every page as
    ``page-<n>.png``. ``compare`` (``{"drill", "result"}``: another drill's id and result)
    adds the comparison pages at the end (this drill is A, the other B). The file is
    written to a temporary name and moved into place.
    """
    import logging

    import matplotlib
    from matplotlib.backends.backend_pdf import PdfPages

    logging.getLogger("fontTools").setLevel(logging.WARNING)  # font subsetting chatter
    out = Path(out)
    lab = Labels.of(community, scenario)
    slabs = slabs_of(scenario)
    queue = storey_queueing(trajectories) if trajectories else {}
    queue = {s.floor: queue.get(s.floor, {"people": 0, "queue_person_s": 0.0, "mean_s": None, "max_s": None})
             for s in slabs}
    pages: list[str] = []
    meta = dict(meta or {})
    tmp = out.with_name(out.name + f".{os.getpid()}.tmp")
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        with matplotlib.rc_context({"font.family": _fonts(), "pdf.fonttype": 42, "axes.unicode_minus": False}):
            with PdfPages(tmp, metadata={"Title": f"Evacuation drill report {meta.get('drill', '')}".strip(),
                                         "Creator": "community twin"}) as doc:
                pdf = _Pages(doc, Path(pages_png) if pages_png else None)
                _title_page(pdf, pages, lab, result, scenario, meta)
                _summary_page(pdf, pages, lab, result)
                _exits_stairs_pages(pdf, pages, lab, result)
                _render_page(pdf, pages, lab, slabs, queue, Path(render_png) if render_png else None)
                _storeys_page(pdf, pages, lab, queue)
                _flow_pages(pdf, pages, lab, result, scenario)
                cmp = _comparison_pages(pdf, pages, lab, result, meta, compare) if compare is not None else None
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return {"pages": pages, "storeys": queue, "flow": exit_flow(result), "comparison": cmp}
