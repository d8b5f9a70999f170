"""Alembic environment: online migrations on the engine handed over in ``config.attributes``."""

from __future__ import annotations

from alembic import context

from services.migrations import target_metadata

config = context.config


def run() -> None:
    engine = config.attributes.get("engine")
    if engine is None:
        raise RuntimeError("services.migrations needs an engine in config.attributes['engine']")
    with engine.begin() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata(),
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()


run()
