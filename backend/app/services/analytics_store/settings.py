"""ANALYTICS_STORE parsed: the app database (unset or "app"), chDB, or a ClickHouse server.

- `chdb:///absolute/path[?database=analytics]`: embedded ClickHouse (chDB) in this process;
  it locks the directory, so one process only (tests, `make run`, a single worker).
- `clickhouse://user:password@host:8123/database[?secure=1]`: a server over HTTP through
  clickhouse-connect (`clickhouses://` is the same with TLS).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlsplit

DEFAULT_DATABASE = "analytics"
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


class StoreConfigError(ValueError):
    """ANALYTICS_STORE cannot be understood (the app refuses to start)."""


@dataclass(frozen=True)
class StoreSpec:
    kind: str  # "chdb" or "server"
    database: str
    path: str = ""
    host: str = ""
    port: int = 8123
    username: str = "default"
    password: str = ""
    secure: bool = False

    def describe(self) -> str:
        """For logs and /readyz: never the password."""
        if self.kind == "chdb":
            return f"chdb://{self.path}?database={self.database}"
        scheme = "clickhouses" if self.secure else "clickhouse"
        return f"{scheme}://{self.username}@{self.host}:{self.port}/{self.database}"


def parse_store(url: str | None) -> StoreSpec | None:
    """None for the app database; a StoreSpec for ClickHouse; StoreConfigError otherwise."""
    if url is None or url.strip() in ("", "app"):
        return None
    parts = urlsplit(url.strip())
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    if parts.scheme == "chdb":
        if parts.netloc or not parts.path.startswith("/"):
            raise StoreConfigError("ANALYTICS_STORE=chdb:///absolute/path (three slashes)")
        spec = StoreSpec("chdb", query.get("database", DEFAULT_DATABASE), path=parts.path)
    elif parts.scheme in ("clickhouse", "clickhouses"):
        if not parts.hostname:
            raise StoreConfigError("ANALYTICS_STORE=clickhouse://user:password@host:port/db")
        secure = parts.scheme == "clickhouses" or query.get("secure") in ("1", "true")
        spec = StoreSpec(
            "server",
            unquote(parts.path.lstrip("/")) or DEFAULT_DATABASE,
            host=parts.hostname,
            port=parts.port or (8443 if secure else 8123),
            username=unquote(parts.username or "default"),
            password=unquote(parts.password or ""),
            secure=secure,
        )
    else:
        raise StoreConfigError(
            f"ANALYTICS_STORE: unknown scheme {parts.scheme!r} (app, chdb://, clickhouse://)"
        )
    if not _NAME.match(spec.database):
        raise StoreConfigError(f"ANALYTICS_STORE: database name {spec.database!r} is not valid")
    return spec
