"""One small client over both ways to reach ClickHouse: chDB in this process, or a server
through clickhouse-connect. Queries use ClickHouse's own parameters ({name:Type}), bound by
the engine, never formatted into the SQL; rows come back as tuples of Python values
(DateTime64 columns as aware UTC datetimes).

chDB holds one data directory per process (a second path raises), so its connections are
kept per path for the process's life and used under a lock.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any, Protocol

import orjson

from app.services.analytics_store.settings import StoreSpec


class StoreUnavailable(RuntimeError):
    """ClickHouse could not be reached (or its package is missing): try again later."""


class Client(Protocol):
    spec: StoreSpec

    def query(self, sql: str, params: dict[str, Any] | None = None) -> list[tuple[Any, ...]]: ...

    def command(
        self, sql: str, params: dict[str, Any] | None = None, settings: dict[str, Any] | None = None
    ) -> None: ...

    def insert(
        self,
        table: str,
        columns: Sequence[str],
        rows: Sequence[Sequence[Any]],
        *,
        token: str | None = None,
    ) -> None: ...

    def insert_tsv(
        self, table: str, columns: Sequence[str], data: bytes, *, token: str | None = None
    ) -> None:
        """Insert rows given as TabSeparated text (ClickHouse's escapes; PostgreSQL's COPY
        text format writes the same for the types shipped), parsed by ClickHouse."""
        ...


def table(spec: StoreSpec, name: str) -> str:
    """A table's qualified name (the database name is checked by settings.parse_store)."""
    return f"{spec.database}.{name}"


def _param(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_param(v) for v in value]
    return value


def _params(params: dict[str, Any] | None) -> dict[str, Any] | None:
    return {k: _param(v) for k, v in params.items()} if params else None


def _utc(value: Any) -> Any:
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    return value


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return _param(value)
    return value


