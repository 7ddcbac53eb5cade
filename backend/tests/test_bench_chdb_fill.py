"""bench/chdb_fill.py, the bench's way to 100M events in ClickHouse: the generator's rows,
shipped, then copied inside ClickHouse. With K copies every report read from chDB must
count K times what the app database counts on the generator's rows (distinct persons
too), and API health's percentiles are those of the latencies repeated K times
(bench/scale_reference.py's check, which bench/insights_scale.py --store applies)."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from app.extensions import db
from app.models import AnonymousIdentity, RequestLog
from app.services.analytics_store import schema, store
from app.services.analytics_store.client import table
from app.services.auth import service as auth_service
from tests.insights_data import add_user
from tests.store_support import chdb_url, drop, store_config

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from chdb_fill import copies_present, fill  # noqa: E402
from insights_scale import Dates, requests  # noqa: E402
from scale_reference import same_latencies  # noqa: E402

COPIES = 3
NOW = "2026-04-01T10:00:00Z"


def _answer(client: Any, headers: dict[str, str], method: str, path: str,
            body: dict[str, Any]) -> dict[str, Any]:
    send = client.post if method == "POST" else client.get
    response = send(f"/api/v2/insights{path}", json=body or None, headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def _counts(name: str, answer: dict[str, Any], k: int = 1) -> Any:
    """The report's counts (times k), as the bench compares them."""
    if name == "trends":
        return {(s["event_type"], p["start"]): (p["events"] * k, p["users"] * k)
                for s in answer["series"] for p in s["points"]}
    if name == "active_users":
        return {d["day"]: (d["dau"] * k, d["wau"] * k, d["mau"] * k) for d in answer["days"]}
    if name in ("funnel", "funnel_best"):
        return [s["users"] * k for s in answer["steps"]]
    assert name == "retention"
    return {(c["start"], p["period"]): None if p["on"] is None else p["on"] * k
            for c in answer["cohorts"] for p in c["periods"]}


def test_k_copies_answer_k_times_the_generators_rows_on_the_app_database(
    app_factory, chdb_dir, at
):
    at(NOW)
    # No request logs of the test's own calls: the generator's are the only ones.
    app = app_factory(REQUEST_LOG_ENABLED=False)
    url = chdb_url(chdb_dir)
    chdb_app = app_factory(**store_config(url), ANALYTICS_SHIP_ON_READ_SECONDS=0,
                           REQUEST_LOG_ENABLED=False)
    try:
        _check(app, chdb_app)
    finally:
        drop(url)


def _check(app: Any, chdb_app: Any) -> None:
    with app.app_context():
        admin = add_user("bench-admin", admin=True)
        db.session.commit()
        headers = {"Authorization":
                   f"Bearer {auth_service.issue_access_token(user=admin)['access_token']}"}
    result = app.test_cli_runner().invoke(args=[
        "analytics", "generate", "--users", "40", "--events", "1500", "--days", "60",
        "--request-logs", "600", "--log-days", "7", "--seed", "5"])
    assert result.exit_code == 0, result.output
    shipped = chdb_app.test_cli_runner().invoke(args=["analytics", "ship"])
    assert shipped.exit_code == 0, shipped.output
    with app.app_context():
        links = dict(db.session.execute(
            select(AnonymousIdentity.anonymous_id, AnonymousIdentity.user_id)).all())
    with chdb_app.app_context():
        client = store.client()
        columns = {table(client.spec, "events"): schema.EVENT_COLUMNS,
                   table(client.spec, "request_logs"): schema.LOG_COLUMNS}
        fill(client, copies=COPIES, columns=columns, links=links, log=lambda _line: None)
        fill(client, copies=COPIES, columns=columns, links=links, log=lambda _line: None)  # no more
        for name in columns:
            assert copies_present(client, name) == COPIES
        assert client.query(f"SELECT count() FROM {client.spec.database}.events FINAL") == [
            (1500 * COPIES,)]

    dates = Dates(datetime(2026, 4, 1, tzinfo=UTC))
    calls = requests(dates, challenge_id=0)
    app_client, chdb_client = app.test_client(), chdb_app.test_client()
    for name in ("trends", "active_users", "funnel", "funnel_best", "retention"):
        on_app = _answer(app_client, headers, *calls[name])
        on_chdb = _answer(chdb_client, headers, *calls[name])
        assert _counts(name, on_app, 1) != _counts(name, on_app, COPIES), name  # not all 0
        assert _counts(name, on_chdb) == _counts(name, on_app, COPIES), name

    with app.app_context():
        logs = db.session.execute(
            select(RequestLog.endpoint, RequestLog.method, RequestLog.latency_ms)
            .where(RequestLog.created_at >= dates.midnight(6))
            .order_by(RequestLog.endpoint, RequestLog.method, RequestLog.latency_ms)
        ).all()
    routes: dict[tuple[str, str], list[float]] = {}
    for endpoint, method, latency in logs:
        routes.setdefault((endpoint, method), []).append(latency)
    rows = [(e, m, values) for (e, m), values in routes.items()]
    health = _answer(chdb_client, headers, *calls["api_health"])
    assert sum(len(v) for v in routes.values()) == 600
    assert same_latencies(health, rows, COPIES)
    assert not same_latencies(health, rows, 1)
