"""flask write-keys create|list|revoke, and how keys are stored."""

from __future__ import annotations

from tests.segment_support import basic, message, post_batch, statuses


def _run(app, *args: str):
    result = app.test_cli_runner().invoke(args=["write-keys", *args])
    return result


def test_create_list_and_revoke_through_the_cli(app, client, query):
    created = _run(app, "create", "--source", "android", "--name", "Android app")
    assert created.exit_code == 0, created.output
    key = created.output.strip().splitlines()[-1]
    assert key.startswith("wk_pub_") and len(key) > 30
    server = _run(app, "create", "--source", "server", "--name", "Backend jobs")
    assert "secret" in server.output
    assert server.output.strip().splitlines()[-1].startswith("wk_sec_")

    # Stored hashed: neither the key nor anything longer than its prefix is in the table.
    rows = query("SELECT id, source, key_hash, key_prefix, revoked_at FROM write_keys ORDER BY id")
    assert [r.source for r in rows] == ["android", "server"]
    dump = " ".join(str(tuple(r)) for r in rows)
    assert key not in dump and rows[0].key_prefix == key[:12]

    listing = _run(app, "list")
    assert listing.exit_code == 0
    assert "Android app" in listing.output and key not in listing.output

    assert statuses(post_batch(client, key, [message()])) == ["accepted"]
    revoked = _run(app, "revoke", str(rows[0].id))
    assert revoked.exit_code == 0 and "revoked" in revoked.output
    r = client.post("/v1/track", json=message(), headers=basic(key))
    assert r.status_code == 401
    assert "revoked" in _run(app, "list").output
    assert "Android app" not in _run(app, "list", "--active").output


def test_cli_refuses_unknown_sources_and_keys(app):
    assert _run(app, "create", "--source", "tv", "--name", "x").exit_code != 0
    missing = _run(app, "revoke", "999")
    assert missing.exit_code != 0 and "No such write key" in missing.output
