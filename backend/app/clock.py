"""The one source of "now", replaceable in tests."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

_now: Callable[[], datetime] = lambda: datetime.now(UTC)  # noqa: E731


def now() -> datetime:
    return _now()


def set_clock(func: Callable[[], datetime] | None) -> None:
    """Replace the clock (tests); None restores the real one."""
    global _now
    _now = func or (lambda: datetime.now(UTC))


def today_in(zone: str) -> date:
    return now().astimezone(ZoneInfo(zone)).date()
