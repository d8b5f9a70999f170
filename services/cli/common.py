"""Helpers shared by the CLI commands: JSON output, progress, logging."""

from __future__ import annotations

import json
import sys
from functools import lru_cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["err_console", "json_text", "print_json", "setup_logging", "stderr_console"]


@lru_cache(maxsize=1)
def stderr_console() -> Console:
    """The rich console on stderr (rich loads on the first call, not at start-up)."""
    from rich.console import Console

    return Console(stderr=True)


class _StderrConsole:
    """Stands for :func:`stderr_console` until used (``err_console.print(...)``); pass
    ``stderr_console()`` itself where rich needs a real :class:`~rich.console.Console`."""

    def __getattr__(self, name: str) -> Any:
        return getattr(stderr_console(), name)


#: Human output and progress go to stderr so that ``--json`` stdout stays one JSON document.
err_console: Any = _StderrConsole()


def json_text(obj: Any) -> str:
    """The text :func:`print_json` writes for ``obj`` (one JSON document and a newline)."""
    return json.dumps(obj, ensure_ascii=False, default=str) + "\n"


def print_json(obj: Any) -> None:
    """Write ``obj`` as one JSON document on stdout."""
    sys.stdout.write(json_text(obj))
    sys.stdout.flush()


def setup_logging(level: str = "INFO") -> None:
    """Configure logging to stderr once."""
    import logging

    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
