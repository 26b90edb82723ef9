"""API: The catalog: books, authors and genres. No token needed.

The listing is the website's: the same filter form validates the filters (webapp.catalog.forms.BookFilterForm,
so the sorts, languages, genres and price bounds are the site's lists and rules, answered here as 422 rather than
ignored), and services.catalog.cached_reads / search find the books. Pages are offset pages of that service,
handed out as opaque cursors bound to the search they belong to; like the site, the walk stops at the service's
MAX_PAGE (`total` says how many there are, `total_capped` when that count itself is capped).

Caching: the answers are the same for everybody (no per-caller content), so they are `Cache-Control: public,
max-age=60` with an ETag made from the catalog's cache version (services.platform.cache), read before any SQL:
every change to a book, its stock, authors or genres bumps it, and a matching `If-None-Match` is answered 304
without touching the database (flask-smorest's own @etag hashes the body, so it would run every query first).
While Redis cannot say the version, no ETag is given (as on the site)."""
from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict, replace
from typing import Any

import marshmallow as ma
from flask import current_app, request, url_for
from flask_smorest import Blueprint
from werkzeug.datastructures import MultiDict
from werkzeug.http import quote_etag

from ..catalog.forms import BookFilterForm, PageFilter
from ..extensions import db
from ..models import Author, Book
from ..models.types import DB_INT_MAX
from ..services.catalog import browse, cached_reads, search
from ..services.catalog.search import LANGUAGES, SORTS, BookQuery
from ..services.inventory.alerts import SHELF_STATES, shelf_state
from ..services.platform import cache
from ..services.platform.money import currency, plain
from ..templating import image_url
from . import catalog_cursors as cursors
from .errors import ApiError, not_found
from .schemas import Count, CursorArgs, Id, Money, PageInfoSchema, Text, money

blp = Blueprint("api_catalog", __name__, url_prefix="/api/v1",
                description="The catalog: books, authors and genres. No token needed.")

MAX_AGE = 60  # seconds a client or a shared cache may reuse an answer without asking
AUTHOR_BOOKS = 50  # an author's books listed with the author (newest first); the rest through /books?author=
CURSOR_MAX = 1400  # characters: a cursor holds up to a 200-character suggestion or a 160-character name (UTF-8)
ETAG_SALT = "api-catalog-1"  # change with the shape of the answers: validators handed out before never match


# ---------------------------------------------------------------------------------------------------- schemas

class BookArgs(CursorArgs):
    cursor = Text(CURSOR_MAX, load_default=None, metadata={"description": "`next_cursor` of the page before."})
    q = Text(200, metadata={"description": "Words to search for (title, authors, description); the last one "
                                           "matches as a prefix."})
    genre = Text(90, metadata={"description": "A genre's slug (see /genres)."})
    author = Id(metadata={"description": "An author's id: only their books."})
    min_price = Count(0, 1_000_000_000, metadata={"description": "Lowest price, in cents."})
    max_price = Count(0, 1_000_000_000, metadata={"description": "Highest price, in cents."})
    in_stock = ma.fields.Boolean(metadata={"description": "Only books with a copy available now."})
    language = ma.fields.String(validate=ma.validate.OneOf(list(LANGUAGES)),
                                metadata={"description": "A language code."})
    sort = ma.fields.String(validate=ma.validate.OneOf(list(SORTS)),
                            metadata={"description": "Default: relevance with `q`, else newest."})
    limit = Count(1, 100, load_default=None,
                  metadata={"description": "Books per page (default 20); a cursor keeps the limit it was made "
                                           "with."})


class AuthorArgs(CursorArgs):
    cursor = Text(CURSOR_MAX, load_default=None, metadata={"description": "`next_cursor` of the page before."})
    q = Text(160, metadata={"description": "Part of the author's name (any case)."})
    limit = Count(1, 100, load_default=None,
                  metadata={"description": "Authors per page (default 20); a cursor keeps the limit it was "
                                           "made with."})


class AuthorRefSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    name = ma.fields.String(required=True)


class StockSchema(ma.Schema):
    state = ma.fields.String(required=True, validate=ma.validate.OneOf(SHELF_STATES),
                             metadata={"description": "As the website's badge: 'low' is its \"Only N left\"."})
    available = ma.fields.Integer(required=True, metadata={"description": "Copies available now."})


class BookSummarySchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    title = ma.fields.String(required=True)
    subtitle = ma.fields.String(required=True, allow_none=True)
    isbn13 = ma.fields.String(required=True)
    authors = ma.fields.List(ma.fields.Nested(AuthorRefSchema), required=True)
    price = Money(required=True)
    rent_per_week = Money(required=True, allow_none=True,
                          metadata={"description": "Null when the book is not for rent."})
    stock = ma.fields.Nested(StockSchema, required=True)
    cover_url = ma.fields.String(required=True, metadata={"description": "The cover's path on this site."})


class GenreRefSchema(ma.Schema):
    slug = ma.fields.String(required=True)
    name = ma.fields.String(required=True)


class BookDetailSchema(BookSummarySchema):
    description = ma.fields.String(required=True, allow_none=True)
    language = ma.fields.String(required=True)
    published_on = ma.fields.Date(required=True, allow_none=True)
    publisher = ma.fields.String(required=True, allow_none=True)
    pages = ma.fields.Integer(required=True, allow_none=True)
    genres = ma.fields.List(ma.fields.Nested(GenreRefSchema), required=True)
    format = ma.fields.String(required=True, validate=ma.validate.OneOf(["paperback", "hardcover"]))
    series_name = ma.fields.String(required=True, allow_none=True, metadata={"description": "The series, if any."})
    series_number = ma.fields.Integer(required=True, allow_none=True,
                                      metadata={"description": "The book's place in its series (1, 2, ...)."})


class BookListSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(BookSummarySchema), required=True)
    page = ma.fields.Nested(PageInfoSchema, required=True)
    total = ma.fields.Integer(required=True, metadata={"description": "Books found (at most the count cap)."})
    total_capped = ma.fields.Boolean(required=True, metadata={"description": "More were found than `total`."})
    suggestion = ma.fields.String(required=True, allow_none=True, metadata={"description": "\"Did you mean\"."})
    corrected_from = ma.fields.String(
        required=True, allow_none=True,
        metadata={"description": "Set when nothing matched `q`: the books are those of `suggestion`."})


class AuthorSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    name = ma.fields.String(required=True)
    photo_url = ma.fields.String(required=True, allow_none=True)


class AuthorListSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(AuthorSchema), required=True)
    page = ma.fields.Nested(PageInfoSchema, required=True)


class AuthorDetailSchema(AuthorSchema):
    bio = ma.fields.String(required=True, allow_none=True)
    city = ma.fields.String(required=True, allow_none=True)
    books = ma.fields.List(ma.fields.Nested(BookSummarySchema), required=True,
                           metadata={"description": f"Their newest {AUTHOR_BOOKS} books; all of them through "
                                                    "/books?author=<id>."})
    books_total = ma.fields.Integer(required=True)


class GenreSchema(GenreRefSchema):
    id = ma.fields.Integer(required=True)


# ---------------------------------------------------------------------------------------------------- caching

def _public(build: Callable[[cache.Versions], Any]) -> Any:
    """Answer a catalog read: 304 when the caller's copy is current, else `build(versions)` with its
    validator."""
    versions = cache.versions()  # before any SQL: what is read next is never older than the version named
    tag = None
    if versions.known:
        args = json.dumps(sorted(request.args.items(multi=True)))
        text = "\x1f".join((ETAG_SALT, request.path, args, versions.catalog_tag, currency()))
        tag = hashlib.sha1(text.encode()).hexdigest()
    headers = {"Cache-Control": f"public, max-age={MAX_AGE}"}
    if tag is not None:
        headers["ETag"] = quote_etag(tag)
        if request.if_none_match.contains(tag):
            return current_app.response_class(status=304, headers=headers)
    return build(versions), 200, headers


def _documented(func: Callable[..., Any]) -> Callable[..., Any]:
    return blp.alt_response(304, description="Not modified: the copy named in If-None-Match is current.")(func)


# ---------------------------------------------------------------------------------------------------- views

def _cover(book: Book, size: str) -> str:
    """The cover the website shows (an uploaded one, else the generated SVG)."""
    return image_url(book.cover_path, size) or url_for("catalog.cover", book_id=book.id)


