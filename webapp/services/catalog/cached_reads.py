"""Catalog reads through the cache: listing and search results (ids and counts), home shelves, genres, related books.

Why: at a million books a search or a deep listing page costs milliseconds of SQL, the same for every visitor
until the catalog changes. Each result is stored as JSON under the catalog version (services.platform.cache),
so any change to the catalog is seen by the next request; the books themselves are rendered per book, under
their own versions, by the catalog blueprint. Only ids and plain values are stored, never ORM objects.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, replace

from sqlalchemy import select

from ...extensions import db
from ...models import Genre
from ..platform import cache
from ..platform.paging import Pager
from . import search
from .search import BookQuery

LIST_TTL = 600
SHELF_TTL = 3600


@dataclass(frozen=True)
class GenreRow:
    id: int
    slug: str
    name: str


@dataclass
class ResultPage(Pager):
    """A listing page as the templates show it: the books are ids, rendered from their cached cards."""

    query: BookQuery
    ids: list[int]
    total: int
    total_capped: bool
    pages: int
    suggestion: str | None = None
    corrected_from: str | None = None
    genre: GenreRow | None = None
    books: dict[int, object] = field(default_factory=dict)  # Book rows already loaded on a miss (not stored)

    @property
    def page(self) -> int:
        return self.query.page


def _load(key: str) -> object | None:
    raw = cache.get(key)
    if raw is None:
        return None
    try:
        found: object = json.loads(raw)
    except ValueError:
        return None
    return found


def _store(key: str, value: object, ttl: int) -> None:
    cache.put(key, json.dumps(value, separators=(",", ":")), ttl)


def genres(versions: cache.Versions) -> list[GenreRow]:
    """Every genre by name (the filter's choices, the genre list, the home page's chips)."""
    key = f"{cache.PREFIX}genres:{versions.catalog_tag}"
    found = _load(key)
    if isinstance(found, list):
        return [GenreRow(*row) for row in found]
    rows = [GenreRow(g.id, g.slug, g.name) for g in db.session.scalars(select(Genre).order_by(Genre.name))]
    _store(key, [[g.id, g.slug, g.name] for g in rows], SHELF_TTL)
    return rows


def _query_key(query: BookQuery, versions: cache.Versions) -> str:
    """One key per normalised query: the words as the search cuts them, the filters, the sort it applies."""
    normal = replace(query, q=" ".join(query.tokens) if query.tokens else "", sort=query.effective_sort)
    digest = hashlib.sha1(json.dumps(asdict(normal), sort_keys=True).encode()).hexdigest()
    return f"{cache.PREFIX}list:{versions.catalog_tag}:{digest}"


def listing(query: BookQuery, versions: cache.Versions) -> ResultPage:
    """The page of results for `query` (search.search_books), from the cache when the catalog has not changed."""
    key = _query_key(query, versions)
    found = _load(key)
    if isinstance(found, dict):
        genre = GenreRow(*found["genre"]) if found.get("genre") else None
        return ResultPage(query=replace(query, page=found["page"]), ids=found["ids"], total=found["total"],
                          total_capped=found["capped"], pages=found["pages"], suggestion=found.get("suggestion"),
                          corrected_from=found.get("corrected_from"), genre=genre)
    result = search.search_books(query)
    genre = GenreRow(result.genre.id, result.genre.slug, result.genre.name) if result.genre else None
    page = ResultPage(query=replace(query, page=result.query.page), ids=[b.id for b in result.books],
                      total=result.total, total_capped=result.total_capped, pages=result.pages,
                      suggestion=result.suggestion, corrected_from=result.corrected_from, genre=genre,
                      books={b.id: b for b in result.books})
    _store(key, {"ids": page.ids, "total": page.total, "capped": page.total_capped, "pages": page.pages,
                 "page": page.page, "suggestion": page.suggestion, "corrected_from": page.corrected_from,
                 "genre": [genre.id, genre.slug, genre.name] if genre else None}, LIST_TTL)
    return page


def home_shelves(versions: cache.Versions, limit: int = 8) -> dict[str, list[int]]:
    """The home page's shelves as book ids: new arrivals and bestsellers."""
    key = f"{cache.PREFIX}home:{versions.catalog_tag}:{limit}"
    found = _load(key)
    if isinstance(found, dict):
        return {"new_arrivals": found["new_arrivals"], "bestsellers": found["bestsellers"]}
    sections = search.home_sections(limit)
    shelves = {"new_arrivals": [b.id for b in sections["new_arrivals"]],
               "bestsellers": [b.id for b in sections["bestsellers"]]}
    _store(key, shelves, SHELF_TTL)
    return shelves


def related_ids(book_id: int, versions: cache.Versions) -> list[int] | None:
    """The ids of the book page's "you may also like" books when cached (None: ask `remember_related`)."""
    found = _load(f"{cache.PREFIX}related:{book_id}:{versions.catalog_tag}")
    return found if isinstance(found, list) else None


def remember_related(book_id: int, ids: list[int], versions: cache.Versions) -> None:
    _store(f"{cache.PREFIX}related:{book_id}:{versions.catalog_tag}", ids, SHELF_TTL)
