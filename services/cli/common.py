"""Helpers shared by the CLI commands: JSON output, progress, logging."""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

from rich.console import Console

__all__ = ["err_console", "print_json", "setup_logging"]

#: Human output and progress go to stderr so that ``--json`` stdout stays one JSON document.
err_console = Console(stderr=True)


def print_json(obj: Any) -> None:
    """Write ``obj`` as one JSON document on stdout."""
    sys.stdout.write(json.dumps(obj, ensure_ascii=False, default=str))
    sys.stdout.write("\n")
    sys.stdout.flush()


def setup_logging(level: str = "INFO") -> None:
    """Configure logging to stderr once."""
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
