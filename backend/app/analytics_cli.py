"""flask analytics ...: operations on the analytics tables."""

from __future__ import annotations

import sys
from datetime import timedelta

import click
from flask.cli import AppGroup

from app.services import clock, rejected_events, schema_check


# AppGroup: its commands run in an app context under any runner, not only `flask`.
@click.group("analytics", cls=AppGroup)
def analytics_group() -> None:
    """Analytics operations."""


@analytics_group.command("verify")
def verify_command() -> None:
    """Check that the analytics tables, columns and indexes exist in the database."""
    report = schema_check.verify_analytics_schema()
    for line in report.lines:
        click.echo(line)
    if not report.ok:
        click.echo("FAILED: the analytics schema is incomplete.", err=True)
        sys.exit(1)
    click.echo("OK: analytics schema verified.")


@analytics_group.command("rejected")
@click.option("--since-hours", default=24.0, show_default=True, type=click.FloatRange(min=0),
              help="How far back to look.")
@click.option("--reason", default=None, help="Only this reason code.")
@click.option("--samples", default=3, show_default=True, type=click.IntRange(min=0),
              help="Newest payloads shown per reason.")
def rejected_command(since_hours: float, reason: str | None, samples: int) -> None:
    """List recently refused events by reason, with counts and sample payloads."""
    since = clock.now() - timedelta(hours=since_hours)
    groups = rejected_events.summarize(since=since, reason=reason, samples=samples)
    if not groups:
        click.echo(f"No rejected events since {since.isoformat()}.")
        return
    total = sum(g.count for g in groups)
    click.echo(f"{total} rejected event(s) since {since.isoformat()}:")
    for group in groups:
        click.echo(f"{group.reason}: {group.count}")
        for row in group.samples:
            payload = row.payload if len(row.payload) <= 200 else row.payload[:197] + "..."
            click.echo(
                f"  {row.received_at.isoformat()} user={row.user_id} source={row.source} "
                f"{payload}"
            )
