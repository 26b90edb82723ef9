"""Book search and listing: one service over PostgreSQL full-text and SQLite FTS5.

PostgreSQL: `books.search_vector` is a generated tsvector (title A, authors B,
description C) with a GIN index; ranked with ts_rank. Books whose title or authors
match (a second GIN index, on TITLE_AUTHOR_TSVECTOR) come before books that match
only in their description, and the work per request is bounded however many books
match (see `_pg_relevance`, SEARCH_COUNT_CAP). SQLite: the `books_fts` FTS5
table (kept in step by triggers), ranked with bm25 using the same column weights.
The last word typed is matched as a prefix so results narrow while typing. When a
query finds nothing, services.catalog.vocabulary suggests a "did you mean" (the
words are cut the same way there).
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, TypedDict

from flask import current_app
from sqlalchemy import (
    ColumnElement,
    Select,
    Subquery,
    any_,
    case,
    exists,
    func,
    literal,
    literal_column,
    select,
    text,
    union_all,
)
from sqlalchemy.orm import InstrumentedAttribute, joinedload, selectinload

from ...extensions import db
from ...models import Book, BookAuthor, Genre, Inventory, book_genres
from ...models.catalog import TITLE_AUTHOR_TSVECTOR
from ..platform.paging import Pager
from . import browse, isbn
from .vocabulary import suggest_query, tokenize

SORTS = {
    "relevance": "Relevance",
    "newest": "Newest",
    "bestselling": "Bestselling",
    "title": "Title A-Z",
    "price_asc": "Price: low to high",
    "price_desc": "Price: high to low",
}
COUNT_CAP = 10_000  # counts beyond this show as "10,000+" (bounded work per request)
# PostgreSQL word searches count (and page through) at most this many matches: "1,000+". Each match counted is
# a table row read (the GIN index cannot say which rows are visible), and at a million books the rows of a
# common word's first 10,000 matches span half the table, far more than stays in shared buffers.
SEARCH_COUNT_CAP = 1_000
_WEIGHTS = "10.0, 8.0, 5.0, 1.0"  # bm25 weights: title, subtitle, author_names, description (SQLite)


@dataclass(frozen=True)
class BookQuery:
    q: str = ""
    genre: str | None = None  # genre slug
    author_id: int | None = None
    min_price_cents: int | None = None
    max_price_cents: int | None = None
    in_stock: bool = False
    language: str | None = None
    sort: str = ""
    page: int = 1
    per_page: int = 24

    @property
    def tokens(self) -> list[str]:
        return tokenize(self.q)

    @property
    def effective_sort(self) -> str:
        if self.sort in SORTS and (self.sort != "relevance" or self.tokens):
            return self.sort
        return "relevance" if self.tokens else "newest"


@dataclass
class BookPage(Pager):
    query: BookQuery
    books: list[Book]
    total: int
    total_capped: bool
    pages: int
    suggestion: str | None = None  # "did you mean"
    corrected_from: str | None = None  # results shown are for `suggestion`, not the query
    genre: Genre | None = None
    ids: list[int] = field(default_factory=list)  # the books' ids, in order

    @property
    def page(self) -> int:  # read-only here: the page is the query's
        return self.query.page


def _dialect() -> str:
    return db.session.get_bind().dialect.name


# An ORDER BY term; the columns sorted on have different types.
OrderBy = ColumnElement[Any]


def _match(tokens: list[str]) -> tuple[ColumnElement[bool], OrderBy | Subquery]:
    """(where-clause, order-by relevance expression) for the dialect in use; on SQLite the relevance is the FTS
    subquery to join, whose `rank` column orders."""
    if _dialect() == "postgresql":
        tsquery = _pg_tsquery(tokens)
        vector: ColumnElement[str] = literal_column("books.search_vector")
        return vector.op("@@")(tsquery), func.ts_rank(vector, tsquery).desc()
    terms = ['"' + t + '"' + ("*" if i == len(tokens) - 1 else "") for i, t in enumerate(tokens)]
    fts = (
        select(literal_column("rowid").label("book_id"),
               literal_column(f"bm25(books_fts, {_WEIGHTS})").label("rank"))
        .select_from(text("books_fts"))
        .where(text("books_fts MATCH :fts_match").bindparams(fts_match=" ".join(terms)))
        .subquery("fts")
    )
    return Book.id.in_(select(fts.c.book_id)), fts


def _pg_tsquery(tokens: list[str], weights: str = "") -> ColumnElement[str]:
    """Every word, the last as a prefix; `weights` ("AB") restricts the match to those parts of search_vector."""
    last = len(tokens) - 1
    labels = [(":*" if i == last else (":" if weights else "")) + weights for i in range(len(tokens))]
    return func.to_tsquery("english", " & ".join(t + label for t, label in zip(tokens, labels, strict=True)))


def _conditions(query: BookQuery, genre: Genre | None, linked_ids_first: bool = False) -> list[ColumnElement[bool]]:
    """The listing filters other than the search words.

    `linked_ids_first` (PostgreSQL counts): the genre/author filter becomes `id = ANY(ARRAY(<their book ids>))`,
    so counting a genre's books collects its ids from the link table's index and probes each book by id,
    instead of hashing the genre's ids and scanning the other filters' index for them (several times the work).
    """
    where: list[ColumnElement[bool]] = [Book.active.is_(True)]
    links: list[tuple[ColumnElement[int] | InstrumentedAttribute[int], ColumnElement[bool]]] = []
    if genre is not None:
        links.append((book_genres.c.book_id, book_genres.c.genre_id == genre.id))
    if query.author_id:
        links.append((BookAuthor.book_id, BookAuthor.author_id == query.author_id))
    for book_id, condition in links:
        if linked_ids_first:
            where.append(Book.id == any_(func.array(select(book_id).where(condition).scalar_subquery())))
        else:
            where.append(exists().where(book_id == Book.id, condition))
    if query.min_price_cents is not None:
        where.append(Book.price_cents >= query.min_price_cents)
    if query.max_price_cents is not None:
        where.append(Book.price_cents <= query.max_price_cents)
    if query.language:
        where.append(Book.language == query.language)
    if query.in_stock:
        where.append(exists().where(Inventory.book_id == Book.id, Inventory.available > 0))
    return where


def _filtered(query: BookQuery, genre: Genre | None,
              linked_ids_first: bool = False) -> tuple[Select[Book], OrderBy | None]:
    stmt = select(Book)
    relevance: OrderBy | None = None
    tokens = query.tokens
    if tokens:
        where, match = _match(tokens)
        if isinstance(match, Subquery):  # SQLite: join the FTS subquery for its bm25 rank
            stmt = stmt.join(match, match.c.book_id == Book.id)
            relevance = match.c.rank.asc()
        else:
            stmt = stmt.where(where)
            relevance = match
    return stmt.where(*_conditions(query, genre, linked_ids_first)), relevance


_ORDER: dict[str, tuple[OrderBy, ...]] = {
    "newest": (Book.published_on.desc(), Book.id.desc()),
    "bestselling": (Book.units_sold.desc(), Book.id.desc()),
    "title": (Book.title.asc(), Book.id.asc()),
    "price_asc": (Book.price_cents.asc(), Book.id.asc()),
    "price_desc": (Book.price_cents.desc(), Book.id.desc()),
}


def with_listing_details(stmt: Select[Book]) -> Select[Book]:
    """Eager-load what a book card shows, in a fixed number of queries whatever the page size."""
    return stmt.options(
        selectinload(Book.author_links).joinedload(BookAuthor.author),
        joinedload(Book.inventory),
    )


def search_books(query: BookQuery, *, suggest: bool = True, with_books: bool = True) -> BookPage:
    """The page of books for `query`; `with_books=False` leaves `books` empty and gives only `ids` (a caller
    that renders the books from its cache)."""
    genre = None
    if query.genre:
        genre = db.session.scalar(select(Genre).where(Genre.slug == query.genre))
        if genre is None:
            return BookPage(query=query, books=[], total=0, total_capped=False, pages=1)
    max_page = int(current_app.config["MAX_PAGE"])
    by_isbn = _isbn_match(query, genre)
    if by_isbn is not None:  # an ISBN names one book: that book, exactly (filters still apply)
        total, pages, page, ids = 1, 1, 1, [by_isbn]
    elif query.effective_sort == "relevance" and _dialect() == "postgresql":
        total, pages, page, ids = _pg_relevance(query, genre, max_page)
    else:
        total, pages, page, ids = _ordered_ids(query, genre, max_page)
    query = replace(query, page=page)
    # The page's ids first (from indexes where possible), then only those books with what their cards show.
    books = browse.books_by_ids(ids) if with_books else []
    cap = _count_cap(query)
    result = BookPage(query=query, books=books, total=min(total, cap), total_capped=total > cap,
                      pages=pages, genre=genre, ids=ids)

    if not total and suggest and query.tokens:
        suggestion = suggest_query(query.q)
        if suggestion:
            corrected = search_books(replace(query, q=suggestion, page=1), suggest=False, with_books=with_books)
            if corrected.total:
                corrected.suggestion = suggestion
                corrected.corrected_from = query.q
                corrected.query = replace(query, page=1)
                return corrected
            result.suggestion = suggestion
    return result


def _isbn_match(query: BookQuery, genre: Genre | None) -> int | None:
    """The id of the book whose ISBN the query is (ISBN-10 or -13, hyphens or spaces allowed), if on sale."""
    isbn13 = isbn.from_query(query.q)
    if isbn13 is None:
        return None
    return db.session.scalar(select(Book.id).where(Book.isbn13 == isbn13, *_conditions(query, genre)))


def _count_cap(query: BookQuery) -> int:
    return SEARCH_COUNT_CAP if query.tokens and _dialect() == "postgresql" else COUNT_CAP


def _page_count(total: int, per_page: int, max_page: int) -> int:
    return max(1, min(max_page, -(-total // per_page)))


def _ordered_ids(query: BookQuery, genre: Genre | None, max_page: int) -> tuple[int, int, int, list[int]]:
    """(capped total, pages, page, ids on the page) for any sort, on any database."""
    stmt, relevance = _filtered(query, genre)
    sort = query.effective_sort
    order = (relevance, Book.id.asc()) if sort == "relevance" and relevance is not None else _ORDER[sort]
    ids_only = stmt.with_only_columns(Book.id)
    counted = ids_only
    if _dialect() == "postgresql" and (genre is not None or query.author_id):
        counted = _filtered(query, genre, linked_ids_first=True)[0].with_only_columns(Book.id)
    count = select(func.count()).select_from(counted.limit(_count_cap(query) + 1).subquery())
    # Ids only: a deep page walks an index (often without reading the table) instead of whole rows.
    ordered = ids_only.add_columns(count.scalar_subquery().label("total")).order_by(*order)
    return _fetch_page(ordered, count, query, max_page)


def _fetch_page(ordered: Select[int, int], count: Select[int], query: BookQuery,
                max_page: int) -> tuple[int, int, int, list[int]]:
    """Run `ordered` (rows of id, total) for the requested page; past the last page, show the last page."""
    page = min(max(1, query.page), max_page)
    rows = db.session.execute(ordered.limit(query.per_page).offset((page - 1) * query.per_page)).all()
    if rows:
        total = rows[0].total
    elif page == 1:
        total = 0
    else:
        total = db.session.scalar(count) or 0
        page = _page_count(total, query.per_page, max_page)
        rows = db.session.execute(ordered.limit(query.per_page).offset((page - 1) * query.per_page)).all()
    return total, _page_count(total, query.per_page, max_page), page, [r.id for r in rows]


def _pg_relevance(query: BookQuery, genre: Genre | None, max_page: int) -> tuple[int, int, int, list[int]]:
    """Relevance order on PostgreSQL with bounded work, in one statement that also gives the capped count.

    Books whose title, subtitle or authors hold every word (tier 0) come before the books that match only with
    their description (tier 1); within a tier, ts_rank then id. At most SEARCH_COUNT_CAP + 1 matches are read
    (a window), which is enough for the capped count and every page it allows, so a word found in a third of
    the catalog costs no more than a rare one:

    - the first matches of the search; when they all fit in the window, that is every match, and each one's
      tier comes from the weights in its search_vector (title A, authors B);
    - otherwise also the first title/author matches, through the GIN index on TITLE_AUTHOR_TSVECTOR (tier 0),
      followed by the other matches read (tier 1), so title/author matches stay first however common the
      word is elsewhere.

    "The first matches" are in the order the scan reads them, so the plan must read them in the same order for
    every page: parallel workers and synchronized seq scans (both free to start anywhere) are off for the
    rest of this transaction.
    """
    db.session.execute(text("SELECT set_config('max_parallel_workers_per_gather', '0', true), "
                            "set_config('synchronize_seqscans', 'off', true)"))
    tokens = query.tokens
    tsquery = _pg_tsquery(tokens)
    in_title_or_authors = _pg_tsquery(tokens, weights="AB")
    where = _conditions(query, genre)
    window = SEARCH_COUNT_CAP + 1
    vector: ColumnElement[str] = literal_column("books.search_vector")
    rank = func.ts_rank(vector, tsquery).label("rank")

    found = (select(Book.id.label("id"), rank, vector.op("@@")(in_title_or_authors).label("strong"))
             .where(*where, vector.op("@@")(tsquery)).limit(window).cte("matches").prefix_with("MATERIALIZED"))
    found_count = select(func.count()).select_from(found).scalar_subquery()
    # Read only when the matches overflow the window (each branch below runs only when its condition holds).
    strong = (select(Book.id.label("id"), rank)
              .where(*where, literal_column(TITLE_AUTHOR_TSVECTOR).op("@@")(tsquery))
              .limit(window).cte("title_author_matches").prefix_with("MATERIALIZED"))
    strong_count = select(func.count()).select_from(strong).scalar_subquery()
    candidates = union_all(
        select(found.c.id, found.c.rank, case((found.c.strong, 0), else_=1).label("tier"))
        .where(found_count < window),
        select(strong.c.id, strong.c.rank, literal(0)).where(found_count >= window),
        select(found.c.id, found.c.rank, literal(1)).where(
            found_count >= window, strong_count < window, ~exists().where(strong.c.id == found.c.id)),
    ).cte("candidates")
    ordered = select(candidates.c.id, func.count().over().label("total")).order_by(
        candidates.c.tier, candidates.c.rank.desc(), candidates.c.id)
    return _fetch_page(ordered, select(func.count()).select_from(candidates), query, max_page)


class HomeSections(TypedDict):
    new_arrivals: list[Book]
    bestsellers: list[Book]
    genres: list[Genre]


def home_sections(limit: int = 12) -> HomeSections:
    base = with_listing_details(select(Book)).where(Book.active.is_(True))
    return {
        "new_arrivals": list(db.session.scalars(base.order_by(*_ORDER["newest"]).limit(limit)).unique()),
        "bestsellers": list(db.session.scalars(base.order_by(*_ORDER["bestselling"]).limit(limit)).unique()),
        "genres": list(db.session.scalars(select(Genre).order_by(Genre.name))),
    }


LANGUAGES = {
    "en": "English", "de": "German", "es": "Spanish", "fr": "French", "it": "Italian",
    "nl": "Dutch", "pt": "Portuguese", "sv": "Swedish", "pl": "Polish", "ja": "Japanese",
}
