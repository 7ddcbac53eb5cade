"""JSON Schemas for client events' event_data: one file per event type.

The package ships `app/event_schemas/<event_type>.json`; EVENT_SCHEMAS_DIR names a
directory whose files replace the shipped ones of the same name and add new types.
Every schema is checked against its metaschema when loaded, so a broken file stops the
app from starting instead of failing requests.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterable, Mapping
from importlib import resources
from pathlib import Path
from typing import Any

from jsonschema import exceptions, validators
from jsonschema.protocols import Validator

MAX_MESSAGE = 300


class EventSchemaError(RuntimeError):
    """A schema file is not valid JSON or not a valid JSON Schema."""


# Keyed by the file's name and text, so an edited file is read anew. Each app (each test
# makes its own) would otherwise check the same schemas again: 40 ms of create_app's 300.
# A validator holds its schema only, so apps can share one.
@functools.lru_cache(maxsize=512)
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


FastCheck = Callable[[Any], bool]


class EventSchemas(dict[str, Validator]):
    """Validators by event type, plus a quick check per type for the common valid case.

    `fast[event_type](data)` is True only when the validator would surely accept data;
    False means "ask the validator" (which then also words the violation). Schemas using
    keywords beyond a small, exactly mirrored subset get no quick check.
    """

    def __init__(self) -> None:
        super().__init__()
        self.fast: dict[str, FastCheck] = {}

    def __setitem__(self, event_type: str, validator: Validator) -> None:
        super().__setitem__(event_type, validator)
        check = compile_fast_check(validator.schema)
        if check is None:
            self.fast.pop(event_type, None)
        else:
            self.fast[event_type] = check


_ANNOTATIONS = frozenset({"$schema", "title", "description", "$comment", "examples", "default"})
_NUMBER_BOUNDS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")


def _is_number(bound: Any) -> bool:
    return type(bound) in (int, float)


def _scalar_check(schema: Any) -> FastCheck | None:
    """A property's schema: one scalar type with length or numeric bounds, else None."""
    if not isinstance(schema, dict) or not set(schema) <= (
        _ANNOTATIONS | {"type", "minLength", "maxLength"} | set(_NUMBER_BOUNDS)
    ):
        return None
    kind = schema.get("type")
    if any(not _is_number(schema[k]) for k in _NUMBER_BOUNDS if k in schema):
        return None
    bounded = any(k in schema for k in _NUMBER_BOUNDS)
    lengths = (schema.get("minLength", 0), schema.get("maxLength"))
    if any(n is not None and type(n) is not int for n in lengths):
        return None
    low, high = lengths
    if kind == "string":
        return lambda v: type(v) is str and low <= len(v) and (high is None or len(v) <= high)
    if kind in ("integer", "number"):
        # integer: exact ints only (3.0 is an integer to the validator: it decides that)
        types = (int,) if kind == "integer" else (int, float)
        # The bounds folded into one chained comparison (a missing bound is infinite; a NaN
        # bound fails every comparison, as it fails the validator's).
        inf = float("inf")
        low, high = schema.get("minimum", -inf), schema.get("maximum", inf)
        above, below = schema.get("exclusiveMinimum", -inf), schema.get("exclusiveMaximum", inf)
        return lambda v: type(v) in types and low <= v <= high and above < v < below
    if kind == "boolean" and not bounded:
        return lambda v: type(v) is bool
    return None


def compile_fast_check(schema: Any) -> FastCheck | None:
    """A quick "surely valid" check for an object schema of typed, bounded properties."""
    if not isinstance(schema, dict) or schema.get("type") != "object":
        return None
    allowed = _ANNOTATIONS | {"type", "required", "properties", "additionalProperties"}
    if not set(schema) <= allowed:
        return None
    required = schema.get("required", [])
    properties = schema.get("properties", {})
    additional = schema.get("additionalProperties", True)
    if not isinstance(required, list) or not all(isinstance(r, str) for r in required):
        return None
    if not isinstance(properties, dict) or additional not in (True, False):
        return None
    checks: dict[str, FastCheck] = {}
    for name, sub in properties.items():
        check = _scalar_check(sub)
        if check is None:
            return None
        checks[name] = check
    closed = additional is False

    def fast(data: Any) -> bool:
        if type(data) is not dict:
            return False
        for name in required:
            if name not in data:
                return False
        for name, value in data.items():
            check = checks.get(name)
            if check is None:
                if closed:
                    return False
            elif not check(value):
                return False
        return True

    return fast


def load_event_schemas(override_dir: str | None = None) -> dict[str, Validator]:
    """Validators by event type: the packaged schemas, then those in override_dir."""
    found = EventSchemas()
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
    fast = getattr(validators_by_type, "fast", None)
    if fast is not None:
        check = fast.get(event_type)
        if check is not None and check(event_data):
            return None
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
