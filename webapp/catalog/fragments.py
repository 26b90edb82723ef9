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
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import current_app, render_template, request
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup, escape

from ..links import public_url
from ..services.catalog import search
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
    return html.replace(CSRF_MARK, str(escape(generate_csrf()))).replace(NEXT_MARK, str(escape(request.full_path)))


def cards(ids: list[int], epoch: str, heading: str = "h3", loaded: Mapping[int, Any] | None = None) -> list[Markup]:
    """The cards of these books, in order (a book that no longer exists is left out). `epoch`: the one this
    request read first (cache.versions); the books' own versions are read here, in one round trip."""
    if not ids:
        return []
    versions = cache.book_versions(ids)
    keys = [f"{cache.PREFIX}card:{RENDER_SALT}:{heading}:{i}:{epoch}.{versions[i]}" for i in ids]
    found = cache.get_many(keys)
    html: dict[int, str] = {i: v.decode() for i, v in zip(ids, found, strict=True) if v is not None}
    missing = [i for i in ids if i not in html]
    if missing:
        books = {i: b for i, b in (loaded or {}).items() if i in missing}
        need = [i for i in missing if i not in books]
        books.update({b.id: b for b in search.books_by_ids(need)} if need else {})
        fresh = {i: render_template("catalog/_card.html", book=books[i], heading=heading, csrf_mark=Markup(CSRF_MARK),
                                    next_mark=Markup(NEXT_MARK)) for i in missing if i in books}
        cache.set_many({k: fresh[i] for i, k in zip(ids, keys, strict=True) if i in fresh}, CARD_TTL)
        html.update(fresh)
    return [Markup(_fill(html[i])) for i in ids if i in html]


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


def book_page(book_id: int, versions: cache.Versions) -> BookPage | None:
    """The book page's shared parts, from the cache under the book's version (None: no such book)."""
    key = f"{cache.PREFIX}detail:{RENDER_SALT}:{book_id}:{versions.book_tag(book_id)}"
    raw = cache.get(key)
    if raw is not None:
        try:
            data = json.loads(raw)
            return _page(data)
        except (ValueError, KeyError, TypeError):
            pass
    book = search.book_detail(book_id)
    if book is None:
        return None
    body = render_template("catalog/_book_body.html", book=book, languages=search.LANGUAGES,
                           buy_box_mark=Markup(BUY_BOX_MARK))
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


def filters(versions: cache.Versions, **context: Any) -> Markup:
    """The listing's filter form (WTForms renders it slowly: a select of every genre and language), stored per
    catalog version and query string (the form shows the query's values and errors, and the genres)."""
    args = sorted(request.args.items(multi=True))
    digest = hashlib.sha1(json.dumps([request.path, args, "genre" in context]).encode()).hexdigest()
    key = f"{cache.PREFIX}filters:{RENDER_SALT}:{versions.catalog_tag}:{digest}"
    found = cache.get(key)
    if found is not None:
        return Markup(found.decode())
    html = render_template("catalog/_filters.html", **context)
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


def related_cards(page: BookPage, versions: cache.Versions) -> list[Markup]:
    """"You may also like": ids under the catalog version, each card under its own book's version."""
    from ..services.catalog import cached_reads

    ids = cached_reads.related_ids(page.id, versions)
    if ids is None:
        ids = search.related_ids(page.id, page.author_ids, page.genre_ids)
        cached_reads.remember_related(page.id, ids, versions)
    return cards(ids, versions.epoch, "h3")
