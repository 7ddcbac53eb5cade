"""Made-up HTTP methods: a 405 problem document, one recorded value (OTHER), bounded labels."""

from __future__ import annotations

import uuid

from prometheus_client.parser import text_string_to_metric_families

from tests.problem_helpers import assert_problem

METHODS = [f"X{uuid.uuid4().hex[:8].upper()}" for _ in range(40)] + ["TRACE", "CONNECT", "PROPFIND"]


def _method_labels(scrape: str) -> set[str]:
    return {
        s.labels["method"]
        for family in text_string_to_metric_families(scrape)
        if family.name == "challenge_http_request_duration_seconds"
        for s in family.samples
        if "method" in s.labels
    }


def test_unknown_methods_get_405_and_are_recorded_as_other(client, query, flush_logs):
    for i, method in enumerate(METHODS):
        path = "/api/v2/challenges" if i % 2 else f"/api/v2/no-such-{i}"
        r = client.open(path, method=method)
        assert_problem(r, 405)
        assert method not in r.get_data(as_text=True)
    r = client.open("/api/v2/challenges", method="XFOO")
    assert set(r.headers["Allow"].split(", ")) >= {"GET", "HEAD", "OPTIONS"}
    flush_logs()
    rows = query("SELECT DISTINCT method, endpoint FROM request_logs")
    assert {(m, e) for m, e in rows} == {("OTHER", "<unmatched>")}
    labels = _method_labels(client.get("/metrics").get_data(as_text=True))
    assert "OTHER" in labels
    assert not labels & set(METHODS)
    assert labels <= {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "OTHER"}


def test_routed_methods_keep_their_names(client, query, flush_logs):
    assert client.delete("/api/v2/challenges").status_code == 405  # routed method, wrong path
    assert client.options("/api/v2/challenges").status_code == 200
    flush_logs()
    rows = {tuple(r) for r in query("SELECT method, endpoint FROM request_logs")}
    assert rows == {("DELETE", "<unmatched>"), ("OPTIONS", "/api/v2/challenges")}


def test_long_and_odd_paths_are_logged_as_unmatched_never_raw(client, query, flush_logs):
    paths = [
        "/api/" + "a" * 5000,
        "/api/v2/plans/99999999999999999999",  # beyond the 32-bit id converter
        "/api/v2/plans/=1+1",
        "/api/v2/%0d%0a=cmd",
    ]
    for path in paths:
        assert_problem(client.get(path), 404)
    flush_logs()
    rows = query("SELECT endpoint, method FROM request_logs")
    assert [tuple(r) for r in rows] == [("<unmatched>", "GET")] * len(paths)
    scrape = client.get("/metrics").get_data(as_text=True)
    assert "aaaaaaaaaa" not in scrape and "=1+1" not in scrape
