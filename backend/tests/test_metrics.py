"""/metrics: Prometheus text, readable from loopback or with the METRICS_TOKEN bearer."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from app import metrics
from app.services.request_logs.capture import get_writer
from tests.problem_helpers import assert_problem

OUTSIDE = {"REMOTE_ADDR": "203.0.113.9"}
TOKEN = "s3cret-metrics-token-for-tests"


def sample(scrape: str, name: str, **labels: str) -> float:
    """The value of one sample (0.0 when absent: counters start unexported)."""
    for family in text_string_to_metric_families(scrape):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return s.value
    return 0.0


def scrape(client) -> str:  # type: ignore[no-untyped-def]
    r = client.get("/metrics")
    assert r.status_code == 200
    assert r.content_type.startswith("text/plain")
    return r.get_data(as_text=True)


def test_metrics_readable_from_loopback_without_a_token(client):
    assert client.get("/metrics").status_code == 200
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "::1"}).status_code == 200


def test_metrics_refused_from_elsewhere_when_no_token_is_configured(client):
    assert_problem(client.get("/metrics", environ_base=OUTSIDE), 403)


def test_metrics_need_the_bearer_token_from_elsewhere(app_factory):
    client = app_factory(METRICS_TOKEN=TOKEN).test_client()
    r = client.get("/metrics", environ_base=OUTSIDE)
    assert_problem(r, 401)
    assert r.headers["WWW-Authenticate"].startswith("Bearer")
    wrong = {"Authorization": "Bearer not-the-token"}
    assert_problem(client.get("/metrics", headers=wrong, environ_base=OUTSIDE), 401)
    right = {"Authorization": f"Bearer {TOKEN}"}
    r = client.get("/metrics", headers=right, environ_base=OUTSIDE)
    assert r.status_code == 200 and "challenge_events_total" in r.get_data(as_text=True)
    # A wrong token is refused even from loopback (it was presented, so it is checked).
    assert_problem(client.get("/metrics", headers=wrong), 401)


def test_event_counters_by_outcome_and_reason(client):
    before = scrape(client)
    metrics.count_events("accepted", 3)
    metrics.count_events("duplicate")
    metrics.count_events("rejected", 2, reason="schema_invalid")
    metrics.count_events("rate_limited", 100)
    after = scrape(client)

    def delta(**labels: str) -> float:
        name = "challenge_events_total"
        return sample(after, name, **labels) - sample(before, name, **labels)

    assert delta(outcome="accepted", reason="") == 3
    assert delta(outcome="duplicate", reason="") == 1
    assert delta(outcome="rejected", reason="schema_invalid") == 2
    assert delta(outcome="rate_limited", reason="") == 100


def test_latency_histogram_by_route_template_and_method(client):
    route = "/api/v2/things/<int:id>"
    before = scrape(client)
    metrics.observe_request(route, "GET", 200, 0.003)
    metrics.observe_request(route, "GET", 404, 0.2)
    after = scrape(client)
    name = "challenge_http_request_duration_seconds"

    def delta(suffix: str, **labels: str) -> float:
        labels = {"route": route, "method": "GET", **labels}
        return sample(after, name + suffix, **labels) - sample(before, name + suffix, **labels)

    assert delta("_count", status="2xx") == 1 and delta("_count", status="4xx") == 1
    assert delta("_bucket", status="2xx", le="0.005") == 1
    assert delta("_bucket", status="4xx", le="0.1") == 0
    assert delta("_bucket", status="4xx", le="0.25") == 1


def test_api_requests_are_measured_by_the_request_log_hook(client, auth):
    headers = auth().headers
    before = scrape(client)
    assert client.get("/api/v2/challenges", headers=headers).status_code == 200
    after = scrape(client)
    labels = {"route": "/api/v2/challenges", "method": "GET", "status": "2xx"}
    name = "challenge_http_request_duration_seconds_count"
    assert sample(after, name, **labels) - sample(before, name, **labels) == 1


def test_api_requests_are_measured_with_request_logging_off(app_factory, query):
    # REQUEST_LOG_ENABLED=false turns the request_logs rows off, not the metrics.
    app = app_factory(REQUEST_LOG_ENABLED=False)
    client = app.test_client()
    before = scrape(client)
    assert client.get("/api/v2/auth/me").status_code == 401
    after = scrape(client)
    labels = {"route": "/api/v2/auth/me", "method": "GET", "status": "4xx"}
    name = "challenge_http_request_duration_seconds_count"
    assert sample(after, name, **labels) - sample(before, name, **labels) == 1
    get_writer(app).flush()
    assert query("SELECT count(*) FROM request_logs")[0][0] == 0


def test_writer_queue_depth_is_reported_at_scrape_time(app_factory, query):
    app = app_factory(REQUEST_LOG_FLUSH_INTERVAL=60)  # rows wait until flushed
    client = app.test_client()
    for n in range(3):
        assert client.get(f"/api/v2/no-such-route/{n}").status_code == 404
    queued = sample(scrape(client), "challenge_request_log_queue_depth")
    # The writer thread may already hold the first row while it lingers.
    assert queued in (2.0, 3.0)
    assert sample(scrape(client), "challenge_request_log_spool_bytes") == 0
    assert get_writer(app).flush(timeout=10)
    assert sample(scrape(client), "challenge_request_log_queue_depth") == 0
    # /metrics itself is not an API request: never request-logged.
    assert query("SELECT count(*) FROM request_logs WHERE endpoint LIKE '%metrics%'")[0][0] == 0
    assert query("SELECT count(*) FROM request_logs")[0][0] == 3
