"""The plain SQL each insights report is measured against in bench/insights_scale.py, and
how its answer is compared with the API's (the reference follows docs/REPORTS.md's
definitions: a report that changes its definition changes its reference here too)."""

from __future__ import annotations

from typing import Any

FUNNEL = ["app_opened", "plan_viewed", "video_started", "plan_completed"]


# The plain scans: the textbook SQL for each question, on the raw tables, no rollups.
_STEP = (
    "{name} AS (SELECT p.user_id, p.t1, min(e.occurred_at) AS t FROM {prev} p "
    "JOIN analytics_events e ON e.user_id = p.user_id AND e.event_type = '{event}' "
    "AND e.occurred_at >= p.t AND e.occurred_at <= p.t1 + interval '14 days' GROUP BY 1, 2)"
)
PLAIN_SQL = {
    "trends": (
        "SELECT event_type, (occurred_at AT TIME ZONE 'UTC')::date AS day, count(*), "
        "count(DISTINCT user_id) FROM analytics_events "
        "WHERE event_type IN ('plan_viewed', 'plan_completed') "
        "AND occurred_at >= %(start30)s AND occurred_at < %(end)s GROUP BY 1, 2"
    ),
    "active_users": (
        # Persons (issue 15): the user, else the anonymous id's linked user, else its key.
        "WITH active AS (SELECT DISTINCT coalesce(e.user_id, l.user_id, "
        "-(('x' || substr(md5(e.anonymous_id), 1, 15))::bit(60)::bigint) - 1) AS user_id, "
        "(e.occurred_at AT TIME ZONE 'UTC')::date AS day FROM analytics_events e "
        "LEFT JOIN anonymous_identities l ON e.user_id IS NULL "
        "AND l.anonymous_id = e.anonymous_id "
        "WHERE e.occurred_at >= %(start30)s - interval '29 days' AND e.occurred_at < %(end)s "
        "AND (e.user_id IS NOT NULL OR e.anonymous_id IS NOT NULL)), "
        "days AS (SELECT d::date AS day FROM generate_series(%(first30)s::date, %(last)s::date, "
        "interval '1 day') AS d) "
        "SELECT d.day, count(DISTINCT a.user_id) FILTER (WHERE a.day = d.day), "
        "count(DISTINCT a.user_id) FILTER (WHERE a.day > d.day - 7), count(DISTINCT a.user_id) "
        "FROM days d JOIN active a ON a.day > d.day - 30 AND a.day <= d.day GROUP BY d.day"
    ),
    "challenge_progress": (
        "WITH members AS (SELECT user_id, min(start_date) AS start FROM enrollments "
        "WHERE challenge_id = %(challenge)s GROUP BY user_id) "
        "SELECT date_trunc('week', m.start)::date, c.day, count(DISTINCT c.user_id) "
        "FROM completions c JOIN enrollments e ON e.id = c.enrollment_id "
        "AND e.challenge_id = %(challenge)s JOIN members m ON m.user_id = c.user_id "
        "WHERE m.start BETWEEN %(first90)s AND %(last)s GROUP BY 1, 2"
    ),
    "funnel": (
        "WITH s1 AS (SELECT user_id, min(occurred_at) AS t1, min(occurred_at) AS t "
        "FROM analytics_events WHERE event_type = 'app_opened' "
        "AND occurred_at >= %(start30)s AND occurred_at < %(end)s GROUP BY user_id), "
        + ", ".join(_STEP.format(name=f"s{i + 2}", prev=f"s{i + 1}", event=event)
                    for i, event in enumerate(FUNNEL[1:]))
        + " SELECT (SELECT count(*) FROM s1), (SELECT count(*) FROM s2), "
        "(SELECT count(*) FROM s3), (SELECT count(*) FROM s4)"
    ),
    # Every app_opened in the range is an attempt: a user counts at a step if any of their
    # attempts' paths reaches it.
    "funnel_best": (
        "WITH s1 AS (SELECT DISTINCT user_id, occurred_at AS t1, occurred_at AS t "
        "FROM analytics_events WHERE event_type = 'app_opened' "
        "AND occurred_at >= %(start30)s AND occurred_at < %(end)s), "
        + ", ".join(_STEP.format(name=f"s{i + 2}", prev=f"s{i + 1}", event=event)
                    for i, event in enumerate(FUNNEL[1:]))
        + " SELECT (SELECT count(DISTINCT user_id) FROM s1), "
        "(SELECT count(DISTINCT user_id) FROM s2), (SELECT count(DISTINCT user_id) FROM s3), "
        "(SELECT count(DISTINCT user_id) FROM s4)"
    ),
    "retention": (
        "WITH firsts AS (SELECT user_id, min((occurred_at AT TIME ZONE 'UTC')::date) AS day "
        "FROM analytics_events WHERE event_type = 'app_opened' GROUP BY user_id), "
        "cohorts AS (SELECT * FROM firsts WHERE day BETWEEN %(cohort_first)s AND %(cohort_last)s), "
        "returns AS (SELECT DISTINCT c.user_id, c.day AS cohort, "
        "(e.occurred_at AT TIME ZONE 'UTC')::date - c.day AS p FROM cohorts c "
        "JOIN analytics_events e ON e.user_id = c.user_id AND e.event_type = 'app_opened' "
        "AND e.occurred_at >= c.day + 1 AND e.occurred_at < c.day + 31 "
        # Returns count only up to the end of `to` (docs/REPORTS.md, Retention): later
        # periods are null in the report, so they are absent here.
        "AND e.occurred_at < %(cohort_last)s::date + 1) "
        "SELECT cohort, p, count(*) FROM returns GROUP BY 1, 2"
    ),
    "api_health": (
        "SELECT endpoint, method, count(*), avg((status BETWEEN 400 AND 499)::int), "
        "avg((status >= 500)::int), "
        "percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY latency_ms) "
        "FROM request_logs WHERE created_at >= %(start7)s AND created_at < %(end)s "
        "GROUP BY 1, 2"
    ),
}


