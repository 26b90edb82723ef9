"""What an admin asks a report for: a period of whole UTC days, figures per day/week/month, and how many rows
a ranked list has; each checked here, with ReportError saying what is wrong (the admin form shows it).

A report task stores these as JSON params ({"from": ..., "to": ..., "granularity": ..., "limit": ...}) and its
runner reads them back with `period_from_params` and `limit_from_params`.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from flask import current_app

from ...models import utcnow
from .sql import midnight

GRANULARITIES = {"day": "Daily", "week": "Weekly", "month": "Monthly"}
LIMITS = (10, 25, 50)


class ReportError(ValueError):
    """A report cannot be made with these inputs (the message is shown to the admin)."""


@dataclass(frozen=True)
class Period:
    """Whole UTC days, both ends included."""

    start: date
    end: date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def starts_at(self) -> datetime:
        return midnight(self.start)

    @property
    def ends_before(self) -> datetime:
        return midnight(self.end + timedelta(days=1))

    def label(self) -> str:
        return f"{self.start.isoformat()} to {self.end.isoformat()}"

    def as_params(self) -> dict[str, str]:
        return {"from": self.start.isoformat(), "to": self.end.isoformat()}


def validate_period(start: date | None, end: date | None, today: date | None = None) -> Period:
    """The period an admin asked for, or ReportError saying what is wrong with it."""
    today = today or utcnow().date()
    max_days = current_app.config["REPORT_MAX_DAYS"]
    if start is None or end is None:
        raise ReportError("Choose both a start and an end date.")
    if end < start:
        raise ReportError("The end date is before the start date.")
    if end > today:
        raise ReportError(f"The end date cannot be after today ({today.isoformat()}, UTC).")
    if (end - start).days + 1 > max_days:
        raise ReportError(f"A report covers at most {max_days} days; this period has {(end - start).days + 1}.")
    return Period(start, end)


def period_from_params(params: dict[str, Any]) -> Period:
    """A task's stored period, checked again (REPORT_MAX_DAYS may have changed since it was queued)."""
    return validate_period(date.fromisoformat(params["from"]), date.fromisoformat(params["to"]))


def limit_from_params(params: dict[str, Any]) -> int:
    value = int(params.get("limit") or 25)
    if value not in LIMITS:
        raise ReportError("Choose 10, 25 or 50 rows.")
    return value
