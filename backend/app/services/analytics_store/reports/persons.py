"""Persons in ClickHouse, by insights/persons.py's rule: an event's person is its user, else
the user its anonymous id is linked to, else the anonymous id's 60-bit hash key. The links
live in the app database; a report reads there the links of the anonymous ids its events
hold (so a link made at any time counts at once) and hands them to ClickHouse as arrays.
That is one app-database lookup per distinct anonymous id in the report's range: fine for
realtime, to be replaced by shipped links (a dictionary) before the big reports move."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from app.models import AnonymousIdentity
from app.services.analytics_store.reading import ReportClient
from app.services.insights.reader import reader
from app.services.insights.sqlite_functions import anonymous_key

L = AnonymousIdentity
CHUNK = 5000
# The events a person-keyed report reads (an event with neither id has no person).
HAS_PERSON = "(user_id IS NOT NULL OR anonymous_id IS NOT NULL)"


def person_key(
    client: ReportClient, where: str, params: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    """SQL for the person key of an event, valid for the events matching `where`, and its
    parameters."""
    rows = client.query(
        f"SELECT DISTINCT anonymous_id FROM {client.table('events')} FINAL"
        f" WHERE user_id IS NULL AND anonymous_id IS NOT NULL AND {where}",
        params,
    )
    if not rows:
        return "user_id", {}
    ids = sorted(row[0] for row in rows)
    linked: dict[str, int] = {}
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        found = reader().execute(
            select(L.anonymous_id, L.user_id).where(L.anonymous_id.in_(chunk))
        )
        linked.update({anonymous_id: user_id for anonymous_id, user_id in found})
    keys = [linked[a] if a in linked else anonymous_key(a) for a in ids]
    sql = (
        "if(user_id IS NOT NULL, user_id, transform(assumeNotNull(anonymous_id),"
        " {person_anonymous:Array(String)}, {person_keys:Array(Int64)}, toInt64(0)))"
    )
    return sql, {"person_anonymous": ids, "person_keys": keys}
