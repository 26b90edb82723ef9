"""Catalog reads through the cache: listing and search results (ids and counts), home shelves, genres, related books.

Why: at a million books a search or a deep listing page costs milliseconds of SQL, the same for every visitor
until the catalog changes. Each result is stored as JSON under the catalog version (services.platform.cache),
so any change to the catalog is seen by the next request; the books themselves are rendered per book, under
their own versions, by the catalog blueprint. Only ids and plain values are stored, never ORM objects.

A stored list of books also keeps each book's version as read just after the list was built ("tags"): every
change to a book bumps the catalog version too, so while the list is current those versions are, and a page
reads its cards in one round trip instead of two. The keys are built here and read by the caller in one MGET
with the other entries its page needs (`decode` turns a value back into data).
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass

from sqlalchemy import select

from ...extensions import db
from ...models import Genre
from ..platform import cache
from ..platform.paging import Pager
from . import browse, search
from .search import BookQuery

SCHEMA = "2"  # the stored values' shape: a new shape, new keys (an old process's entries are never misread)
LIST_TTL = 600
SHELF_TTL = 3600
Tagged = list[tuple[int, str]]  # (book id, its cache tag "epoch.version")


@dataclass(frozen=True)
class GenreRow:
    id: int
    slug: str
    name: str


@dataclass
class ResultPage(Pager):
    """A listing page as the templates show it: the books are ids with their cache tags."""

    query: BookQuery
    books: Tagged
    total: int
    total_capped: bool
    pages: int
    suggestion: str | None = None
    corrected_from: str | None = None

    @property
    def page(self) -> int:
        return self.query.page


def _pairs(value: object) -> Tagged | None:
    """A stored list of [id, tag] pairs, or None when it is not one."""
    if not isinstance(value, list) or not all(
            isinstance(p, list) and len(p) == 2 and isinstance(p[0], int) and isinstance(p[1], str) for p in value):
        return None
    return [(p[0], p[1]) for p in value]


def decode(raw: bytes | None) -> object | None:
    """A stored JSON value (None: a miss, or a value that is not JSON)."""
    if raw is None:
        return None
    try:
        found: object = json.loads(raw)
    except ValueError:
        return None
    return found


def _store(key: str, value: object, ttl: int) -> None:
    cache.put(key, json.dumps(value, separators=(",", ":")), ttl)


def tagged(ids: list[int], versions: cache.Versions) -> Tagged:
    """These books with their cache tags, read now (after the list of ids was read from the database)."""
    found = cache.book_versions(ids)
    return [(i, f"{versions.epoch}.{found[i]}") for i in ids]


def genres_key(versions: cache.Versions) -> str:
    return f"{cache.PREFIX}genres{SCHEMA}:{versions.catalog_tag}"


def genres(versions: cache.Versions, raw: bytes | None = None) -> list[GenreRow]:
    """Every genre by name (the filter's choices, the genre list, the home page's chips); `raw`: the value of
    genres_key when the caller already read it."""
    found = decode(raw) if raw is not None else decode(cache.get(genres_key(versions)))
    if isinstance(found, list) and all(isinstance(row, list) and len(row) == 3 for row in found):
        return [GenreRow(*row) for row in found]
    rows = [GenreRow(g.id, g.slug, g.name) for g in db.session.scalars(select(Genre).order_by(Genre.name))]
    _store(genres_key(versions), [[g.id, g.slug, g.name] for g in rows], SHELF_TTL)
    return rows


def listing_key(versions: cache.Versions, page_key: str) -> str:
    """`page_key`: what the page's results depend on (its path and query string; the caller's choice)."""
    return f"{cache.PREFIX}list{SCHEMA}:{versions.catalog_tag}:{hashlib.sha1(page_key.encode()).hexdigest()}"


def cached_listing(raw: bytes | None) -> ResultPage | None:
    found = decode(raw)
    if not isinstance(found, dict):
        return None
    try:
        books = _pairs(found["books"])
        if books is None:
            return None
        return ResultPage(query=BookQuery(**found["query"]), books=books,
                          total=found["total"], total_capped=found["capped"], pages=found["pages"],
                          suggestion=found["suggestion"], corrected_from=found["corrected_from"])
    except (KeyError, TypeError, ValueError):
        return None


def listing(query: BookQuery, versions: cache.Versions, key: str | None) -> ResultPage:
    """The page of results for `query` (search.search_books), stored under `key` (listing_key; None: not
    stored) unless the query asked for a page past the last one (each such number would be another entry)."""
    result = search.search_books(query, with_books=False)
    page = ResultPage(query=replace_page(query, result.query.page), books=tagged(result.ids, versions),
                      total=result.total, total_capped=result.total_capped, pages=result.pages,
                      suggestion=result.suggestion, corrected_from=result.corrected_from)
    if key is None or page.query.page != query.page:
        return page
    _store(key, {"query": asdict(page.query), "books": page.books, "total": page.total, "capped": page.total_capped,
                 "pages": page.pages, "suggestion": page.suggestion, "corrected_from": page.corrected_from}, LIST_TTL)
    return page


def replace_page(query: BookQuery, page: int) -> BookQuery:
    return BookQuery(**{**asdict(query), "page": page})


# The home page's shelves fill whole rows of the card grid at every width: 2 columns on phones, 4 from 768px and
# 6 from 1100px (static/css/app.css); 12 is a multiple of all three.
HOME_SHELF_SIZE = 12


def home_key(versions: cache.Versions, limit: int = HOME_SHELF_SIZE) -> str:
    return f"{cache.PREFIX}home{SCHEMA}:{versions.catalog_tag}:{limit}"


def home_shelves(versions: cache.Versions, raw: bytes | None, limit: int = HOME_SHELF_SIZE) -> dict[str, Tagged]:
    """The home page's shelves, new arrivals and bestsellers, as tagged book ids."""
    found = decode(raw)
    if isinstance(found, dict):
        stored = {name: _pairs(found.get(name)) for name in ("new_arrivals", "bestsellers")}
        if all(books is not None for books in stored.values()):
            return {name: books or [] for name, books in stored.items()}
    sections = search.home_sections(limit)
    shelves = {name: tagged([b.id for b in sections[name]], versions)  # type: ignore[literal-required]
               for name in ("new_arrivals", "bestsellers")}
    _store(home_key(versions, limit), shelves, SHELF_TTL)
    return shelves


def related_key(book_id: int, versions: cache.Versions) -> str:
    return f"{cache.PREFIX}related{SCHEMA}:{book_id}:{versions.catalog_tag}"


def related(book_id: int, author_ids: list[int], genre_ids: list[int], versions: cache.Versions,
            raw: bytes | None) -> Tagged:
    """The book page's "you may also like" books (browse.related_ids), tagged."""
    found = _pairs(decode(raw))
    if found is not None:
        return found
    books = tagged(browse.related_ids(book_id, author_ids, genre_ids), versions)
    _store(related_key(book_id, versions), books, SHELF_TTL)
    return books
