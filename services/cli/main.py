"""Entry point of the ``twin`` command: sub-commands and the one-line error policy.

Errors a user can cause (:class:`twin.errors.TwinError` and its subclasses, missing files,
bad JSON) print one line ``error: ...`` on stderr and exit with code 2, no traceback.
"""

from __future__ import annotations

import json
import sys

import typer

from services.cli.common import setup_logging
from twin.errors import TwinError

app = typer.Typer(
    name="twin",
    help="The community twin: a digital twin of a residential community.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _configure() -> None:
    # runs before a sub-command, never for ``twin --help``: the settings (pydantic) load only
    # when a command runs (see docs/cli.md, start-up)
    from services.settings import get_settings

    setup_logging(get_settings().log_level)


def _register() -> None:
    """Attach each sub-command module (one line per module)."""
    import importlib

    for name in COMMAND_MODULES:
        importlib.import_module(f"services.cli.{name}").register(app)


#: Sub-command modules of ``services.cli``; each defines ``register(app)``.
COMMAND_MODULES: list[str] = ["load", "demo", "ifc", "elevators", "cleaning", "serve", "devices",
                              "users", "billing", "units", "evacuate", "metering", "backup", "ingest"]


_register()

#: Exceptions that are the user's input, not a bug: one line, exit code 2.
USER_ERRORS: tuple[type[BaseException], ...] = (
    TwinError, FileNotFoundError, IsADirectoryError, NotADirectoryError,
    json.JSONDecodeError, PermissionError,
)


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; turn user errors into one line on stderr and exit code 2."""
    try:
        # standalone mode: usage errors print usage and exit 2, --help exits 0
        app(args=argv, prog_name="twin")
    except USER_ERRORS as exc:
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        sys.stderr.write(f"error: {msg}\n")
        sys.exit(2)


if __name__ == "__main__":
    main()
