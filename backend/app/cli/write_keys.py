"""flask write-keys create|list|revoke: the write keys of the /v1 ingestion."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from app.errors import DomainError
from app.models import WRITE_KEY_SOURCES
from app.services.write_keys import service as write_keys


# AppGroup: its commands run in an app context under any runner, not only `flask`.
@click.group("write-keys", cls=AppGroup)
def write_keys_group() -> None:
    """Write keys of the Segment-compatible /v1 ingestion (stored hashed)."""


@write_keys_group.command("create")
@click.option("--source", required=True, type=click.Choice(WRITE_KEY_SOURCES),
              help="ios, android, web (public keys) or server (a secret key).")
@click.option("--name", required=True, help="What the key is for, e.g. 'iOS app'.")
def create_command(source: str, name: str) -> None:
    """Create a key; it is printed once and cannot be shown again."""
    try:
        created = write_keys.create(source=source, name=name)
    except DomainError as exc:
        raise click.ClickException(exc.detail) from None
    kind = "secret" if created.key.is_secret else "public"
    click.echo(f"Created write key {created.key.id} ({source}, {kind}): {created.key.name}")
    click.echo("Key (shown once, store it now):")
    click.echo(created.plaintext)


@write_keys_group.command("list")
@click.option("--active", is_flag=True, help="Leave revoked keys out.")
def list_command(active: bool) -> None:
    """Every key: id, source, kind, prefix, name, created and revoked times."""
    keys = write_keys.list_keys(include_revoked=not active)
    if not keys:
        click.echo("No write keys.")
        return
    for key in keys:
        kind = "secret" if key.is_secret else "public"
        state = f"revoked {key.revoked_at.isoformat()}" if key.revoked_at else "active"
        click.echo(
            f"{key.id}\t{key.source}\t{kind}\t{key.key_prefix}…\t{key.name}\t"
            f"created {key.created_at.isoformat()}\t{state}"
        )


@write_keys_group.command("revoke")
@click.argument("key_id", type=int)
def revoke_command(key_id: int) -> None:
    """Revoke a key by id: its next request is a 401."""
    try:
        key = write_keys.revoke(key_id=key_id)
    except DomainError as exc:
        raise click.ClickException(exc.detail) from None
    click.echo(f"Write key {key.id} ({key.name}) revoked at {key.revoked_at.isoformat()}.")
