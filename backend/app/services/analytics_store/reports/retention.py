"""Retention in ClickHouse, by the report's scan rule (right in any zone): each person's
start events by local day (first-time: the first-ever one's, in the range; recurring:
every one in the range), their return events up to `to`, and the counts per cohort and
period as (kind, cohort, period, persons) rows: 0 the cohort's size, 1 returned in period
p, 2 furthest period returned in."""

from __future__ import annotations

from typing import Any

from app.services.analytics_store.reading import ReportClient, event_user_scope
from app.services.analytics_store.reports.persons import HAS_PERSON, person_key
from app.services.insights.params import Period
from app.services.insights.sqlite_functions import WEEK_OFFSETS

T = "DateTime64(6, 'UTC')"


def _unit(day: str, step: int, week_start: str) -> str:
    """The cohort key of a day number: itself, or its week's first day."""
    if step == 7:
        return f"({day} - (({day} + {WEEK_OFFSETS[week_start]}) % 7))"
    return day


def tally(
    client: ReportClient,
    period: Period,
    *,
    start_event: str,
    return_event: str,
    step: int,
    periods: int,
    recurring: bool,
    first_day: int,
    last_day: int,
) -> list[tuple[int, int, int, int]]:
    where = (
        f"event_type IN {{types:Array(String)}} AND occurred_at < {{end:{T}}} AND {HAS_PERSON}"
    )
    params: dict[str, Any] = {
        "types": sorted({start_event, return_event}), "end": period.utc_end, "tz": period.tz,
        "start_event": start_event, "return_event": return_event, "first": first_day,
        "last": last_day, "step": step, "periods": periods,
    }
    person, person_params = person_key(client, where, params)
    users, user_params = event_user_scope(period, person)
    params |= person_params | user_params
    events = client.table("events")
    day = "toInt64(toDate32(occurred_at, {tz:String}))"
    starts = (
        f"SELECT {person} AS person, {day} AS day FROM {events} FINAL"
        f" WHERE {where} AND event_type = {{start_event:String}} AND {users}"
    )
    unit = _unit("day", step, period.week_start)
    if recurring:
        members = (
            f"SELECT DISTINCT person, {unit} AS cohort FROM ({starts})"
            " WHERE day BETWEEN {first:Int64} AND {last:Int64}"
        )
    else:
        first = _unit("min(day)", step, period.week_start)
        members = (
            f"SELECT person, {first} AS cohort FROM ({starts}) GROUP BY person"
            " HAVING min(day) BETWEEN {first:Int64} AND {last:Int64}"
        )
    returns = (
        f"SELECT {person} AS person, {day} AS day FROM {events} FINAL"
        f" WHERE {where} AND event_type = {{return_event:String}}"
    )
    sql = f"""
        WITH members AS ({members}),
        kept AS (
            SELECT DISTINCT m.person AS person, m.cohort AS cohort,
                intDiv({_unit('r.day', step, period.week_start)} - m.cohort, {{step:Int64}}) AS p
            FROM members AS m INNER JOIN ({returns}) AS r ON r.person = m.person
            WHERE r.day <= {{last:Int64}} AND p BETWEEN 1 AND {{periods:Int64}}
        )
        SELECT toInt64(0) AS kind, toInt64(cohort) AS c, toInt64(0) AS period, count() AS n
        FROM members GROUP BY cohort
        UNION ALL SELECT toInt64(1), toInt64(cohort), toInt64(p), count() FROM kept
        GROUP BY cohort, p
        UNION ALL SELECT toInt64(2), toInt64(cohort), toInt64(p), count() FROM (
            SELECT cohort, max(p) AS p FROM kept GROUP BY person, cohort
        ) GROUP BY cohort, p"""
    return [
        (int(kind), int(cohort), int(p), int(n)) for kind, cohort, p, n in client.query(sql, params)
    ]
