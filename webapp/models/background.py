"""Long-running staff work (CSV imports, reports) run by RQ workers, tracked here so the panel can poll
its progress and keep what it produced. Started and run by services.platform.background; the RQ job that runs
one row is jobs.background.run_task."""
from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import Model
from .types import UTCDateTime, utcnow


class TaskStatus(StrEnum):
    """Where a background task is: queued (waiting for a worker), running, then finished or failed."""

    QUEUED = "queued"
    RUNNING = "running"
    FINISHED = "finished"
    FAILED = "failed"


TASK_STATUSES: tuple[TaskStatus, ...] = tuple(TaskStatus)


class BackgroundTask(Model):
    __tablename__ = "background_tasks"
    __table_args__ = (
        CheckConstraint("status IN ('queued','running','finished','failed')", name="status_valid"),
        CheckConstraint("progress >= 0 AND total >= 0", name="progress_nonnegative"),
        Index("ix_background_tasks_kind_created", "kind", "created_at"),
        Index("ix_background_tasks_status", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))  # "import:books", "report:sales", ...
    title: Mapped[str] = mapped_column(String(200))
    params: Mapped[dict | None] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(10), default="queued", server_default="queued")
    progress: Mapped[int] = mapped_column(default=0, server_default="0")
    total: Mapped[int] = mapped_column(default=0, server_default="0")
    message: Mapped[str | None] = mapped_column(String(300))
    job_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    result: Mapped[dict | None] = mapped_column(JSON)  # summary figures, per-row errors, chart series
    output_csv: Mapped[str | None] = mapped_column(Text)
    # A report's charts by name ({"revenue": "<svg ...>", ...}), inline SVG drawn by services.insight.charts.
    # Rows migrated from the old one-text-column format may also keep, under "", text that stood before the
    # first chart marker: no chart is ever asked for by that name (see migration 0011).
    output_charts: Mapped[dict[str, str] | None] = mapped_column(JSON)
    input_text: Mapped[str | None] = mapped_column(Text)  # an uploaded CSV, until the job has read it
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    requested_by = relationship("User", lazy="joined")

    @property
    def done(self) -> bool:
        return self.status in ("finished", "failed")

    @property
    def percent(self) -> int:
        if self.status == "finished":
            return 100
        return min(99, int(self.progress * 100 / self.total)) if self.total else 0
