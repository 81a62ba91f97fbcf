"""Tables of the analyses: early-warning modules (预警模块)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    DateTime,
    String,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base


class WarningModule(Base):
    """An early-warning module (预警模块) for one category group, with its own rule and thresholds.

    `rule` is `surge` (a cell's count in the week exceeds `factor` x its weekly mean over the
    `baseline_weeks` before, and at least `min_count`) or `new_hotspot` (a cell that became a new
    or consecutive hot spot over the last `weeks` weeks, with at least `min_count` cases this week).
    """

    __tablename__ = "warning_modules"

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(60))
    name_en: Mapped[str] = mapped_column(String(120))
    category_prefixes = mapped_column(JSONB, nullable=False)
    rule: Mapped[str] = mapped_column(String(20))
    params = mapped_column(JSONB, nullable=False, default=dict)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_by: Mapped[str] = mapped_column(String(80), default="system")
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
