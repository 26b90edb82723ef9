"""SQL helpers the reports and the admin home share, written once for both databases the shop runs on
(PostgreSQL in production, SQLite in tests and small shops): UTC days and buckets of timestamps, whole days
elapsed, session tuning for large aggregates, and reading the loosely typed values aggregates return.
"""
from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, TypeAlias

from sqlalchemy import (
    ColumnElement,
    Date,
    DateTime,
    Integer,
    Row,
    Select,
    SQLColumnExpression,
    case,
    cast,
    func,
    literal_column,
    text,
)

from ...extensions import db

# Rows and queries of any shape: the report queries' columns vary with the report, and their figures are read
# through as_int/as_date below.
AnyRow: TypeAlias = Row[*tuple[Any, ...]]
AnySelect: TypeAlias = Select[*tuple[Any, ...]]


def is_postgres() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


def midnight(day: date) -> datetime:
    """The UTC instant a calendar day starts."""
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def utc_day(column: SQLColumnExpression[datetime | None]) -> ColumnElement[date]:
    """The UTC calendar day of a timestamp column, whatever the database session's time zone."""
    if is_postgres():
        return cast(func.timezone(literal_column("'UTC'"), column), Date)
    return func.date(column)  # SQLite stores UTC text


def bucket_start(day_column: SQLColumnExpression[date], granularity: str) -> SQLColumnExpression[date]:
    """The first day of the day/week (Monday)/month bucket a day falls in."""
    if granularity == "day":
        return day_column
    if is_postgres():
        unit: ColumnElement[str] = literal_column("'week'" if granularity == "week" else "'month'")
        return cast(func.date_trunc(unit, cast(day_column, DateTime())), Date)
    if granularity == "week":  # strftime('%w'): 0 = Sunday
        back = (cast(func.strftime(literal_column("'%w'"), day_column), Integer) + 6) % 7
        return func.date(day_column, func.printf(literal_column("'-%d days'"), back))
    return func.date(day_column, literal_column("'start of month'"))


def ceil_days_since(column: SQLColumnExpression[datetime] | SQLColumnExpression[datetime | None],
                    now: datetime) -> ColumnElement[int]:
    """Whole days (started days count) from `column` to `now`: rentals' overdue days, as
    services.circulation.rentals counts them (the caller keeps rows where `column` is NULL out)."""
    if is_postgres():
        return func.ceil(func.extract("epoch", now - column) / 86400.0)
    span = func.julianday(now.replace(tzinfo=None).isoformat(sep=" ")) - func.julianday(column)
    return cast(span, Integer) + case((span > cast(span, Integer), 1), else_=0)


def tune_session() -> None:
    """Room in memory for the large aggregates (PostgreSQL's default 4 MB would spill them to disk). Lasts until
    the end of the current transaction: the report worker's and the refresh's, never a web request's."""
    if is_postgres():
        db.session.execute(text("SET LOCAL work_mem = '256MB'"))


def as_date(value: date | str) -> date:
    """A day column's value: a date on PostgreSQL (a datetime after date_trunc), ISO text on SQLite."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def as_int(value: int | Decimal | None) -> int:
    """An aggregate's value: None for no rows, a Decimal for PostgreSQL's SUM of integers."""
    return int(value or 0)

