"""CSV output of any report result (each has csv_rows(): a header row, then data).

Cells are safe to open in a spreadsheet (OWASP, "CSV Injection"): a text cell that starts
with =, +, -, @, a tab or a carriage return would be read as a formula by Excel, LibreOffice
or Sheets, so it is written with a single quote in front ("'=HYPERLINK(...)"). Numbers
(int, float, Decimal) are measures, never text: they are written as they are, so a negative
number stays a number in the sheet. A value that only looks like a number ("-5" as text,
say a breakdown value from event_data) is text and gets the quote. The csv module quotes
every cell that holds a comma, a double quote or a line break (and doubles its quotes), so
a crafted value stays one cell and cannot start a new one.
"""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from typing import Any, Protocol

# The characters a spreadsheet reads as the start of a formula (OWASP's list).
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


class Exportable(Protocol):
    def csv_rows(self) -> list[list[Any]]: ...


def neutralize(text: str) -> str:
    """Text a spreadsheet shows as text: a leading formula character gets a quote before it."""
    return "'" + text if text.startswith(FORMULA_TRIGGERS) else text


def cell(value: Any) -> Any:
    """One CSV cell: numbers as they are, booleans as true/false, everything else as safe text."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | Decimal):
        return value
    return neutralize(value if isinstance(value, str) else str(value))


def to_csv(result: Exportable) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    for row in result.csv_rows():
        writer.writerow([cell(v) for v in row])
    return buffer.getvalue()
