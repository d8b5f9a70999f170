"""``twin load --json`` answered from the summary cache (services/cli/summary_cache.py).

The cached answer must be byte for byte the uncached one, must not survive a change of
any input, and must be what actually answered a warm call (a fresh interpreter that
imported neither the CLI framework nor NumPy, seen with ``python -X importtime``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from services.cli.summary_cache import _parse
from tests.conftest import REPO, SAMPLE_SITES, SERVE_SECRETS


def _twin(*args: str, data_dir) -> tuple[str, set[str]]:
    """stdout and the top-level packages imported by a fresh ``python -m services ARGS``."""
    env = {**os.environ, **SERVE_SECRETS, "TWIN_DATA_DIR": str(data_dir), "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("TWIN_CACHE_DIR", None)
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "services", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    names = {line.split("|")[-1].strip().split(".")[0] for line in proc.stderr.splitlines()
             if line.startswith("import time:") and line.count("|") == 2}
    assert "services" in names, "no -X importtime lines parsed"
    return proc.stdout, names


@pytest.fixture
def site(tmp_path):
    dest = tmp_path / "tiny"
    shutil.copytree(SAMPLE_SITES / "tiny", dest)
    return dest


def test_cached_answer_is_the_uncached_one_and_answers_without_heavy_imports(site, tmp_path):
    data = tmp_path / "data"
    uncached, _ = _twin("load", str(site), "--json", "--no-cache", data_dir=data)
    first, first_names = _twin("load", str(site), "--json", data_dir=data)
    warm, warm_names = _twin("load", str(site), "--json", data_dir=data)
    assert {"typer", "numpy"} <= first_names  # the first call did the work
    assert uncached == first == warm
    assert json.loads(warm)["site"] == "tiny"
    # the warm call was the cache's: no CLI framework, no NumPy, no readers
    assert not warm_names & {"typer", "click", "rich", "numpy", "shapely", "bim", "pydantic"}, sorted(warm_names)
    assert len(list((data / "cache" / "summary").glob("*.json"))) == 1


def test_doors_have_their_own_entry(site, tmp_path):
    data = tmp_path / "data"
    plain, _ = _twin("load", str(site), "--json", data_dir=data)
    with_doors, _ = _twin("load", str(site), "--json", "--doors", data_dir=data)
    again, names = _twin("load", "--doors", str(site), "--json", data_dir=data)
    assert "doors" not in json.loads(plain) and json.loads(with_doors)["doors"]
    assert again == with_doors and "numpy" not in names


def test_a_changed_or_added_input_is_not_answered_from_the_cache(site, tmp_path):
    data = tmp_path / "data"
    before, _ = _twin("load", str(site), "--json", data_dir=data)
    manifest = json.loads((site / "site.json").read_text(encoding="utf-8"))
    manifest["name"] = "renamed"
    (site / "site.json").write_text(json.dumps(manifest), encoding="utf-8")
    after, names = _twin("load", str(site), "--json", data_dir=data)
    assert json.loads(before)["site"] == "tiny" and json.loads(after)["site"] == "renamed"
    assert "numpy" in names
    (site / "notes.txt").write_text("a new file in the site folder", encoding="utf-8")
    _, names = _twin("load", str(site), "--json", data_dir=data)
    assert "numpy" in names  # a new file: recomputed
    _, names = _twin("load", str(site), "--json", data_dir=data)
    assert "numpy" not in names  # and cached again


def test_a_corrupt_entry_is_ignored(site, tmp_path):
    data = tmp_path / "data"
    good, _ = _twin("load", str(site), "--json", data_dir=data)
    (entry,) = (data / "cache" / "summary").glob("*.json")
    entry.write_text("{not json", encoding="utf-8")
    again, names = _twin("load", str(site), "--json", data_dir=data)
    assert again == good and "numpy" in names


@pytest.mark.parametrize("argv, expected", [
    (["load", "x", "--json"], ("x", False, None)),
    (["load", "--json", "x", "--doors", "--cache-dir", "c"], ("x", True, "c")),
    (["load", "x", "--json", "--cache-dir=c"], ("x", False, "c")),
    (["load", "x"], None),                                  # human output
    (["load", "x", "--json", "--no-cache"], None),
    (["load", "x", "--json", "--export-json", "m.json"], None),
    (["load", "x", "y", "--json"], None),
    (["load", "x", "--json", "--help"], None),
    (["load", "--json", "--cache-dir"], None),
    (["ifc", "x", "--json"], None),
    ([], None),
])
def test_only_plain_load_json_takes_the_fast_path(argv, expected):
    assert _parse(argv) == expected
