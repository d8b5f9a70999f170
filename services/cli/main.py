"""Entry point of the ``twin`` command: sub-commands and the one-line error policy.

Errors a user can cause (:class:`twin.errors.TwinError` and its subclasses, missing files,
bad JSON) print one line ``error: ...`` on stderr and exit with code 2, no traceback.

This module stays light (no CLI framework at import): :func:`main` first lets
:mod:`services.cli.summary_cache` answer a warm ``twin load PATH --json`` from its cache,
and imports the Typer app (:mod:`services.cli.app`) only for everything else. ``app`` is
still importable from here.
"""

from __future__ import annotations

import json
import sys

from twin.errors import TwinError

__all__ = ["COMMAND_MODULES", "USER_ERRORS", "app", "main"]

#: Sub-command modules of ``services.cli``; each defines ``register(app)``.
COMMAND_MODULES: list[str] = ["load", "demo", "ifc", "elevators", "cleaning", "serve", "devices",
                              "users", "billing", "units", "evacuate", "metering", "backup", "ingest"]

#: Exceptions that are the user's input, not a bug: one line, exit code 2.
USER_ERRORS: tuple[type[BaseException], ...] = (
    TwinError, FileNotFoundError, IsADirectoryError, NotADirectoryError,
    json.JSONDecodeError, PermissionError,
)


def __getattr__(name: str):
    if name == "app":  # the Typer app loads on first use
        from services.cli.app import app

        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; turn user errors into one line on stderr and exit code 2."""
    from services.cli.summary_cache import try_fast

    if try_fast(sys.argv[1:] if argv is None else list(argv)):
        return
    from services.cli.app import app

    try:
        # standalone mode: usage errors print usage and exit 2, --help exits 0
        app(args=argv, prog_name="twin")
    except USER_ERRORS as exc:
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        sys.stderr.write(f"error: {msg}\n")
        sys.exit(2)


if __name__ == "__main__":
    main()