def _summary(book: Book, cover_size: str = "thumb") -> dict[str, Any]:
    available = book.inventory.available if book.inventory else 0
    return {"id": book.id, "title": book.title, "subtitle": book.subtitle, "isbn13": book.isbn13,
            "authors": [{"id": a.id, "name": a.name} for a in book.authors],
            "price": money(book.price_cents), "rent_per_week": money(book.rental_week_cents or None),
            "stock": {"state": shelf_state(available), "available": max(available, 0)},
            "cover_url": _cover(book, cover_size)}


def book_on_sale(book_id: int) -> Book:
    """A book the shop sells now, or 404 (an unknown id and an archived book alike): what the cart, buy now and a
    hold may name."""
    book = db.session.get(Book, book_id)
    if book is None or not book.active:
        not_found("That book")
    return book


def _query(args: dict[str, Any], per_page: int, versions: cache.Versions) -> BookQuery:
    """The listing's query, validated by the website's filter form (the same choices, bounds and rules); what the
    form refuses is a 422 here (the site shows the message and ignores the field)."""
    formdata: MultiDict[str, str] = MultiDict()
    for name in ("q", "genre", "language", "sort"):
        if args.get(name) is not None:
            formdata[name] = args[name]
    for name in ("min_price", "max_price"):
        if args.get(name) is not None:
            formdata[name] = plain(args[name])
    if args.get("in_stock"):
        formdata["in_stock"] = "y"
    form = BookFilterForm(formdata, cached_reads.genres(versions))
    fixed: PageFilter | None = {"author_id": args["author"]} if args.get("author") else None
    query = form.to_query(per_page, fixed)
    errors = {field.name: list(field.errors) for field in form if field.errors}
    if errors:
        raise ApiError(422, "validation_failed", "Some of the values sent are not valid: " + "; ".join(
            f"{name}: {' '.join(msgs)}" for name, msgs in errors.items()), errors)
    return query


@blp.get("/books")
@blp.arguments(BookArgs, location="query", as_kwargs=True, unknown=ma.RAISE)
@blp.response(200, BookListSchema)
@blp.alt_response(422, description="A value that is not valid, or a cursor that is not one this API gave out "
                                    "(or not for this search).")
@_documented
def list_books(cursor: str | None = None, limit: int | None = None, **args: Any) -> Any:
    """Search and list books: filters, sort, and cursor pages (`next_cursor` until it is null)."""
    page, corrected, search_digest = 1, None, None
    if cursor is not None:
        data = cursors.decode(cursor, "b")
        page = cursors.int_in(data, "p", 2, 1_000_000)
        per_page = cursors.limit_of(data, limit)
        corrected, search_digest = data.get("s"), data.get("h")
        if corrected is not None and (not isinstance(corrected, str) or len(corrected) > 200
                                      or not cursors.plain_text(corrected)):
            raise cursors.cursor_error("That cursor is not one this API gave out: pass `next_cursor` as it was.")
    else:
        per_page = limit or 20

    def build(versions: cache.Versions) -> dict[str, Any]:
        query = _query(args, per_page, versions)
        asked = replace(query, page=page)
        digest = cursors.digest(asdict(query) | {"page": 0})
        if cursor is not None and digest != search_digest:
            raise cursors.cursor_error("That cursor belongs to another search: send the same filters and sort with it, "
                                "or start again without a cursor.")
        if corrected is not None:  # later pages of a corrected search ("did you mean") are the suggestion's
            asked = replace(asked, q=corrected)
        key = cached_reads.listing_key(versions, "api:" + json.dumps(asdict(asked))) if versions.known else None
        result = cached_reads.cached_listing(cache.get(key)) if key is not None else None  # ids, counts: no SQL
        if result is None:
            result = cached_reads.listing(asked, versions, key)
        if result.query.page != page:  # past the last page (or past MAX_PAGE): an empty page, the end
            books: list[Book] = []
            next_page = None
        else:
            books = browse.books_by_ids([book_id for book_id, _tag in result.books])
            next_page = page + 1 if page < result.pages else None
        suggestion = result.suggestion if corrected is None else corrected
        corrected_from = result.corrected_from if corrected is None else query.q
        next_cursor = None
        if next_page is not None:
            state: dict[str, Any] = {"k": "b", "p": next_page, "n": per_page, "h": digest}
            if corrected_from is not None:
                state["s"] = suggestion
            next_cursor = cursors.encode(state)
        return {"items": [_summary(b) for b in books], "page": {"next_cursor": next_cursor, "limit": per_page},
                "total": result.total, "total_capped": result.total_capped, "suggestion": suggestion,
                "corrected_from": corrected_from}

    return _public(build)


