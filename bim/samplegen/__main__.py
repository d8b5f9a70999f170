"""Command line: ``python -m bim.samplegen [--out DIR] [--site lakeside|tiny|all] [--json]``."""

from __future__ import annotations

import argparse
import json
import sys

from bim.samplegen.build import generate_site
from bim.samplegen.errors import SampleGenError
from bim.samplegen.sites import SITES


def main(argv: list[str] | None = None) -> int:
    """Generate the chosen sample sites; print a summary (``--json``: machine-readable)."""
    ap = argparse.ArgumentParser(prog="python -m bim.samplegen",
                                 description="Generate the sample sites deterministically.")
    ap.add_argument("--out", default="sample_sites", help="parent folder (default sample_sites)")
    ap.add_argument("--site", default="all", choices=[*SITES, "all"],
                    help="site to generate (default all)")
    ap.add_argument("--json", action="store_true", help="print the summary as JSON")
    args = ap.parse_args(argv)
    names = list(SITES) if args.site == "all" else [args.site]
    summaries = []
    try:
        for name in names:
            summaries.append(generate_site(name, args.out))
    except SampleGenError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    report = [{"site": s.name, "folder": str(s.folder), "seconds": round(s.seconds, 2),
               "counts": s.counts, "files": s.files} for s in summaries]
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        for s in report:
            size = sum(s["files"].values())
            print(f"{s['site']}: {s['folder']} in {s['seconds']} s, {len(s['files'])} files, "
                  f"{size / 1e6:.2f} MB; " + ", ".join(f"{k}={v}" for k, v in s["counts"].items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
