"""The staff's view of the catalog: the filtered, sorted list of books (admin table and CSV export share its filters)
and the loads of one book for its table row or its edit page. Read only; changes are in services.catalog.editing.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, exists, func, or_, select
from sqlalchemy.orm import contains_eager, joinedload, selectinload

from ...extensions import db
from ...models import Book, BookAuthor, Genre, Inventory, book_genres
from ..inventory import alerts
from ..platform import paging
from . import isbn

STOCK_FILTERS = {"in": "In stock", "low": "Low stock", "out": "Out of stock"}
STATUS_FILTERS = {"active": "Active", "archived": "Archived"}
SORTS = {
    "title": "Title A–Z", "price": "Price: low to high", "price_desc": "Price: high to low",
    "stock": "Stock: lowest first", "stock_desc": "Stock: highest first", "sold": "Units sold", "newest": "Newest",
}
PER_PAGE = 25


@dataclass(frozen=True)
class BookFilters:
    q: str = ""
    genre_id: int | None = None
    stock: str = ""
    status: str = ""
    sort: str = "title"


def _available() -> ColumnElement[int]:
    return func.coalesce(Inventory.available, 0)


def filter_conditions(filters: BookFilters) -> list[ColumnElement[bool]]:
    """WHERE conditions for the admin list and the CSV export (the statement outer-joins inventory)."""
    where: list[ColumnElement[bool]] = []
    q = (filters.q or "").strip()[:100]
    if q:
        text = q.lower()
        options = [func.lower(Book.title).contains(text, autoescape=True),
                   func.lower(Book.author_names).contains(text, autoescape=True)]
        digits = re.sub(r"[\s-]", "", q)
        if re.fullmatch(r"\d{3,13}|\d{9}[\dXx]", digits):
            try:
                options.append(Book.isbn13 == isbn.normalize(digits))
            except isbn.InvalidISBN:
                options.append(Book.isbn13.startswith(digits.upper(), autoescape=True))
        where.append(or_(*options))
    if filters.genre_id:
        where.append(exists().where(book_genres.c.book_id == Book.id, book_genres.c.genre_id == filters.genre_id))
    if filters.stock == "in":
        where.append(_available() > 0)
    elif filters.stock == "low":
        where.append(alerts.low_sql(_available()))
    elif filters.stock == "out":
        where.append(_available() <= 0)
    if filters.status == "active":
        where.append(Book.active.is_(True))
    elif filters.status == "archived":
        where.append(Book.active.is_(False))
    return where


# ORDER BY terms per sort (built when used: `_available()` is a new expression each time); their types differ.
_ORDER: dict[str, Callable[[], tuple[ColumnElement[Any], ...]]] = {
    "title": lambda: (Book.title.asc(), Book.id.asc()),
    "price": lambda: (Book.price_cents.asc(), Book.id.asc()),
    "price_desc": lambda: (Book.price_cents.desc(), Book.id.desc()),
    "stock": lambda: (_available().asc(), Book.id.asc()),
    "stock_desc": lambda: (_available().desc(), Book.id.desc()),
    "sold": lambda: (Book.units_sold.desc(), Book.id.desc()),
    "newest": lambda: (Book.created_at.desc(), Book.id.desc()),
}


def list_books(filters: BookFilters, page: int = 1, per_page: int = PER_PAGE) -> paging.Page:
    """One page of books with their inventory (one query for the rows, one for the capped count)."""
    order = _ORDER.get(filters.sort, _ORDER["title"])()
    stmt = (select(Book).outerjoin(Inventory, Inventory.book_id == Book.id).options(contains_eager(Book.inventory))
            .where(*filter_conditions(filters)).order_by(*order))
    return paging.paginate(stmt, page, per_page)


def book_for_edit(book_id: int) -> Book | None:
    """The book with what its edit form shows and what an update compares (authors, genres, inventory)."""
    return db.session.scalar(select(Book).where(Book.id == book_id).options(
        selectinload(Book.author_links).joinedload(BookAuthor.author), selectinload(Book.genres),
        joinedload(Book.inventory)))


def book_for_row(book_id: int) -> Book | None:
    """The book with what its admin table row shows (price, stock)."""
    return db.session.scalar(select(Book).where(Book.id == book_id).options(joinedload(Book.inventory)))


def genre_choices() -> list[tuple[int, str]]:
    return [(genre_id, name) for genre_id, name in db.session.execute(select(Genre.id, Genre.name).order_by(Genre.name))]
