"""The per-type schemas' quick check (event_schemas.compile_fast_check) only ever says
"surely valid" where the JSON Schema validator agrees."""

from __future__ import annotations

import random
from typing import Any

import pytest
from jsonschema import validators

from app.services.ingestion.event_schemas import compile_fast_check, load_event_schemas

BOUNDED_SCHEMAS: list[dict[str, Any]] = [
    {"type": "object", "required": ["n"], "additionalProperties": False, "properties": {
        "n": {"type": "integer", "minimum": 1, "maximum": 10},
        "x": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1.5},
        "s": {"type": "string", "minLength": 2, "maxLength": 4},
        "b": {"type": "boolean"},
    }},
    {"type": "object", "properties": {
        "x": {"type": "number", "minimum": -0.5, "exclusiveMaximum": 3},
        "n": {"type": "integer", "exclusiveMinimum": -2, "maximum": 2.5},
    }},
]
VALUES: list[Any] = [
    None, True, False, 0, 1, 2, 3, 10, 11, -1, -2, -3, 0.0, -0.0, 0.5, 1.0, 1.5, 2.5, 3.0,
    10.0, 1e300, -1e300, 10**30, "", "a", "ab", "abcd", "abcde", [], {}, [1], {"a": 1},
]


def _random_object(rng: random.Random, names: list[str]) -> dict[str, Any]:
    return {name: rng.choice(VALUES) for name in rng.sample(names, rng.randint(0, len(names)))}


@pytest.mark.parametrize("schema", [
    *(validator.schema for validator in load_event_schemas().values()), *BOUNDED_SCHEMAS
])
def test_quick_check_never_accepts_what_the_validator_refuses(schema):
    check = compile_fast_check(schema)
    assert check is not None  # the shipped schemas all take the quick path
    validator = validators.validator_for(schema)(schema)
    names = [*schema.get("properties", {}), "other"]
    rng = random.Random(14)
    said_valid = 0
    for _ in range(3000):
        data = _random_object(rng, names)
        if check(data):
            said_valid += 1
            assert validator.is_valid(data), data
    assert said_valid > 0
