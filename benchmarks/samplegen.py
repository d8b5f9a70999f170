"""Benchmark of the sample-site generator: generation time, file sizes, read-back cost.

Prints, per site: generation wall time (median of ``--repeat`` runs into a temporary
folder), total and per-file sizes, and the time ifcopenshell needs to open the written
IFC files (the baseline measured in the same run: generation / open ratio). For the
tallest tower it also times triangulating every product with ``ifcopenshell.geom``
(what the viewer's mesh export pays), to show what mapped representations save: the
number of distinct representation maps against the number of products.

Run: ``python benchmarks/samplegen.py [--repeat 3]``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import ifcopenshell  # noqa: E402
import ifcopenshell.geom  # noqa: E402

from bim.samplegen import generate_site  # noqa: E402


def _time(fn, repeat: int) -> float:
    """Median wall time (s) of ``repeat`` calls."""
    return _times(fn, repeat)[0]


def _times(fn, repeat: int) -> tuple[float, float]:
    """Median wall and CPU (process) time (s) of ``repeat`` calls: CPU time is the steadier
    figure on a shared machine."""
    wall, cpu = [], []
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return statistics.median(wall), statistics.median(cpu)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for site in ("tiny", "lakeside"):
            gen_s, gen_cpu = _times(lambda: generate_site(site, tmp, log=lambda m: None),
                                    args.repeat)
            folder = Path(tmp) / site
            ifcs = sorted((folder / "ifc").glob("*.ifc"))
            open_s, open_cpu = _times(lambda: [ifcopenshell.open(str(p)) for p in ifcs],
                                      args.repeat)
            total = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
            ifc_total = sum(p.stat().st_size for p in ifcs)
            print(f"{site}: generate {gen_s:.2f} s wall / {gen_cpu:.2f} s CPU, open all IFC "
                  f"{open_s:.3f} s wall / {open_cpu:.3f} s CPU (CPU ratio "
                  f"{gen_cpu / max(open_cpu, 1e-9):.1f}), folder {total / 1e6:.2f} MB, "
                  f"IFC {ifc_total / 1e6:.2f} MB")
            for p in ifcs:
                print(f"  {p.name}: {p.stat().st_size / 1e3:.0f} kB")
        b1 = Path(tmp) / "lakeside" / "ifc" / "B1.ifc"
        f = ifcopenshell.open(str(b1))
        products = [e for e in f.by_type("IfcProduct") if e.Representation is not None]
        maps = f.by_type("IfcRepresentationMap")
        settings = ifcopenshell.geom.settings()

        def tessellate():
            it = ifcopenshell.geom.iterator(settings, f)
            it.initialize()
            while it.next():
                pass

        tess_s = _time(tessellate, 1)
        print(f"B1 (33 storeys): {len(products)} products with geometry share "
              f"{len(maps)} representation maps (ratio {len(products) / len(maps):.0f}); "
              f"tessellating all takes {tess_s:.1f} s")


if __name__ == "__main__":
    main()
