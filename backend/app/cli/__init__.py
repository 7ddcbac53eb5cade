"""flask commands, one module per group: demo (seed-demo), users (create-admin, users ...),
analytics (verify, rejected, generate, rollup), store (analytics ship, store-status),
privacy (analytics anonymize-ips, prune, partitions) and write_keys (write-keys create,
list, revoke). Commands parse options and call services; they hold no logic of their own.
"""

from __future__ import annotations

from flask import Flask


def register_cli(app: Flask) -> None:
    from app.cli.analytics import analytics_group
    from app.cli.demo import seed_demo_command
    from app.cli.privacy import register_privacy_cli
    from app.cli.store import register_store_cli
    from app.cli.users import create_admin_command, users_group
    from app.cli.write_keys import write_keys_group

    app.cli.add_command(seed_demo_command)
    app.cli.add_command(create_admin_command)
    app.cli.add_command(users_group)
    app.cli.add_command(analytics_group)
    app.cli.add_command(write_keys_group)
    register_privacy_cli(analytics_group)
    register_store_cli(analytics_group)
