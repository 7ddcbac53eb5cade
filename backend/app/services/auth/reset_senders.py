"""How a password-reset link reaches its user: a pluggable sender chosen by configuration.

PASSWORD_RESET_SENDER names it: `console` (the development default: prints the link on the
server's standard output, never through logging), `none` (sends nothing: the production
default until a real sender is configured), or `package.module:factory`, a callable taking
the app's config and returning an object with `send(*, email, link, expires_at)` (an SMTP or
e-mail API client). Tests may put a sender object in the config directly.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol


class ResetSender(Protocol):
    def send(self, *, email: str, link: str, expires_at: datetime) -> None:
        """Deliver `link` (which holds the secret token) to `email`."""


class ConsoleSender:
    """Development: the link on standard output, where `make run` shows it. Not a logger:
    log records go to files and collectors, and the link would give the account away."""

    def send(self, *, email: str, link: str, expires_at: datetime) -> None:
        print(
            f"Password reset for {email} (valid until {expires_at:%Y-%m-%d %H:%M} UTC): {link}",
            file=sys.stdout,
            flush=True,
        )


class NoSender:
    """Sends nothing (requests are still answered 202 and tokens still created)."""

    def send(self, *, email: str, link: str, expires_at: datetime) -> None:
        return None


def build_sender(setting: Any, config: Mapping[str, Any]) -> ResetSender:
    """The sender that PASSWORD_RESET_SENDER names (or is)."""
    if not isinstance(setting, str):
        return setting
    if setting == "console":
        return ConsoleSender()
    if setting == "none":
        return NoSender()
    module_name, _, attribute = setting.partition(":")
    if not module_name or not attribute:
        raise ValueError(
            "PASSWORD_RESET_SENDER is console, none or package.module:factory, "
            f"not {setting!r}"
        )
    factory = getattr(importlib.import_module(module_name), attribute)
    return factory(config)
