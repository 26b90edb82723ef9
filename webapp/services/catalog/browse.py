"""Books and authors read by id, for the book page, the cards of a cached listing, "you may also like" and the
authors index: no words to match, so none of search.py's full-text machinery (split from search.py to keep
each under ~400 lines). Each read loads what its page shows in a fixed number of statements;
services.catalog.cached_reads caches most of them.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Select, exists, select
from sqlalchemy.orm import joinedload

from ...extensions import db
from ...models import Author, Book, BookAuthor, book_genres, slugify


def _in_one_query(stmt: Select[Book]) -> Select[Book]:
    """What a card shows (authors, stock), joined into the books' own statement: for a few books named by id
    (a book page, the cards missing from the cache) one round trip beats with_listing_details' two; a long
    page with LIMIT keeps the select-in form (a joined collection would multiply its rows)."""
    return stmt.options(joinedload(Book.author_links).joinedload(BookAuthor.author), joinedload(Book.inventory))


def book_detail(book_id: int) -> Book | None:
    """A book with its authors, genres and stock, in ONE statement (an uncached book page's main read)."""
    return db.session.scalars(
        _in_one_query(select(Book)).options(joinedload(Book.genres)).where(Book.id == book_id)
    ).unique().first()


def related_ids(book_id: int, author_ids: list[int], genre_ids: list[int], limit: int = 6) -> list[int]:
    """More by the same authors, then bestsellers from the same genres: their ids, from the book's author and
    genre ids (what the cached book page keeps)."""
    ids: list[int] = []
    if author_ids:
        ids += db.session.scalars(
            select(Book.id).where(
                Book.active.is_(True), Book.id != book_id,
                exists().where(BookAuthor.book_id == Book.id, BookAuthor.author_id.in_(author_ids)),
            ).order_by(Book.units_sold.desc(), Book.id).limit(limit)
        ).all()
    if len(ids) < limit and genre_ids:
        ids += db.session.scalars(
            select(Book.id).where(
                Book.active.is_(True), Book.id != book_id, Book.id.not_in(ids or [0]),
                exists().where(book_genres.c.book_id == Book.id, book_genres.c.genre_id.in_(genre_ids)),
            ).order_by(Book.units_sold.desc(), Book.id).limit(limit - len(ids))
        ).all()
    return ids


SERIES_LIST_MAX = 24


@dataclass(frozen=True)
class SeriesBook:
    id: int
    title: str
    number: int | None

    @property
    def slug(self) -> str:
        return slugify(self.title)


def series_books(series_name: str | None, limit: int = SERIES_LIST_MAX) -> list[SeriesBook]:
    """The active books of a series in reading order (number, then id), at most `limit`: one statement on
    ix_books_series, for the book page's "More in this series"."""
    if not series_name:
        return []
    rows = db.session.execute(
        select(Book.id, Book.title, Book.series_number)
        .where(Book.series_name == series_name, Book.active.is_(True))
        .order_by(Book.series_number.is_(None), Book.series_number, Book.id).limit(limit)).all()
    return [SeriesBook(*row) for row in rows]


def books_by_ids(ids: list[int]) -> list[Book]:
    """These books (in this order) with what their cards show, in a fixed number of queries."""
    if not ids:
        return []
    found = {b.id: b for b in db.session.scalars(_in_one_query(select(Book)).where(Book.id.in_(ids))).unique()}
    return [found[i] for i in ids if i in found]


def author(author_id: int) -> Author | None:
    return db.session.get(Author, author_id)


def authors_after(q: str, after: tuple[str, int] | None, limit: int) -> list[Author]:
    """Authors by name (then id), those whose name contains `q` (any case) when given, starting after the
    (name, id) `after`: a keyset page, as cheap at the thousandth page as at the first."""
    stmt = select(Author).order_by(Author.name, Author.id).limit(limit)
    if q:
        escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        stmt = stmt.where(Author.name.ilike(f"%{escaped}%", escape="\\"))
    if after is not None:
        name, author_id = after
        stmt = stmt.where((Author.name > name) | ((Author.name == name) & (Author.id > author_id)))
    return list(db.session.scalars(stmt))
