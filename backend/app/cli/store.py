"""flask analytics ship / store-status: the ClickHouse analytics store (docs/CLICKHOUSE.md)."""

from __future__ import annotations

import json
import sys
import time

import click
from flask.cli import AppGroup, with_appcontext

from app.services.analytics_store import status as store_status
from app.services.analytics_store.client import StoreUnavailable
from app.services.analytics_store.shipper import CHUNK


def register_store_cli(group: AppGroup) -> None:
    group.add_command(ship_command)
    group.add_command(store_status_command)


@click.command("ship")
@with_appcontext
@click.option("--follow", is_flag=True, help="Keep shipping every --interval seconds.")
@click.option("--interval", default=5.0, show_default=True, type=click.FloatRange(0.1))
@click.option("--chunk", default=CHUNK, show_default=True, type=click.IntRange(1))
def ship_command(follow: bool, interval: float, chunk: int) -> None:
    """Ship new events and request logs to ClickHouse (ANALYTICS_STORE).

    Idempotent: run it from cron, or with --follow as a service. While ClickHouse is down
    it says so and (with --follow) tries again; nothing is lost. chDB's directory is held by
    one process: with chdb:// the app ships before each report instead.
    """
    if store_status.describe(reach_store=False) is None:
        raise click.ClickException("ANALYTICS_STORE is the app database: nothing to ship")
    while True:
        try:
            sent = store_status.ship_all(chunk=chunk)
            click.echo(" ".join(f"{name}={n}" for name, n in sent.items()))
        except StoreUnavailable as exc:
            click.echo(f"analytics store unavailable: {exc}", err=True)
            if not follow:
                sys.exit(1)
        if not follow:
            return
        time.sleep(interval)


@click.command("store-status")
@with_appcontext
def store_status_command() -> None:
    """The analytics store: lag per source, migrations, unfinished mutations (JSON)."""
    described = store_status.describe()
    if described is None:
        click.echo(json.dumps({"store": "app"}))
        return
    click.echo(json.dumps(described, indent=2))
    if described.get("state") != "ok":
        sys.exit(1)
