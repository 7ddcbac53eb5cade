"""flask analytics ...: operations on the analytics tables."""

from __future__ import annotations

import sys

import click
from flask.cli import AppGroup

from app.services import schema_check


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
