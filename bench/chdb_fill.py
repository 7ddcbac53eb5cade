"""Fill a ClickHouse store past what PostgreSQL holds, for bench/insights_scale.py --store.

100 million events cannot go through PostgreSQL and the shipper in a bench's time (about
35,000 rows/s: 48 minutes), so the store is filled in two steps:

1. the generator's rows (`flask analytics generate` into the app database) are shipped
   once by the real shipper (`flask analytics ship`): copy 0, the very rows PostgreSQL
   holds;
2. `copies - 1` more copies of them are made inside ClickHouse (`INSERT ... SELECT` from
   copy 0), copy k with every id raised by k * ID_STRIDE and every user id by
   k * USER_STRIDE (an anonymous id gets the suffix `~k`; an anonymous event whose id the
   app database links to a user gets that user's copy as its user_id, since the copy's
   anonymous id has no link there): k more populations of people who behave exactly as
   the generated ones, on the same days at the same instants.

So with `copies = K` the store holds K disjoint copies of the generated population: every
count and every distinct-person count of a report is exactly K times the app database's
answer on its rows, and medians and percentiles are those of the same values repeated K
times. That is what `same answer` checks at scale (`scaled`).
"""

from __future__ import annotations

import time
from typing import Any

ID_STRIDE = 10**12  # above any id the app database will hand out in a bench's life
USER_STRIDE = 10**9
# The columns a copy changes; every other column is copied as it is.
_CHANGED = {
    "id": "id + {k} * {ids}",
    "user_id": "user_id + {k} * {users}",
    "anonymous_id": "if(anonymous_id IS NULL, NULL, concat(anonymous_id, '~{k}'))",
}


def copies_present(client: Any, table: str) -> int:
    """How many copies the table holds (copy 0 is the shipped rows)."""
    rows = client.query(f"SELECT intDiv(max(id), {ID_STRIDE}) + 1, count() FROM {table}")
    return int(rows[0][0]) if rows and rows[0][1] else 0


_LINKED_USER = (
    "if(user_id IS NOT NULL, user_id + {k} * {users}, if(has({{anonymous:Array(String)}},"
    " anonymous_id), transform(assumeNotNull(anonymous_id), {{anonymous:Array(String)}},"
    " {{linked:Array(Int64)}}, toInt64(0)) + {k} * {users}, NULL))"
)


def fill(client: Any, *, copies: int, columns: dict[str, tuple[str, ...]],
         links: dict[str, int] | None = None, log: Any = print) -> dict[str, float]:
    """Bring every table to `copies` copies of its shipped rows; seconds per table.
    `columns` maps each table (qualified) to the columns the shipper writes; `links`: the
    app database's anonymous id -> user id."""
    anonymous = sorted(links or {})
    params = {"anonymous": anonymous, "linked": [(links or {})[a] for a in anonymous]}
    seconds = {}
    for table, names in columns.items():
        have = copies_present(client, table)
        if have == 0:
            continue
        start = time.perf_counter()
        for k in range(have, copies):
            changed = dict(_CHANGED)
            if "anonymous_id" in names:
                changed["user_id"] = _LINKED_USER
            values = ", ".join(
                changed[c].format(k=k, ids=ID_STRIDE, users=USER_STRIDE) if c in changed
                else c for c in names
            )
            client.command(
                f"INSERT INTO {table} ({', '.join(names)}) SELECT {values} FROM {table}"
                f" WHERE id < {ID_STRIDE}", params if "anonymous_id" in names else None
            )
            log(f"  {table}: copy {k + 1} of {copies} ({time.perf_counter() - start:.1f} s)")
        seconds[table] = time.perf_counter() - start
    return seconds
