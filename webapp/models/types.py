from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import DateTime
from sqlalchemy.types import TypeDecorator

# Every id column is an SQL INTEGER (32 bits on PostgreSQL): a larger number names no row, and PostgreSQL answers
# "integer out of range" (a 500) when one is compared with it. The URL converter, the form fields and the loose
# parsers of ids (webapp.security, db_int) all bound ids to this.
DB_INT_MIN, DB_INT_MAX = -(2**31), 2**31 - 1


def db_int(raw: str | None) -> int | None:
    """A string of ASCII digits that fits a database integer, as an int; None for anything else ("²", "1e3",
    a 20-digit number...)."""
    raw = (raw or "").strip()
    if not (raw.isascii() and raw.isdecimal() and len(raw) <= 10):
        return None
    value = int(raw)
    return value if value <= DB_INT_MAX else None


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on every backend (SQLite drops tzinfo)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use timezone-aware UTC datetimes")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
