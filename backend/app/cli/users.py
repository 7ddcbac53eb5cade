"""flask create-admin and flask users ...: user administration."""

from __future__ import annotations

import getpass

import click
from flask.cli import AppGroup, with_appcontext

from app.errors import DomainError, NotFound
from app.services.auth import service as auth_service


@click.command("create-admin")
@with_appcontext
@click.option("--email", required=True)
@click.option("--password", default=None, help="Prompted for when omitted.")
@click.option("--display-name", default="Admin")
def create_admin_command(email: str, password: str | None, display_name: str) -> None:
    """Create an admin user, or make an existing user an admin."""
    if password is None and auth_service.get_by_email(email=email) is None:
        password = getpass.getpass("Password (at least 8 characters): ")
    if password is not None and len(password) < 8:
        raise click.ClickException("The password must have at least 8 characters.")
    try:
        user = auth_service.set_admin(email=email, password=password, display_name=display_name)
    except DomainError as exc:
        raise click.ClickException(exc.detail) from None
    click.echo(f"{user.email} (id {user.id}) is an admin.")


# AppGroup: its commands run in an app context under any runner, not only `flask`.
@click.group("users", cls=AppGroup)
def users_group() -> None:
    """User administration."""


@users_group.command("set-internal")
@click.argument("email")
@click.option("--off", is_flag=True, help="Mark the user as not internal again.")
def set_internal_command(email: str, off: bool) -> None:
    """Mark a user internal (left out of insights by default), or not with --off."""
    try:
        user = auth_service.set_internal(email=email, internal=not off)
    except NotFound as exc:
        raise click.ClickException(exc.detail) from None
    state = "internal" if user.is_internal else "not internal"
    click.echo(f"{user.email} (id {user.id}) is {state}.")
