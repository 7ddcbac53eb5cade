"""The latency histogram's bins: logarithmic, 4% wide, read as their geometric middle.

A latency x > 0 falls in bin floor(ln x / ln 1.04); 0 ms has a bin of its own. Reading a
bin as 1.04^(b + 1/2) is within a factor sqrt(1.04) of any value in it, so a percentile
read from the bins is within ERROR_BOUND of percentile_cont on the same rows.
"""

from __future__ import annotations

import math
from typing import Any

from sqlalchemy import Float, Integer, case, cast, func, literal_column
from sqlalchemy.sql.elements import ColumnElement

RATIO = 1.04
LN_RATIO = math.log(RATIO)
ERROR_BOUND = math.sqrt(RATIO) - 1  # 0.0198: the largest relative error of a percentile
MIN_MS, MAX_MS = 1e-300, 1e300
ZERO_BIN = -20_000  # below every other bin (ln(1e-300) / ln(1.04) = -17,617)
PERCENTILES = (0.5, 0.95, 0.99)


def bin_of(latency_ms: float) -> int:
    """The bin of a latency, as the fold computes it in SQL."""
    if not latency_ms > 0:
        return ZERO_BIN
    return math.floor(math.log(min(max(latency_ms, MIN_MS), MAX_MS)) / LN_RATIO)


def representative(bin_: int) -> float:
    """The value a bin reads as: its geometric middle (0 for the zero bin)."""
    return 0.0 if bin_ == ZERO_BIN else RATIO ** (bin_ + 0.5)


def interpolate(n: int, fraction: float, low_bin: int, high_bin: int) -> float:
    """percentile_cont's linear interpolation between the bins holding the order
    statistics floor(fraction * (n - 1)) and ceil(...)."""
    position = fraction * (n - 1)
    weight = position - math.floor(position)
    low, high = representative(low_bin), representative(high_bin)
    return low + weight * (high - low)


def sql_number(value: float) -> ColumnElement[float]:
    # Inlined, not bound: the same expression in SELECT and GROUP BY must be one text.
    return literal_column(f"CAST({value!r} AS DOUBLE PRECISION)", Float)


def bin_expr(latency: Any, *, postgres: bool) -> ColumnElement[int]:
    """bin_of() in SQL."""
    if postgres:
        clamped = func.least(func.greatest(latency, sql_number(MIN_MS)), sql_number(MAX_MS))
    else:
        clamped = func.min(func.max(latency, sql_number(MIN_MS)), sql_number(MAX_MS))
    index = cast(func.floor(func.ln(clamped) / sql_number(LN_RATIO)), Integer)
    positive = latency > literal_column("0")
    return case((positive, index), else_=literal_column(str(ZERO_BIN), Integer))