class ChdbClient:
    """chDB: embedded ClickHouse, one data directory per process."""

    _connections: dict[str, Any] = {}
    _opened = threading.Lock()

    def __init__(self, spec: StoreSpec) -> None:
        self.spec = spec
        self._lock = threading.RLock()
        try:
            import chdb  # an optional dependency (the `clickhouse` extra)
        except ImportError as exc:  # pragma: no cover - the dev extra installs it
            raise StoreUnavailable("ANALYTICS_STORE is chdb:// but chdb is not installed") from exc
        with self._opened:
            conn = self._connections.get(spec.path)
            if conn is None:
                try:
                    conn = chdb.connect(spec.path)
                except Exception as exc:  # noqa: BLE001 - chDB raises plain errors
                    raise StoreUnavailable(f"chDB at {spec.path}: {exc}") from exc
                self._connections[spec.path] = conn
        self._conn = conn

    def _run(self, sql: str, fmt: str, params: dict[str, Any] | None) -> Any:
        bound = _params(params)
        if bound:
            bound = {k: _param_text(v) for k, v in bound.items()}
        with self._lock:
            return self._conn.query(sql, fmt, params=bound)

    def query(self, sql: str, params: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        result = self._run(sql, "ArrowTable", params)
        columns = [result.column(i).to_pylist() for i in range(result.num_columns)]
        return [tuple(_utc(v) for v in row) for row in zip(*columns, strict=True)]

    def command(
        self, sql: str, params: dict[str, Any] | None = None, settings: dict[str, Any] | None = None
    ) -> None:
        if settings:
            sql += " SETTINGS " + ", ".join(f"{k} = {_setting(v)}" for k, v in settings.items())
        self._run(sql, "CSV", params)

    def insert(
        self,
        table: str,
        columns: Sequence[str],
        rows: Sequence[Sequence[Any]],
        *,
        token: str | None = None,
    ) -> None:
        if not rows:
            return
        body = b"\n".join(
            orjson.dumps(dict(zip(columns, (_json_value(v) for v in row), strict=True)))
            for row in rows
        )
        self._insert_text(table, columns, "JSONEachRow", body, token)

    def insert_tsv(
        self, table: str, columns: Sequence[str], data: bytes, *, token: str | None = None
    ) -> None:
        if data:
            self._insert_text(table, columns, "TabSeparated", data, token)

    def _insert_text(
        self, table: str, columns: Sequence[str], fmt: str, data: bytes, token: str | None
    ) -> None:
        """The data follows the INSERT in one query (chDB takes no separate body)."""
        settings = f" SETTINGS insert_deduplication_token = {_setting(token)}" if token else ""
        head = f"INSERT INTO {table} ({', '.join(columns)}){settings} FORMAT {fmt}\n"
        self._run(head + data.decode(), "CSV", None)


def _param_text(value: Any) -> Any:
    """A parameter as chDB must be given it: ClickHouse parses a parameter's text with
    escapes (a backslash starts one), and chDB passes a list on as its str(), strings
    unquoted."""
    if isinstance(value, list):
        return _array_text(value)
    if isinstance(value, str):
        return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")
    return value


def _array_text(values: list[Any]) -> str:
    """An Array parameter in ClickHouse's text form: ['a', 'b\\'c'], [1, 2]."""
    return "[" + ", ".join(_setting(v) for v in values) + "]"


def _setting(value: Any) -> str:
    if isinstance(value, bool | int | float):
        return str(int(value) if isinstance(value, bool) else value)
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


class ServerClient:
    """A ClickHouse server over HTTP (clickhouse-connect)."""

    def __init__(self, spec: StoreSpec, *, connect_timeout: float = 3.0) -> None:
        self.spec = spec
        try:
            import clickhouse_connect  # an optional dependency (the `clickhouse` extra)
            from clickhouse_connect.driver.exceptions import OperationalError
        except ImportError as exc:  # pragma: no cover - the dev extra installs it
            raise StoreUnavailable(
                "ANALYTICS_STORE is clickhouse:// but clickhouse-connect is not installed"
            ) from exc
        self._down = OperationalError
        try:
            self._client = clickhouse_connect.get_client(
                host=spec.host,
                port=spec.port,
                username=spec.username,
                password=spec.password,
                database=spec.database,
                secure=spec.secure,
                connect_timeout=connect_timeout,
                autogenerate_session_id=False,  # shared by threads: no server session
            )
        except OperationalError as exc:
            raise StoreUnavailable(f"ClickHouse at {spec.describe()}: {exc}") from exc

    def query(self, sql: str, params: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        try:
            rows = self._client.query(sql, parameters=_params(params)).result_rows
        except self._down as exc:
            raise StoreUnavailable(str(exc)) from exc
        return [tuple(_utc(v) for v in row) for row in rows]

    def command(
        self, sql: str, params: dict[str, Any] | None = None, settings: dict[str, Any] | None = None
    ) -> None:
        try:
            self._client.command(sql, parameters=_params(params), settings=settings)
        except self._down as exc:
            raise StoreUnavailable(str(exc)) from exc

    def insert(
        self,
        table: str,
        columns: Sequence[str],
        rows: Sequence[Sequence[Any]],
        *,
        token: str | None = None,
    ) -> None:
        if not rows:
            return
        settings = {"insert_deduplication_token": token} if token else None
        try:
            self._client.insert(
                table, [list(r) for r in rows], column_names=list(columns), settings=settings
            )
        except self._down as exc:
            raise StoreUnavailable(str(exc)) from exc

    def insert_tsv(
        self, table: str, columns: Sequence[str], data: bytes, *, token: str | None = None
    ) -> None:
        if not data:
            return
        settings = {"insert_deduplication_token": token} if token else None
        try:
            self._client.raw_insert(
                table, list(columns), insert_block=data, settings=settings, fmt="TabSeparated"
            )
        except self._down as exc:
            raise StoreUnavailable(str(exc)) from exc


def connect(spec: StoreSpec) -> Client:
    return ChdbClient(spec) if spec.kind == "chdb" else ServerClient(spec)
