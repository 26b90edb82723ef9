"""One paginator for admin and account lists: bounded offset pages with a capped count."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Select, func, select

from ...extensions import db

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
