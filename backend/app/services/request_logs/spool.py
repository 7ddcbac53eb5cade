"""A bounded on-disk spool for request log rows written while the database is unavailable.

One JSON-lines file per writer (the process id in its name) so that processes never
interleave; the bound holds for the whole directory. Rows come back out (oldest file
first) once the database answers again, and a file is deleted only after the
transaction that inserted its rows has committed, so a row is written once: a crash
between that commit and the delete is the one window in which it could come back twice.
Files left by a process that died are adopted (renamed, which only one process can
win) by the next writer that replays.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
from datetime import datetime
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

_SUFFIX = ".jsonl"
_sequence = itertools.count(1)


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot spool {type(value).__name__}")


def _decode(line: bytes) -> dict[str, Any] | None:
    try:
        row = json.loads(line)
        if not isinstance(row, dict):
            return None
        if isinstance(row.get("created_at"), str):
            row["created_at"] = datetime.fromisoformat(row["created_at"])
        return row
    except ValueError:
        return None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class RequestLogSpool:
    """Append rows while the database is down; hand them back, file by file, when it is up."""

    def __init__(self, directory: str | os.PathLike[str], *, max_bytes: int) -> None:
        self.directory = Path(directory)
        self.max_bytes = max_bytes
        self._name = ""
        self.rearm()

    def rearm(self) -> None:
        """A file name of this process's own (called again in a forked child)."""
        self._name = f"requests-{os.getpid()}-{next(_sequence)}{_SUFFIX}"

    @property
    def path(self) -> Path:
        return self.directory / self._name

    # -- size ---------------------------------------------------------------
    def _files(self) -> list[Path]:
        try:
            return sorted(
                (p for p in self.directory.iterdir() if p.name.endswith(_SUFFIX)),
                key=lambda p: p.stat().st_mtime_ns,
            )
        except FileNotFoundError:
            return []

    def total_bytes(self) -> int:
        """Bytes in the whole spool directory (every process's files)."""
        total = 0
        for path in self._files():
            try:
                total += path.stat().st_size
            except FileNotFoundError:
                continue
        return total

    def own_bytes(self) -> int:
        try:
            return self.path.stat().st_size
        except FileNotFoundError:
            return 0

    def has_rows(self) -> bool:
        return self.own_bytes() > 0 or bool(self._orphans())

    # -- writing ------------------------------------------------------------
    def append(self, rows: list[dict[str, Any]]) -> int:
        """Keep as many rows as the bound allows; returns how many were kept."""
        room = self.max_bytes - self.total_bytes()
        lines: list[bytes] = []
        size = 0
        for row in rows:
            line = json.dumps(row, default=_default, separators=(",", ":")).encode() + b"\n"
            if size + len(line) > room:
                break
            lines.append(line)
            size += len(line)
        if not lines:
            return 0
        self.directory.mkdir(parents=True, exist_ok=True)
        # One write() on an O_APPEND descriptor, then fsync: the rows survive a crash.
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, b"".join(lines))
            os.fsync(fd)
        finally:
            os.close(fd)
        return len(lines)

    # -- replay -------------------------------------------------------------
    def _orphans(self) -> list[Path]:
        """Spool files of processes that no longer exist."""
        out = []
        for path in self._files():
            parts = path.name.split("-")
            if len(parts) < 3 or not parts[1].isdigit():
                continue
            pid = int(parts[1])
            if pid != os.getpid() and not _pid_alive(pid):
                out.append(path)
        return out

    def pending(self) -> list[Path]:
        """Files to replay now: adopted orphans (renamed to ours first), then our own."""
        files: list[Path] = []
        for orphan in self._orphans():
            adopted = self.directory / f"requests-{os.getpid()}-adopted-{orphan.name}"
            try:
                orphan.rename(adopted)  # atomic: one process wins, the others skip it
            except FileNotFoundError:
                continue
            files.append(adopted)
        files.extend(
            p
            for p in self._files()
            if p.name.startswith(f"requests-{os.getpid()}-adopted-") and p not in files
        )
        if self.own_bytes() > 0:
            files.append(self.path)
        return files

    @staticmethod
    def read(path: Path) -> list[dict[str, Any]]:
        """The rows of one file; a torn last line (a crash mid-append) is skipped."""
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return []
        rows = []
        for line in data.splitlines():
            row = _decode(line) if line.strip() else None
            if row is not None:
                rows.append(row)
            elif line.strip():
                log.warning("skipped an unreadable line in request log spool %s", path)
        return rows

    @staticmethod
    def rewrite(path: Path, rows: list[dict[str, Any]]) -> None:
        """Replace a file's rows (atomically: a temporary file renamed over it)."""
        data = b"".join(
            json.dumps(row, default=_default, separators=(",", ":")).encode() + b"\n"
            for row in rows
        )
        temporary = path.with_name(path.name + ".tmp")
        with temporary.open("wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        temporary.replace(path)

    @staticmethod
    def done(path: Path) -> None:
        """Delete a file whose rows are committed."""
        try:
            path.unlink()
        except FileNotFoundError:
            pass
