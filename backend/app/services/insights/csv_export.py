"""CSV output of any report result (each has csv_rows(): a header row, then data)."""

from __future__ import annotations

import csv
import io
from typing import Any, Protocol


class Exportable(Protocol):
    def csv_rows(self) -> list[list[Any]]: ...


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def to_csv(result: Exportable) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    for row in result.csv_rows():
        writer.writerow([_cell(v) for v in row])
    return buffer.getvalue()
