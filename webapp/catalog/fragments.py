"""Rendered catalog fragments kept in the cache: book cards and the book page's body.

Why: rendering a card or a book page costs far more than reading it back. Each is stored under its book's
version (services.platform.cache), so a change to the book (price, stock, text, cover, authors) is on the next
page, on every instance. What differs per visitor is never stored: the cards hold placeholders for the CSRF
token and the page to come back to, filled in per request; the book page's buy box is rendered per request.
Keys also carry RENDER_SALT (the templates' files), so a deploy with new templates does not serve old HTML.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import current_app, g, render_template, request
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup, escape

from ..links import public_url
from ..services.catalog import browse, cached_reads, search
from ..services.catalog.cached_reads import Tagged
from ..services.platform import cache

CSRF_MARK = "\x1bfolio-csrf\x1b"
NEXT_MARK = "\x1bfolio-next\x1b"
BUY_BOX_MARK = "\x1bfolio-buy-box\x1b"
CARD_TTL = 3600
DETAIL_TTL = 3600
FILTERS_TTL = 600


def _render_salt() -> str:
    """A digest of the templates' files (names, sizes, times): new templates, new keys and validators."""
    root = Path(__file__).resolve().parent.parent / "templates"
    parts = sorted(f"{p.relative_to(root)}:{p.stat().st_size}:{p.stat().st_mtime_ns}" for p in root.rglob("*.html"))
    return hashlib.sha1("\n".join(parts).encode()).hexdigest()[:10]


RENDER_SALT = _render_salt()


def _fill(html: str) -> str:
    """Put this request's CSRF token and path into cached cards."""
    if CSRF_MARK not in html:
        return html
    html = html.replace(NEXT_MARK, str(escape(request.full_path)))
    return html if g.get("folio_csrf_mark") else html.replace(CSRF_MARK, str(escape(generate_csrf())))


def card_groups(groups: list[Tagged], heading: str = "h3") -> list[Markup]:
    """The cards of each group of tagged books (cached_reads.tagged), in order, all read in one round trip; a
    book that no longer exists is left out. A missing card is rendered from the database, read after its tag
    was, so it is never older than the version it is stored under."""
    keys = {i: f"{cache.PREFIX}card:{RENDER_SALT}:{heading}:{i}:{tag}" for group in groups for i, tag in group}
    ids = list(keys)
    html: dict[int, str] = {i: v.decode() for i, v in zip(ids, cache.get_many([keys[i] for i in ids]), strict=True)
                            if v is not None}
    missing = [i for i in ids if i not in html]
    if missing:
        fresh = {b.id: render_template("catalog/_card.html", book=b, heading=heading, csrf_mark=Markup(CSRF_MARK),
                                       next_mark=Markup(NEXT_MARK)) for b in browse.books_by_ids(missing)}
        cache.set_many({keys[i]: text for i, text in fresh.items()}, CARD_TTL)
        html.update(fresh)
    return [Markup(_fill("".join(html[i] for i, _ in group if i in html))) for group in groups]


def cards(books: Tagged, heading: str = "h3") -> Markup:
    return card_groups([books], heading)[0]


@dataclass
class BookPage:
    """What the book page shows that is the same for every visitor, plus what its buy box needs."""

    id: int
    slug: str
    active: bool
    title: str
    description: str
    canonical: str
    body_before: Markup
    body_after: Markup
    available: int
    rental_week_cents: int | None
    price_cents: int
    author_ids: list[int]
    genre_ids: list[int]

    @property
    def inventory(self) -> BookPage:  # the buy box reads book.inventory.available
        return self


def book_page_key(book_id: int, versions: cache.Versions) -> str:
    return f"{cache.PREFIX}detail:{RENDER_SALT}:{book_id}:{versions.book_tag(book_id)}"


def book_page(book_id: int, versions: cache.Versions, raw: bytes | None) -> BookPage | None:
    """The book page's shared parts, from the cache under the book's version (None: no such book); `raw`: the
    value of book_page_key, read by the caller with the other entries of the page."""
    key = book_page_key(book_id, versions)
    if raw is not None:
        try:
            data = json.loads(raw)
            return _page(data)
        except (ValueError, KeyError, TypeError):
            pass
    book = browse.book_detail(book_id)
    if book is None:
        return None
    body = render_template("catalog/_book_body.html", book=book, languages=search.LANGUAGES,
                           buy_box_mark=Markup(BUY_BOX_MARK), series_books=browse.series_books(book.series_name))
    before, _, after = body.partition(BUY_BOX_MARK)
    data = {"id": book.id, "slug": book.slug, "active": book.active, "title": book.title,
            "description": _truncate(book.description or book.title),
            "canonical": public_url("catalog.book", book_id=book.id, slug=book.slug),
            "body_before": before, "body_after": after,
            "available": book.inventory.available if book.inventory else 0,
            "rental_week_cents": book.rental_week_cents, "price_cents": book.price_cents,
            "author_ids": [a.id for a in book.authors], "genre_ids": [g.id for g in book.genres]}
    cache.put(key, json.dumps(data), DETAIL_TTL)
    return _page(data)


def page_key() -> str:
    """What a listing page's results and form depend on: its path and query string (in a fixed order)."""
    return json.dumps([request.path, sorted(request.args.items(multi=True))])


def filters_key(versions: cache.Versions) -> str:
    digest = hashlib.sha1(page_key().encode()).hexdigest()
    return f"{cache.PREFIX}filters:{RENDER_SALT}:{versions.catalog_tag}:{digest}"


def filters(key: str | None, **context: Any) -> Markup:
    """The listing's filter form (WTForms renders it slowly: a select of every genre and language), stored per
    catalog version and query string (the form shows the query's values and errors, and the genres)."""
    html = render_template("catalog/_filters.html", **context)
    if key is not None:  # None: this address is not stored (visitor_pages.may_store)
        cache.put(key, html, FILTERS_TTL)
    return Markup(html)


def _page(data: dict[str, Any]) -> BookPage:
    values = dict(data)
    values["body_before"] = Markup(values["body_before"])
    values["body_after"] = Markup(values["body_after"])
    return BookPage(**values)


def _truncate(text: str, length: int = 155) -> str:
    """Jinja's `truncate` filter, as the page's meta description had it."""
    env = current_app.jinja_env
    return str(env.filters["truncate"](env, text, length))


def related_cards(page: BookPage, versions: cache.Versions, raw: bytes | None) -> Markup:
    """"You may also like": ids under the catalog version, each card under its own book's version."""
    return cards(cached_reads.related(page.id, page.author_ids, page.genre_ids, versions, raw))
