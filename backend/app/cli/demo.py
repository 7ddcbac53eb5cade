"""flask seed-demo: the demo challenge, users and activity behind `make run`."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

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
