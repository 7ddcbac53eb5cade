"""Privacy commands: flask analytics anonymize-ips|prune|partitions."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

from app import clock
from app.extensions import db
from app.services.privacy import pruning
from app.services.request_logs import partitions


@click.command("anonymize-ips")
@with_appcontext
@click.option("--batch-size", default=5000, show_default=True, type=click.IntRange(min=1))
def anonymize_ips_command(batch_size: int) -> None:
    """Mask every full IP address stored in request_logs (idempotent)."""
    engine = db.engine
    total = pruning.count_addresses(engine)
    with click.progressbar(length=total, label="Masking addresses") as bar:
        changed = pruning.anonymize_ips(
            engine, batch_size=batch_size, progress=bar.update
        )
    click.echo(f"{changed} of {total} addresses masked.")


@click.command("prune")
@with_appcontext
@click.option("--batch-size", type=click.IntRange(min=1), default=None,
              help="Rows per transaction (default PRUNE_BATCH_SIZE, 5000).")
def prune_command(batch_size: int | None) -> None:
    """Delete rows older than the retention settings, in bounded batches."""
    config = current_app.config
    targets = pruning.prune_targets(
        now=clock.now(),
        request_log_days=config["REQUEST_LOG_RETENTION_DAYS"],
        event_days=config["EVENT_RETENTION_DAYS"],
        rejected_days=config["REJECTED_EVENT_RETENTION_DAYS"],
    )
    engine = db.engine
    total = pruning.count_prunable(engine, targets)
    with click.progressbar(length=total, label="Pruning") as bar:
        result = pruning.prune(
            engine,
            targets,
            batch_size=batch_size or config["PRUNE_BATCH_SIZE"],
            progress=bar.update,
        )
    for target in targets:
        name = target.table.name
        dropped = result.dropped_partitions.get(name)
        click.echo(
            f"{name}: {result.deleted[name]} rows older than {target.cutoff.isoformat()} deleted"
            + (f" (partitions dropped: {', '.join(dropped)})" if dropped else "")
        )


@click.command("partitions")
@with_appcontext
@click.option("--months-ahead", default=3, show_default=True, type=click.IntRange(min=0),
              help="Months after the current one to prepare.")
def partitions_command(months_ahead: int) -> None:
    """Create request_logs' monthly partitions ahead (PostgreSQL; idempotent)."""
    engine = db.engine
    if engine.dialect.name != "postgresql":
        click.echo(f"{engine.dialect.name}: request_logs is one table; nothing to prepare "
                   "(prune deletes old rows).")
        return
    if not partitions.is_partitioned(engine):
        raise click.ClickException(
            "request_logs is not partitioned: run `flask db upgrade` first."
        )
    result = partitions.ensure_partitions(engine, now=clock.now(), months_ahead=months_ahead)
    for name in result.created:
        moved = result.moved.get(name, 0)
        click.echo(f"created {name}" + (f" ({moved} rows moved from the default)" if moved else ""))
    if not result.created:
        click.echo("nothing to create: every partition exists.")
    months, default_rows = partitions.describe(engine)
    click.echo(f"partitions: {', '.join(months) or 'none'}")
    click.echo(f"{partitions.DEFAULT_PARTITION}: {default_rows} rows outside those months")


def register_privacy_cli(analytics_group: click.Group) -> None:
    analytics_group.add_command(anonymize_ips_command)
    analytics_group.add_command(prune_command)
    analytics_group.add_command(partitions_command)
