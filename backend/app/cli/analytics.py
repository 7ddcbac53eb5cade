"""flask analytics ...: operations on the analytics tables."""

from __future__ import annotations

import sys
import time
from datetime import timedelta

import click
from flask import current_app
from flask.cli import AppGroup

from app import clock
from app.errors import DomainError
from app.extensions import db
from app.services.auth import service as auth_service
from app.services.database import schema_check
from app.services.demo import generator as activity_generator
from app.services.ingestion import rejected_events
from app.services.insights.rollups import activity as activity_rollup
from app.services.insights.rollups import event_spans
from app.services.insights.rollups import latency as latency_rollup
from app.services.insights.rollups import progress as progress_rollup


# AppGroup: its commands run in an app context under any runner, not only `flask`.
@click.group("analytics", cls=AppGroup)
def analytics_group() -> None:
    """Analytics operations."""


@analytics_group.command("verify")
def verify_command() -> None:
    """Check the database against the migrations' head and the models (exit 1 if it differs).

    The Alembic revision, then every table, column, index, unique constraint and foreign
    key (Alembic's autogenerate comparison), then on PostgreSQL request_logs' partitions.
    """
    report = schema_check.verify_schema(current_app.extensions["migrate"].directory)
    for line in report.lines:
        click.echo(line)
    if not report.ok:
        click.echo("FAILED: the database schema does not match the migrations' head and the "
                   "models (lines MISSING, EXTRA, DIFFERS above); run `flask db upgrade`.",
                   err=True)
        sys.exit(1)
    click.echo("OK: the database is at the migrations' head and matches the models.")


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


@analytics_group.command("generate")
@click.option("--users", default=50_000, show_default=True, type=click.IntRange(min=1))
@click.option("--events", default=10_000_000, show_default=True, type=click.IntRange(min=0),
              help="Exactly this many analytics events.")
@click.option("--days", default=90, show_default=True, type=click.IntRange(1, 3650),
              help="The activity spans this many days, ending now.")
@click.option("--request-logs", "request_logs", default=None, type=click.IntRange(min=0),
              help="Request log rows [default: half the events].")
@click.option("--log-days", default=7, show_default=True, type=click.IntRange(min=1),
              help="The request logs fill this many most recent days (UTC), today included.")
@click.option("--seed", default=1, show_default=True, type=int,
              help="Same seed, clock and database state: the same rows.")
@click.option("--append", is_flag=True, help="Add to generated data already there.")
@click.option("--chunk-rows", default=20_000, show_default=True, type=click.IntRange(min=100),
              hidden=True)
@click.option("--defer-indexes/--keep-indexes", default=None, hidden=True,
              help="PostgreSQL: rebuild indexes and keys after loading [default: for big loads].")
def generate_command(users: int, events: int, days: int, request_logs: int | None,
                     log_days: int, seed: int, append: bool, chunk_rows: int,
                     defer_indexes: bool | None) -> None:
    """Write realistic challenge activity (for benchmarks and demos) into the database.

    Users (user<n>@generated.example, password generated-password-123), enrollments in
    three generated challenges, daily sessions with completions, videos and likes, and
    request logs; binary COPY on PostgreSQL, then ANALYZE. A big load on PostgreSQL rebuilds
    the loaded tables' indexes at the end and locks those tables until it is done.
    """
    options = activity_generator.Options(
        users=users, events=events, days=days, log_days=log_days, seed=seed, append=append,
        request_logs=events // 2 if request_logs is None else request_logs,
        chunk_rows=chunk_rows, defer_indexes=defer_indexes,
    )
    with click.progressbar(length=options.events + options.request_logs,
                           label="Generating events and request logs") as bar:
        try:
            result = activity_generator.generate(options=options, progress=bar.update)
        except DomainError as exc:
            raise click.ClickException(exc.detail) from None
    for table, count in result.rows.items():
        click.echo(f"  {table:18} {count:>12,}")
    rate = result.total / result.seconds if result.seconds else 0.0
    click.echo(f"{result.total:,} rows in {result.seconds:.1f} s ({rate:,.0f} rows/s).")


@analytics_group.command("rollup")
@click.option("--tz", "zones", multiple=True, metavar="ZONE",
              help="Build or update the activity rollup of this IANA zone (repeatable) "
                   "[default: every zone already built, and UTC].")
@click.option("--rebuild", is_flag=True,
              help="Forget the rollups first and count every row again.")
def rollup_command(zones: tuple[str, ...], rebuild: bool) -> None:
    """Bring the insights rollups up to date (after a bulk load, after a deploy, or from
    cron every minute or so, so that no report call has a big backlog to fold).

    Reports fold what is new before they read, so this is never needed for correct
    answers; it moves the work of a first build (minutes at 10 million rows) off the
    request path.
    """
    for zone in zones:
        if not auth_service.is_known_timezone(zone):
            raise click.BadParameter(f"unknown IANA zone {zone!r}", param_hint="--tz")
    if rebuild:
        activity_rollup.reset(session=db.session)
        event_spans.reset(session=db.session)
        progress_rollup.reset(session=db.session)
        db.session.commit()
        latency_rollup.reset_latency_rollup()
    targets = list(zones) or sorted(set(activity_rollup.built_zones()) | {"UTC"})
    for zone in targets:
        started, calls = time.monotonic(), 0
        while activity_rollup.refresh(tz=zone) is None:  # a first build continues
            calls += 1
        click.echo(f"activity {zone}: up to date in {time.monotonic() - started:.1f} s "
                   f"({calls + 1} step(s))")
    for name, refresh in (("first/last events", event_spans.refresh),
                          ("challenge progress", progress_rollup.refresh)):
        started = time.monotonic()
        while not refresh():  # a first build continues
            pass
        click.echo(f"{name}: up to date in {time.monotonic() - started:.1f} s")
    started = time.monotonic()
    result = latency_rollup.fold_latency_rollup()
    click.echo(f"latency: up to date to id {result.folded_to} in "
               f"{time.monotonic() - started:.1f} s")
