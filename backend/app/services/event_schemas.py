"""JSON Schemas for client events' event_data: one file per event type.

The package ships `app/event_schemas/<event_type>.json`; EVENT_SCHEMAS_DIR names a
directory whose files replace the shipped ones of the same name and add new types.
Every schema is checked against its metaschema when loaded, so a broken file stops the
app from starting instead of failing requests.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from importlib import resources
from pathlib import Path
from typing import Any

from jsonschema import exceptions, validators
from jsonschema.protocols import Validator

MAX_MESSAGE = 300


class EventSchemaError(RuntimeError):
    """A schema file is not valid JSON or not a valid JSON Schema."""


def _read(name: str, text: str) -> Validator:
    try:
        schema = json.loads(text)
    except ValueError as exc:
        raise EventSchemaError(f"{name}: not valid JSON ({exc})") from None
    cls = validators.validator_for(schema)
    try:
        cls.check_schema(schema)
    except exceptions.SchemaError as exc:
        raise EventSchemaError(f"{name}: not a valid JSON Schema ({exc.message})") from None
    return cls(schema)


def _files(directory: Any) -> Iterable[tuple[str, str, str]]:
    for entry in sorted(directory.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".json") and entry.is_file():
            yield entry.name[: -len(".json")], str(entry), entry.read_text(encoding="utf-8")


def load_event_schemas(override_dir: str | None = None) -> dict[str, Validator]:
    """Validators by event type: the packaged schemas, then those in override_dir."""
    found: dict[str, Validator] = {}
    sources: list[Any] = [resources.files("app") / "event_schemas"]
    if override_dir:
        path = Path(override_dir)
        if not path.is_dir():
            raise EventSchemaError(f"EVENT_SCHEMAS_DIR {override_dir!r} is not a directory")
        sources.append(path)
    for source in sources:
        for event_type, name, text in _files(source):
            found[event_type] = _read(name, text)
    return found


def schema_violation(validators_by_type: Mapping[str, Validator], event_type: str,
                     event_data: Any) -> str | None:
    """The most relevant violation of event_type's schema as a message; None when valid."""
    validator = validators_by_type.get(event_type)
    if validator is None:
        return None
    error = exceptions.best_match(validator.iter_errors(event_data))
    if error is None:
        return None
    where = "event_data" + "".join(
        f"[{part}]" if isinstance(part, int) else f".{part}" for part in error.absolute_path
    )
    message = f"{where}: {error.message}"
    return message if len(message) <= MAX_MESSAGE else message[: MAX_MESSAGE - 3] + "..."
