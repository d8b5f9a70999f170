"""``twin users``: create users (``twin users create --username U --password P --role R``) and
disable them (``twin users disable NAME``)."""

from __future__ import annotations

import typer

from services.cli.common import print_json

__all__ = ["register"]

users = typer.Typer(help="Users and roles of the API.", no_args_is_help=True)


@users.command("create")
def create(
    username: str = typer.Option(..., "--username", help="login name"),
    password: str = typer.Option(..., "--password", help="at least 8 characters, not a common or all-digit password"),
    role: str = typer.Option(..., "--role", help="admin, operator, planner, staff or owner"),
    unit: list[str] = typer.Option([], "--unit", help="billing unit id an owner owns (repeatable)"),
    staff_id: str | None = typer.Option(None, "--staff-id", help="staff register id of a staff user"),
    email: str | None = typer.Option(None, "--email", help="email for reminders"),
    community: list[str] = typer.Option([], "--community", help="community id (site name) the user belongs to "
                                        "with --role (repeatable; none: the default community)"),
    json_out: bool = typer.Option(False, "--json", help="print the user as JSON"),
) -> None:
    """Create a user in the database of TWIN_DB_URL (migrating it first)."""
    from services.auth import create_user

    from services.db import Database
    from services.settings import get_settings

    db = Database(get_settings().resolved_db_url)
    try:
        db.migrate()
        with db.transaction() as session:
            user = create_user(session, username=username, password=password, role=role, unit_ids=unit,
                               staff_id=staff_id, email=email, communities=community)
            out = {"id": user.id, "username": user.username, "role": user.role, "units": list(unit),
                   "communities": list(dict.fromkeys(community))}
    finally:
        db.dispose()
    if json_out:
        print_json(out)
    else:
        typer.echo(f"created {role} {username}")


@users.command("disable")
def disable(username: str = typer.Argument(..., help="login name"),
            json_out: bool = typer.Option(False, "--json", help="print the result as JSON")) -> None:
    """Disable a login (its tokens stop working at once); it can no longer log in."""
    from sqlalchemy import select

    from services.auth import SYSTEM, audit
    from services.db import utcnow
    from services.errors import UnknownEntity
    from services.models import User

    from services.db import Database
    from services.settings import get_settings

    db = Database(get_settings().resolved_db_url)
    try:
        db.migrate()
        with db.transaction() as session:
            user = session.scalar(select(User).where(User.username == username))
            if user is None:
                raise UnknownEntity(f"no user {username!r}")
            user.active, user.tokens_valid_after = False, utcnow()
            audit(session, SYSTEM, "user.disable", "user", username)
    finally:
        db.dispose()
    if json_out:
        print_json({"username": username, "active": False})
    else:
        typer.echo(f"disabled {username}")


def register(app: typer.Typer) -> None:
    """Attach ``twin users``."""
    app.add_typer(users, name="users")
