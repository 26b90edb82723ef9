"""One paginator for admin and account lists: bounded offset pages with a capped count; and keyset pages
(newest first, an opaque cursor) for the JSON API's lists, which page by "after this one" rather than by number."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import InstrumentedAttribute

from ...extensions import db
from ...models.types import DB_INT_MAX
from .errors import RuleError

COUNT_CAP = 10_000


class Pager:
    """What the shared pager partial needs; subclasses provide `page` and `pages`, each as a field or a property."""

    if TYPE_CHECKING:  # declared for the type checker only: a real property here would shadow a subclass's field
        @property
        def page(self) -> int: ...

        @property
        def pages(self) -> int: ...

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages


@dataclass
class Page(Pager):
    items: list[Any]  # models, or rows when paginated with scalars=False
    page: int
    per_page: int
    total: int
    total_capped: bool

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def paginate(stmt: Select[*tuple[Any, ...]], page: int, per_page: int = 25, *, scalars: bool = True) -> Page:
    total = db.session.scalar(select(func.count()).select_from(stmt.order_by(None).limit(COUNT_CAP + 1).subquery()))
    total = total or 0
    pages = max(1, -(-min(total, COUNT_CAP) // per_page))
    page = min(max(1, page), pages)
    query = stmt.limit(per_page).offset((page - 1) * per_page)
    items = list(db.session.scalars(query).unique()) if scalars else list(db.session.execute(query))
    return Page(items=items, page=page, per_page=per_page, total=min(total, COUNT_CAP), total_capped=total > COUNT_CAP)


# ---- keyset pages (newest first) ----

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_LAST = datetime.max.replace(tzinfo=UTC)
CURSOR_PATTERN = r"^[0-9]{1,18}_[0-9]{1,10}$"  # microseconds since 1970 _ an id
_CURSOR = re.compile(r"([0-9]{1,18})_([0-9]{1,10})", re.ASCII)  # the same, with its parts


class BadCursor(RuleError):
    """A cursor this paginator did not hand out."""

    def __init__(self) -> None:
        super().__init__("That cursor is not valid: use the next_cursor of the page before.", "cursor")


@dataclass
class CursorPage:
    items: list[Any]
    next_cursor: str | None  # pass back for the next (older) page; None on the last page


def _cursor(at: datetime, row_id: int) -> str:
    delta = at - _EPOCH
    return f"{(delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds}_{row_id}"


def _position(cursor: str) -> tuple[datetime, int]:
    """Where a cursor points. Any cursor of the pattern is a position (one past every row reads as the start)."""
    match = _CURSOR.fullmatch(cursor)
    if match is None:
        raise BadCursor()
    micros = int(match.group(1))
    try:
        at = _EPOCH + timedelta(microseconds=micros)
    except OverflowError:
        at = _LAST
    return at, min(int(match.group(2)), DB_INT_MAX)  # past every id (a database integer): from the newest


def keyset(stmt: Select[Any], at: InstrumentedAttribute[datetime], row_id: InstrumentedAttribute[int],
           cursor: str | None, limit: int) -> CursorPage:
    """`limit` rows of `stmt` (a select of one model) newest first by (`at`, `row_id`), after `cursor` (None for
    the first page). Raises BadCursor for a cursor it did not make."""
    if cursor:
        when, last = _position(cursor)
        stmt = stmt.where(at <= when, or_(at < when, row_id < last))
    rows = list(db.session.scalars(stmt.order_by(at.desc(), row_id.desc()).limit(limit + 1)))
    items = rows[:limit]
    more = len(rows) > limit
    tail = items[-1] if items else None
    return CursorPage(items, _cursor(getattr(tail, at.key), getattr(tail, row_id.key)) if more and tail else None)
