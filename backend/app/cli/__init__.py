"""flask commands: seed-demo, create-admin, analytics ..."""

from __future__ import annotations

import getpass

import click
from flask import Flask
from flask.cli import with_appcontext

from app.errors import DomainError
from app.services.auth import service as auth_service
from app.services.demo import seed as seed_service


@click.command("seed-demo")
@with_appcontext
@click.option(
    "--activity/--no-activity",
    default=True,
    show_default=True,
    help="Also load five weeks of demo activity and a demo admin (for the /admin dashboard).",
)
def seed_demo_command(activity: bool) -> None:
    """Load the demo challenge, its plans and videos, a demo user, and demo activity."""
    result = seed_service.seed_demo()
    state = "created" if result.created else "already present"
    click.echo(f"Demo challenge {result.challenge.title!r} (id {result.challenge.id}) {state}.")
    click.echo(f"Demo login: {seed_service.DEMO_EMAIL} / {seed_service.DEMO_PASSWORD}")
    if not activity:
        return
    seed_service.seed_admin()
    done = seed_service.seed_activity(challenge=result.challenge)
    if done.created:
        click.echo(
            f"Demo activity created: {done.users} members, {done.events} events, "
            f"{done.completions} completions, {done.request_logs} request logs."
        )
    else:
        click.echo("Demo activity already present.")
    admin = f"{seed_service.ADMIN_EMAIL} / {seed_service.ADMIN_PASSWORD}"
    click.echo(f"Dashboard login (/admin): {admin}")


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


def register_cli(app: Flask) -> None:
    from app.cli.analytics import analytics_group
    from app.cli.privacy import register_privacy_cli

    app.cli.add_command(seed_demo_command)
    app.cli.add_command(create_admin_command)
    app.cli.add_command(analytics_group)
    register_privacy_cli(app.cli, analytics_group)
