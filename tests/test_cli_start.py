"""``twin`` starts light: ``--help`` (top level and every command's) imports none of the
heavy packages; a command imports what it needs only when it runs (docs/cli.md, start-up).

Functional checks on the modules a fresh interpreter imported (``python -X importtime``),
never a timing assert; the times are in ``benchmarks/cli_start.py``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from tests.conftest import REPO

#: Top-level packages that ``--help`` must not import (each costs 0.05-1 s at start-up).
HEAVY = ("sqlalchemy", "fastapi", "starlette", "uvicorn", "numpy", "shapely", "pyproj",
         "ifcopenshell", "numba", "pandas", "amqtt", "paho", "bim", "sim", "live")

_LINE = re.compile(r"^import time:\s+\d+\s+\|\s+\d+\s+\|\s*(\S+)\s*$")


def imported(*args: str) -> set[str]:
    """Top-level package names a fresh ``python -m services ARGS`` imported."""
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "services", *args], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    names = {m.group(1).split(".")[0] for line in proc.stderr.splitlines() if (m := _LINE.match(line))}
    assert "services" in names and "typer" in names, "no -X importtime lines parsed"
    return names


def test_the_parser_sees_a_heavy_import():
    """The check can fail: a command that runs does import the heavy packages it needs."""
    names = imported("load", str(REPO / "sample_sites" / "tiny"), "--json", "--no-cache")
    assert {"numpy", "shapely", "bim"} <= names


def test_top_level_help_imports_nothing_heavy():
    names = imported("--help")
    # the settings too: they load when a command runs (a sub-command's --help reads them)
    heavy = {*HEAVY, "pydantic_settings"}
    assert not names & heavy, sorted(names & heavy)


def _commands() -> list[str]:
    from services.cli.main import COMMAND_MODULES

    return [*COMMAND_MODULES, "drill"]  # registered by the evacuate module


@pytest.mark.parametrize("command", _commands())
def test_command_help_imports_nothing_heavy(command):
    names = imported(command, "--help")
    assert not names & set(HEAVY), (command, sorted(names & set(HEAVY)))


def test_python_m_services_is_guarded_for_spawned_workers():
    """Drill and forecast workers are started with ``spawn``, which imports the parent's main
    module as ``__mp_main__`` with the parent's argv. ``python -m services serve`` must then
    run nothing (unguarded, every worker started a second service and died at once)."""
    code = ("import runpy, sys; sys.argv = ['services', 'serve', '--site', 'nowhere'];"
            "runpy.run_module('services.__main__', run_name='__mp_main__'); print('imported only')")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "imported only", out.stdout + out.stderr