@blp.get("/books/<int:book_id>")
@blp.response(200, BookDetailSchema)
@blp.alt_response(404, description="No such book in the catalog (or no longer sold).")
@_documented
def get_book(book_id: int) -> Any:
    """A book: prices, stock state, authors, genres, description and the facts the book page shows."""
    def build(_versions: cache.Versions) -> dict[str, Any]:
        book = browse.book_detail(book_id)
        if book is None or not book.active:
            not_found("That book")
        return _summary(book, "full") | {
            "description": book.description, "language": book.language, "published_on": book.published_on,
            "publisher": book.publisher, "pages": book.pages,
            "genres": [{"slug": g.slug, "name": g.name} for g in book.genres], "format": book.format,
            "series_name": book.series_name, "series_number": book.series_number}

    return _public(build)


def _author(author: Author) -> dict[str, Any]:
    return {"id": author.id, "name": author.name, "photo_url": image_url(author.photo_path, "full")}


@blp.get("/authors")
@blp.arguments(AuthorArgs, location="query", as_kwargs=True, unknown=ma.RAISE)
@blp.response(200, AuthorListSchema)
@blp.alt_response(422, description="A value that is not valid, or a cursor that is not one this API gave out "
                                    "(or not for this search).")
@_documented
def list_authors(cursor: str | None = None, limit: int | None = None, q: str | None = None) -> Any:
    """Authors by name, optionally those whose name contains `q`; cursor pages."""
    words = (q or "").strip()
    after, per_page = None, limit or 20
    if cursor is not None:
        data = cursors.decode(cursor, "a")
        name, author_id = data.get("name"), cursors.int_in(data, "id", 1, DB_INT_MAX)
        per_page = cursors.limit_of(data, limit)
        if not isinstance(name, str) or len(name) > 160 or not cursors.plain_text(name):
            raise cursors.cursor_error("That cursor is not one this API gave out: pass `next_cursor` as it was.")
        if data.get("h") != cursors.digest(words):
            raise cursors.cursor_error("That cursor belongs to another search: send the same `q` with it, or start "
                                "again without a cursor.")
        after = (name, author_id)

    def build(_versions: cache.Versions) -> dict[str, Any]:
        found = browse.authors_after(words, after, per_page + 1)
        items, more = found[:per_page], len(found) > per_page
        next_cursor = cursors.encode({"k": "a", "name": items[-1].name, "id": items[-1].id, "n": per_page,
                               "h": cursors.digest(words)}) if more else None
        return {"items": [_author(a) for a in items], "page": {"next_cursor": next_cursor, "limit": per_page}}

    return _public(build)


@blp.get("/authors/<int:author_id>")
@blp.response(200, AuthorDetailSchema)
@blp.alt_response(404, description="No such author.")
@_documented
def get_author(author_id: int) -> Any:
    """An author with their newest books (the rest through /books?author=<id>)."""
    def build(_versions: cache.Versions) -> dict[str, Any]:
        author = browse.author(author_id)
        if author is None:
            not_found("That author")
        result = search.search_books(BookQuery(author_id=author.id, sort="newest", per_page=AUTHOR_BOOKS),
                                     suggest=False)
        return _author(author) | {"bio": author.bio, "city": author.city,
                                  "books": [_summary(b) for b in result.books], "books_total": result.total}

    return _public(build)


@blp.get("/genres")
@blp.response(200, GenreSchema(many=True))
@_documented
def list_genres() -> Any:
    """Every genre by name (use the slug as /books?genre=...)."""
    return _public(lambda versions: [{"id": g.id, "slug": g.slug, "name": g.name}
                                     for g in cached_reads.genres(versions)])
