"""How far each rollup has folded its source table in: one id watermark per rollup."""

from __future__ import annotations

from sqlalchemy import BigInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base


class RollupState(Base):
    __tablename__ = "rollup_state"

    # The rollup's name, e.g. "activity:Europe/Berlin" or "latency".
    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    # Every source row with id <= folded_id is counted in the rollup; none above it is.
    folded_id: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
