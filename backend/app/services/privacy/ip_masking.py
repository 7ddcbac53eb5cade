"""Client addresses at rest: masked, hashed with a daily key, or (opt-in) kept in full.

IP_MODE=mask (the default) zeroes an IPv4 address's last octet and cuts an IPv6
address to its /48 network. IP_MODE=hash stores "h:" + 43 characters of base64url
HMAC-SHA256 of the address under a random key of the current UTC day (45 characters,
the column's width): the same visitor is countable within a day, not across days,
because each day's key is deleted after 48 hours. IP_MODE=full stores the address.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import logging
import secrets
import threading
from datetime import date, timedelta

from sqlalchemy import delete, insert, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from app import clock
from app.models import IpHashKey

log = logging.getLogger(__name__)

HASH_PREFIX = "h:"
KEY_LIFETIME = timedelta(hours=48)
# Stored values remembered per raw address (clients repeat); emptied when it fills up.
MEMO_SIZE = 4096
_keys = IpHashKey.__table__


def client_address(raw: str | None) -> str | None:
    """REMOTE_ADDR (ProxyFix has applied TRUSTED_PROXIES) when it is an IP address.

    A forwarded value is client-controlled text: anything that is not an address is
    None rather than a value that would fail the batch it is written in.
    """
    raw = (raw or "").strip()
    if raw.startswith("[") and raw.endswith("]"):
        raw = raw[1:-1]
    try:
        address = str(ipaddress.ip_address(raw))
    except ValueError:
        return None
    return address if len(address) <= 45 else None


def mask_ip(address: str) -> str | None:
    """IPv4 with the last octet zeroed, IPv6 cut to /48; None for anything else.

    An IPv4-mapped IPv6 address is masked as the IPv4 address it carries; a value
    that is already masked comes back unchanged (so masking is idempotent).
    """
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    keep = 24 if ip.version == 4 else 48
    bits = ip.max_prefixlen
    # Zero the host bits with integer arithmetic (no network object parsed from text).
    return str(ipaddress.ip_address(int(ip) >> (bits - keep) << (bits - keep)))


def hash_ip(address: str, *, key: bytes) -> str:
    """"h:" + 43 characters of base64url HMAC-SHA256: 45 characters, the column's width."""
    digest = hmac.new(key, address.encode("ascii"), hashlib.sha256).digest()
    return HASH_PREFIX + base64.urlsafe_b64encode(digest).decode("ascii")[:43]


class IpAnonymizer:
    """Turns a client address into what IP_MODE stores; one per app.

    The day's hash key is cached in the process, so a request costs no database
    round trip except the first one of each UTC day.
    """

    def __init__(self, engine: Engine, *, mode: str, secret: str | None = None) -> None:
        self._engine = engine
        self.mode = mode
        self._secret = secret.encode("utf-8") if secret else None
        self._lock = threading.Lock()
        self._day: date | None = None
        self._key: bytes | None = None
        # raw REMOTE_ADDR -> (UTC day of the hash key or None, stored value)
        self._memo: dict[str | None, tuple[date | None, str | None]] = {}

    def for_remote_addr(self, remote_addr: str | None) -> str | None:
        """What to store for a request's REMOTE_ADDR, remembered per address: the same
        clients come back, and parsing and masking cost more than the rest of the log row.
        A hashed value is remembered for its key's day only."""
        day = clock.now().date() if self.mode == "hash" else None
        hit = self._memo.get(remote_addr)
        if hit is not None and hit[0] == day:
            return hit[1]
        value = self.apply(client_address(remote_addr))
        if value is None and self.mode == "hash":
            return None  # possibly a failed key look-up: try again next time
        if len(self._memo) >= MEMO_SIZE:
            self._memo.clear()
        self._memo[remote_addr] = (day, value)
        return value

    def apply(self, address: str | None) -> str | None:
        """The value to store; None rather than a full address when hashing fails."""
        if not address:
            return None
        if self.mode == "full":
            return address
        if self.mode == "hash":
            try:
                return hash_ip(address, key=self.day_key())
            except SQLAlchemyError:
                log.exception("no IP hash key: the address is not stored")
                return None
        return mask_ip(address)

    def day_key(self) -> bytes:
        """The HMAC key of the current UTC day (created on demand, shared by processes)."""
        today = clock.now().date()
        with self._lock:
            if self._day != today or self._key is None:
                raw = _load_or_create_key(self._engine, day=today)
                self._key = hmac.new(self._secret, raw, hashlib.sha256).digest() if (
                    self._secret
                ) else raw
                self._day = today
            return self._key


def _load_or_create_key(engine: Engine, *, day: date) -> bytes:
    """The stored key of `day`; a new random one when none exists (keys past 48 h go)."""
    with engine.begin() as conn:
        key = conn.execute(select(_keys.c.key).where(_keys.c.day == day)).scalar()
        if key is not None:
            return bytes(key)
    now = clock.now()
    try:
        with engine.begin() as conn:
            conn.execute(delete(_keys).where(_keys.c.created_at < now - KEY_LIFETIME))
            conn.execute(insert(_keys).values(day=day, key=secrets.token_bytes(32), created_at=now))
    except IntegrityError:  # another process created it first: use theirs
        pass
    with engine.begin() as conn:
        return bytes(conn.execute(select(_keys.c.key).where(_keys.c.day == day)).scalar_one())