# With copies (bench/chdb_fill.py) a route's latencies are its scanned values each repeated
# `copies` times, whose percentile_cont interpolates between other neighbours than the
# scan's: so the scan returns each route's sorted latencies, and repeated_percentile
# computes the interpolation on them repeated.
LATENCIES_SQL = (
    "SELECT endpoint, method, array_agg(latency_ms ORDER BY latency_ms) FROM request_logs "
    "WHERE created_at >= %(start7)s AND created_at < %(end)s GROUP BY 1, 2"
)


def repeated_percentile(values: list[float], copies: int, p: float) -> float:
    """percentile_cont(p) (= quantileExactInclusive) of sorted `values`, each repeated
    `copies` times: the value at 0-based rank j of the repeated list is values[j // copies]."""
    h = (len(values) * copies - 1) * p
    low = int(h)
    high = min(low + 1, len(values) * copies - 1)
    a, b = values[low // copies], values[high // copies]
    return a + (h - low) * (b - a)


def same_latencies(ours: dict[str, Any], rows: list[tuple[Any, ...]], copies: int) -> bool:
    """API health read from `copies` copies of the request logs: requests exactly, p50,
    p95 and p99 as the repeated values give them (to the API's 3 decimals)."""
    got = {(r["endpoint"], r["method"]): r for r in ours["routes"]}
    if set(got) != {(e, m) for e, m, _v in rows}:
        return False
    for endpoint, method, values in rows:
        route = got[(endpoint, method)]
        want = [repeated_percentile(values, copies, p) for p in (0.5, 0.95, 0.99)]
        mine = [route["p50_ms"], route["p95_ms"], route["p99_ms"]]
        if route["requests"] != len(values) * copies or any(
            abs(a - b) > 0.0006 + 1e-9 * b for a, b in zip(mine, want, strict=True)
        ):
            return False
    return True


def same_answer(name: str, ours: dict[str, Any], rows: list[tuple[Any, ...]],
                copies: int = 1) -> bool:
    """Whether the API and the plain scan agree (counts exactly; latency percentiles within
    the 2% a histogram rollup may be off by). `copies`: the API read that many disjoint
    copies of the scanned rows (bench/chdb_fill.py), so every count is that many times the
    scan's, and percentiles are those of the same values repeated."""
    k = copies
    if name == "trends":
        got = {(s["event_type"], p["start"]): (p["events"], p["users"])
               for s in ours["series"] for p in s["points"] if p["events"]}
        return got == {(t, d.isoformat()): (n * k, u * k) for t, d, n, u in rows}
    if name == "active_users":
        got = {d["day"]: (d["dau"], d["wau"], d["mau"]) for d in ours["days"] if d["mau"]}
        return got == {d.isoformat(): (a * k, w * k, m * k) for d, a, w, m in rows}
    if name == "challenge_progress":
        got = {(c["week_start"], d["day"]): d["on"]
               for c in ours["cohorts"] for d in c["days"] if d["on"]}
        return got == {(w.isoformat(), day): n * k for w, day, n in rows}
    if name in ("funnel", "funnel_best"):
        return [s["users"] for s in ours["steps"]] == [n * k for n in rows[0]]
    if name == "retention":
        got = {(c["start"], p["period"]): p["on"]
               for c in ours["cohorts"] for p in c["periods"] if p["period"] and p["on"]}
        return got == {(c.isoformat(), p): n * k for c, p, n in rows}
    plain = {(e, m): (n * k, pcts) for e, m, n, _r4, _r5, pcts in rows}
    got = {(r["endpoint"], r["method"]): r for r in ours["routes"]}
    if set(got) != set(plain):
        return False
    for key, (n, pcts) in plain.items():
        mine = [got[key]["p50_ms"], got[key]["p95_ms"], got[key]["p99_ms"]]
        if got[key]["requests"] != n or any(
            abs(a - b) > 0.02 * b + 1e-6 for a, b in zip(mine, pcts, strict=True)
        ):
            return False
    return True
