"""IP_MODE: what request_logs.ip_address holds, and `flask analytics anonymize-ips`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.config import ConfigError, load_config
from app.extensions import db
from app.models import RequestLog
from app.services.privacy.ip_masking import hash_ip, mask_ip

V4 = "203.0.113.77"
V6 = "2001:db8:abcd:1234:5678::9"


@pytest.mark.parametrize(
    ("address", "masked"),
    [
        ("203.0.113.77", "203.0.113.0"),
        ("203.0.113.0", "203.0.113.0"),
        ("2001:db8:abcd:1234:5678::9", "2001:db8:abcd::"),
        ("::ffff:198.51.100.7", "198.51.100.0"),
        ("not an address", None),
    ],
)
def test_mask_ip(address, masked):
    assert mask_ip(address) == masked


def test_hash_fits_the_column_and_depends_on_the_key():
    value = hash_ip(V6, key=b"k" * 32)
    assert value.startswith("h:") and len(value) == 45
    assert value == hash_ip(V6, key=b"k" * 32) != hash_ip(V6, key=b"j" * 32)


def test_unknown_ip_mode_refuses_to_start(tmp_path):
    with pytest.raises(ConfigError):
        load_config(str(tmp_path), {"IP_MODE": "plain", "JWT_SECRET_KEY": "x" * 32})


def _logged_ips(client, flush, query, address):
    # An unknown path: logged like any request under /api/, needs no token.
    r = client.get("/api/v2/no-such-thing", environ_base={"REMOTE_ADDR": address})
    assert r.status_code == 404
    flush()
    return [row[0] for row in query("SELECT ip_address FROM request_logs ORDER BY id")]


def test_default_mode_masks_before_the_row_is_written(client, flush_logs, query):
    assert _logged_ips(client, flush_logs, query, V4) == ["203.0.113.0"]
    assert _logged_ips(client, flush_logs, query, V6)[-1] == "2001:db8:abcd::"


def test_full_mode_keeps_the_address(app_factory, query):
    app = app_factory(IP_MODE="full")
    from app.services.request_logs.capture import get_writer

    ips = _logged_ips(app.test_client(), lambda: get_writer(app).flush(), query, V6)
    assert ips == [V6]


def test_hash_mode_counts_a_visitor_within_a_day_not_across_days(app_factory, query, at):
    app = app_factory(IP_MODE="hash")
    client = app.test_client()
    from app.services.request_logs.capture import get_writer

    def flush() -> None:
        assert get_writer(app).flush()

    at("2026-03-01T10:00:00Z")
    _logged_ips(client, flush, query, V4)
    at("2026-03-01T23:00:00Z")
    _logged_ips(client, flush, query, V4)
    ips = _logged_ips(client, flush, query, "203.0.113.78")
    assert ips[0] == ips[1] != ips[2]
    assert all(ip.startswith("h:") and len(ip) == 45 and V4 not in ip for ip in ips)
    assert query("SELECT count(*) FROM ip_hash_keys") == [(1,)]

    at("2026-03-02T01:00:00Z")
    next_day = _logged_ips(client, flush, query, V4)[-1]
    assert next_day.startswith("h:") and next_day != ips[0]
    # Keys older than 48 hours are deleted when a new day's key is made.
    at("2026-03-04T12:00:00Z")
    _logged_ips(client, flush, query, V4)
    days = [str(row[0])[:10] for row in query("SELECT day FROM ip_hash_keys ORDER BY day")]
    assert days == ["2026-03-04"]


def test_hash_key_is_cached_in_the_process(app_factory, query, at):
    app = app_factory(IP_MODE="hash")
    from app.services.request_logs.capture import get_anonymizer

    at("2026-03-01T10:00:00Z")
    with app.app_context():
        anonymizer = get_anonymizer(app)
        first = anonymizer.apply(V4)
        # Deleting the stored key does not change today's hashes in this process.
        with db.engine.begin() as conn:
            conn.exec_driver_sql("DELETE FROM ip_hash_keys")
        assert anonymizer.apply(V4) == first
    assert query("SELECT count(*) FROM ip_hash_keys") == [(0,)]


def _insert_logs(app, addresses):
    base = datetime(2026, 1, 1, tzinfo=UTC)
    with app.app_context():
        db.session.add_all(
            RequestLog(
                endpoint="/api/v2/challenges", method="GET", status=200, latency_ms=1.0,
                ip_address=ip, created_at=base + timedelta(minutes=i),
            )
            for i, ip in enumerate(addresses)
        )
        db.session.commit()


def test_anonymize_ips_masks_old_rows_in_batches_and_is_idempotent(app, query):
    hashed = "h:" + "A" * 43
    addresses = [f"198.51.100.{i}" for i in range(1, 8)] + [V6, None, hashed]
    _insert_logs(app, addresses)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["analytics", "anonymize-ips", "--batch-size", "3"])
    assert result.exit_code == 0, result.output
    assert "8 of 8 addresses masked" in result.output
    stored = [row[0] for row in query("SELECT ip_address FROM request_logs ORDER BY id")]
    assert stored == ["198.51.100.0"] * 7 + ["2001:db8:abcd::", None, hashed]

    again = runner.invoke(args=["analytics", "anonymize-ips"])
    assert again.exit_code == 0 and "0 of 8 addresses masked" in again.output
