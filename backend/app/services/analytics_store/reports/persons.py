"""Persons in ClickHouse, by insights/persons.py's rule: an event's person is its user, else
the user its anonymous id is linked to, else the anonymous id's 60-bit hash key. The links
live in the app database; a report reads there the links of the anonymous ids its events
hold (so a link made at any time counts at once) and hands the linked ones to ClickHouse
as arrays; an unlinked id's key is worked out in ClickHouse. That is one app-database
lookup of every distinct anonymous id in the report's range (one array parameter per
50,000 ids on PostgreSQL): to be replaced by shipped links (a dictionary)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import String, any_, bindparam, select
from sqlalchemy.dialects.postgresql import ARRAY

from app.models import AnonymousIdentity
from app.services.analytics_store.reading import ReportClient
from app.services.insights.reader import reader

L = AnonymousIdentity
CHUNK = 5000
# The events a person-keyed report reads (an event with neither id has no person).
HAS_PERSON = "(user_id IS NOT NULL OR anonymous_id IS NOT NULL)"
# sqlite_functions.anonymous_key in ClickHouse: -(the first 60 bits of the id's md5) - 1.
# Worked out here, only the linked ids travel as parameters (every anonymous id of a range
# did: 40,000 at 10M events, a parameter text parsed again by each of a report's queries).
ANONYMOUS_KEY = (
    "(-toInt64(bitShiftRight(reinterpretAsUInt64(reverse(substring("
    "MD5(assumeNotNull(anonymous_id)), 1, 8))), 4)) - 1)"
)


def person_key(
    client: ReportClient, where: str, params: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    """SQL for the person key of an event, valid for the events matching `where`, and its
    parameters."""
    # No FINAL: rows sharing an id are copies of one event, so a repeat adds no id.
    rows = client.query(
        f"SELECT DISTINCT anonymous_id FROM {client.table('events')}"
        f" WHERE user_id IS NULL AND anonymous_id IS NOT NULL AND {where}",
        params,
    )
    if not rows:
        return "user_id", {}
    linked = _links(sorted(row[0] for row in rows))
    if not linked:
        return f"if(user_id IS NOT NULL, user_id, {ANONYMOUS_KEY})", {}
    ids = sorted(linked)
    sql = (
        "if(user_id IS NOT NULL, user_id, transform(assumeNotNull(anonymous_id),"
        f" {{person_anonymous:Array(String)}}, {{person_keys:Array(Int64)}}, {ANONYMOUS_KEY}))"
    )
    return sql, {"person_anonymous": ids, "person_keys": [linked[a] for a in ids]}


def _links(ids: list[str]) -> dict[str, int]:
    """The users these anonymous ids are linked to, read from the app database. On
    PostgreSQL a chunk is one array parameter (`= ANY`): an IN list of 5,000 parameters
    cost more in psycopg's query conversion than the lookup itself (1.4 of 2.0 s for
    40,000 ids)."""
    session = reader()
    postgres = session.get_bind().dialect.name == "postgresql"
    chunk_size = CHUNK * 10 if postgres else CHUNK
    linked: dict[str, int] = {}
    for start in range(0, len(ids), chunk_size):
        chunk = ids[start : start + chunk_size]
        match = (
            L.anonymous_id == any_(bindparam("anonymous_ids", chunk, type_=ARRAY(String)))
            if postgres
            else L.anonymous_id.in_(chunk)
        )
        found = session.execute(select(L.anonymous_id, L.user_id).where(match))
        linked.update({anonymous_id: user_id for anonymous_id, user_id in found})
    return linked
