"""The ``twin`` command's Typer app: its group callback and every sub-command module.

Imported by :func:`services.cli.main.main` once it knows the command needs it (a cached
``twin load --json`` answer never does). Help and usage errors are click's plain text
(``rich_markup_mode=None``): typer's rich help imports ``rich.markdown`` → markdown-it,
about half of a ``twin --help``.
"""

from __future__ import annotations

import typer

from services.cli.main import COMMAND_MODULES

app = typer.Typer(
    name="twin",
    help="The community twin: a digital twin of a residential community.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


@app.callback()
def _configure() -> None:
    # runs before a sub-command, never for ``twin --help``: the settings (pydantic) load only
    # when a command runs (see docs/cli.md, start-up)
    from services.cli.common import setup_logging
    from services.settings import get_settings

    setup_logging(get_settings().log_level)


def _register() -> None:
    """Attach each sub-command module (one line per module)."""
    import importlib

    for name in COMMAND_MODULES:
        importlib.import_module(f"services.cli.{name}").register(app)


_register()
