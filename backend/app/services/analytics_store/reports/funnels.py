"""Funnels in ClickHouse, by insights/reports/funnel_paths.py's rules, with per-person arrays
(windowFunnel cannot say "each step its own event, strictly after the previous one in
(occurred_at, id) order").

Each person's events of the steps, from the period's start to its end plus the window,
sorted by (occurred_at, id), become arrays: the instants (microseconds) and a bit mask of
the steps each event matches. Attempts are numbered along them (attempt=first: only the
first step-1 event of the period is one). Then, as funnel_paths.best_attempt does with
window functions, level by level: an event's a_i is the latest attempt whose path can
reach step i there, the last non-zero a_{i-1} strictly before it (a_i never decreases, so
that is their running max: arrayFill, shifted by one), kept if the event matches step i
within that attempt's window. The furthest step k is the last level with an a_k; the
chosen attempt a* is the smallest a_k; its path's step i is the first event with
a_i >= a*. With one attempt this is the greedy path of attempt=first.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from app.services.analytics_store.reading import ReportClient, event_user_scope
from app.services.analytics_store.reports.persons import HAS_PERSON, person_key
from app.services.insights.params import Period

T = "DateTime64(6, 'UTC')"
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class StepLike(Protocol):
    event_type: str
    where: dict[str, Any]


def _json_equals(key: str, value: Any, name: str, params: dict[str, Any]) -> str:
    """sql.json_equals: event_data has `key` with exactly this JSON value (7 is not "7",
    true is not 1; numbers compare as numbers, 7 equals 7.0 as on both databases)."""
    params[f"{name}_k"] = key
    kind = f"JSONType(event_data, {{{name}_k:String}})"
    if value is None:
        # JSONType is 'Null' for a missing key too.
        return f"(JSONHas(event_data, {{{name}_k:String}}) AND {kind} = 'Null')"
    if isinstance(value, bool):
        value_sql = f"JSONExtractBool(event_data, {{{name}_k:String}})"
        return f"({kind} = 'Bool' AND {value_sql} = {int(value)})"
    if isinstance(value, str):
        params[f"{name}_v"] = value
        return (
            f"({kind} = 'String'"
            f" AND JSONExtractString(event_data, {{{name}_k:String}}) = {{{name}_v:String}})"
        )
    if isinstance(value, int):
        assert INT64_MIN <= value <= INT64_MAX, value  # the schema refuses wider ones
        params[f"{name}_v"] = value
        return (
            f"multiIf({kind} = 'Int64',"
            f" JSONExtractInt(event_data, {{{name}_k:String}}) = {{{name}_v:Int64}},"
            f" {kind} = 'Double',"
            f" JSONExtractFloat(event_data, {{{name}_k:String}}) = {{{name}_v:Int64}}, 0)"
        )
    params[f"{name}_v"] = float(value)
    return (
        f"({kind} IN ('Int64', 'UInt64', 'Double')"
        f" AND JSONExtractFloat(event_data, {{{name}_k:String}}) = {{{name}_v:Float64}})"
    )


def _matches(i: int, step: StepLike, params: dict[str, Any]) -> str:
    params[f"s{i}"] = step.event_type
    terms = [f"event_type = {{s{i}:String}}"] + [
        _json_equals(key, value, f"s{i}_{j}", params)
        for j, (key, value) in enumerate(sorted(step.where.items()))
    ]
    return "(" + " AND ".join(terms) + ")"


def tally(
    client: ReportClient,
    period: Period,
    *,
    steps: list[StepLike],
    window_days: int,
    attempt: str,
) -> list[tuple[int, float | None]]:
    """(persons, median seconds from the previous step) per step."""
    n = len(steps)
    where = (
        f"event_type IN {{types:Array(String)}} AND occurred_at >= {{start:{T}}}"
        f" AND occurred_at <= {{latest:{T}}} AND {HAS_PERSON}"
    )
    params: dict[str, Any] = {
        "types": sorted({s.event_type for s in steps}),
        "start": period.utc_start,
        "latest": period.utc_end + timedelta(days=window_days),
        "end_us": _micros(period.utc_end),
        "window_us": window_days * 86400 * 1_000_000,
    }
    person, person_params = person_key(client, where, params)
    users, user_params = event_user_scope(period, person)
    params |= person_params | user_params
    mask = " + ".join(f"{1 << i} * {_matches(i, s, params)}" for i, s in enumerate(steps))
    # Attempts: step-1 events of the period, numbered in order (first: only number 1);
    # `starts` holds their instants by number.
    keep = "c = 1" if attempt == "first" else "1"
    levels = [
        "arrayMap((m, t) -> toUInt32(bitTest(m, 0) AND t < {end_us:Int64}), ms, ts) AS attempts",
        "arrayFilter((t, x) -> x = 1, ts, attempts) AS starts",
        f"arrayMap((x, c) -> if(x = 1 AND {keep}, toUInt32(c), toUInt32(0)),"
        " attempts, arrayCumSum(attempts)) AS a0",
    ]
    for i in range(1, n):
        earlier = f"arrayPushFront(arrayPopBack(arrayFill(x -> x > 0, a{i - 1})), toUInt32(0))"
        levels.append(
            f"arrayMap((m, t, r) -> if(bitTest(m, {i}) AND r > 0"
            " AND t - starts[r] <= {window_us:Int64}, r, toUInt32(0)),"
            f" ms, ts, {earlier}) AS a{i}"
        )
    reached = [f"arrayExists(x -> x > 0, a{i})" for i in range(n)]
    furthest = "multiIf(" + ", ".join(f"{reached[i]}, {i}" for i in reversed(range(n))) + ", -1)"
    lowest = [f"arrayMin(arrayFilter(x -> x > 0, a{i}))" for i in range(n)]
    chosen = (
        "multiIf(" + ", ".join(f"{reached[i]}, {lowest[i]}" for i in reversed(range(n)))
        + ", toUInt32(0))"
    )
    instants = ", ".join(f"arrayFirst((t, a) -> a >= chosen, ts, a{i}) AS t{i}" for i in range(n))
    counts = ", ".join(f"countIf(k >= {i})" for i in range(n))
    medians = ", ".join(
        f"quantileExactInclusiveIf(0.5)((t{i} - t{i - 1}) / 1e6, k >= {i})" for i in range(1, n)
    )
    sql = f"""
        SELECT {counts}, {medians} FROM (
            SELECT {furthest} AS k, {chosen} AS chosen, {instants} FROM (
                SELECT ts, {', '.join(levels)}
                FROM (
                    SELECT arraySort(groupArray((t, id, mask))) AS rows,
                        arrayMap(r -> r.1, rows) AS ts, arrayMap(r -> r.3, rows) AS ms
                    FROM (
                        SELECT {person} AS person, toUnixTimestamp64Micro(occurred_at) AS t, id,
                            toUInt16({mask}) AS mask
                        FROM {client.table('events')} FINAL
                        WHERE {where} AND {users}
                    )
                    WHERE mask > 0
                    GROUP BY person
                )
            )
        )
        WHERE k >= 0"""
    (row,) = client.query(sql, params)
    out: list[tuple[int, float | None]] = [(int(row[0]), None)]
    for i in range(1, n):
        users_i, median = int(row[i]), row[n + i - 1]
        out.append((users_i, None if users_i == 0 else round(float(median), 3)))
    return out


def _micros(value: datetime) -> int:
    """Microseconds since 1970 of an aware datetime, exactly."""
    return (value - EPOCH) // timedelta(microseconds=1)
