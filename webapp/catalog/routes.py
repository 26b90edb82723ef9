"""The catalog: home page, book listings (all books, a genre, an author) with filters, a book's page, covers.

Reads go through the cache (services.catalog.cached_reads for ids and counts, .fragments for rendered cards and
book bodies) and answer conditional GETs (.conditional); the cache versions are read first, once per request.
"""
from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

from flask import Response, abort, current_app, make_response, redirect, render_template, request, url_for
from flask_login import current_user
from markupsafe import Markup

from ..htmx import current_url, is_htmx
from ..services.catalog import browse, cached_reads, covers, search
from ..services.circulation import holds
from ..services.commerce import cart, pricing
from ..services.platform import cache, money
from . import bp, conditional, fragments, visitor_pages
from .forms import BookFilterForm, PageFilter


def _money(cents: int) -> str:
    """A price as the page shows it: babel's formatting, remembered (the rent menu has a price per day)."""
    currency = money.currency()
    key = (currency, money.locale(), cents)
    found = _MONEY.get(key)
    if found is None:
        found = _MONEY[key] = money.money(cents, currency)
        if len(_MONEY) > 10_000:
            _MONEY.clear()
    return found


_MONEY: dict[tuple[str, str, int], str] = {}


def _render_listing(template: str, versions: cache.Versions, htmx: bool, genres_raw: bytes | None,
                    fixed: PageFilter | None, *, title: str, count: int, **context: Any) -> Response:
    key = cached_reads.listing_key(versions, fragments.page_key())
    filters_key = fragments.filters_key(versions)
    wanted = [key] + ([] if htmx else [filters_key]) + ([cached_reads.genres_key(versions)] if genres_raw is None else [])
    values = dict(zip(wanted, cache.get_many(wanted), strict=True))
    genres_raw = genres_raw if genres_raw is not None else values.get(cached_reads.genres_key(versions))
    result = cached_reads.cached_listing(values[key])
    filters_html = None if htmx else values[filters_key]
    form = None
    if result is None or (not htmx and filters_html is None) or BookFilterForm.has_prices(request.args):
        form = BookFilterForm(request.args, cached_reads.genres(versions, genres_raw))
        query = form.to_query(current_app.config["PAGE_SIZE"], fixed)
        if result is None:
            result = cached_reads.listing(query, versions, key if visitor_pages.may_store() else None)
            if result.query.page != query.page:  # past the last page: shown (the last one), never stored
                visitor_pages.refuse_storing()
    # The price fields' problems are shown with the results too (and, live, beside the fields out of band): a live
    # search swaps only #results, and a price left out must never be left out silently.
    shared = dict(result=result, sorts=search.SORTS, languages=search.LANGUAGES, live=htmx,
                  price_errors=form.price_errors() if form is not None else [], **context)
    if not htmx:
        shared["filters_html"] = Markup(filters_html.decode()) if filters_html is not None else \
            fragments.filters(filters_key if visitor_pages.may_store() else None, form=form, **shared)
    return make_response(render_template(
        "catalog/_results.html" if htmx else template, cards=fragments.cards(result.books, "h2"), title=title,
        cart_count=lambda: count, csrf_token=visitor_pages.csrf_token, **shared))


def _stored(versions: cache.Versions, found: bytes | None, *parts: object) -> Response | None:
    """A plain visitor's page found by visitor_pages.lookup, or its 304 (None: not found)."""
    if found is None:
        return None
    tag, _count = conditional.etag(*parts)
    return conditional.not_modified(tag) or conditional.finish(_push_url(visitor_pages.respond(found)), tag)


_LISTINGS = frozenset({"catalog.books", "catalog.genre", "catalog.author"})


def _push_url(response: Response) -> Response:
    if is_htmx() and request.endpoint in _LISTINGS:  # the address bar gets the tidy URL, without the
        response.headers["HX-Push-Url"] = current_url(request.args.to_dict(flat=True))  # form's empty fields
    return response


def _listing(template: str, *, title: str, versions: cache.Versions, genres_raw: bytes | None = None,
             fixed: PageFilter | None = None, **context: Any) -> Response:
    """A listing page: for a plain visitor whole from the cache (the caller's lookup); otherwise in two or three
    round trips to Redis when warm (versions; genres, results and form; cards) and no SQL. htmx requests get the
    results only."""
    tag, count = conditional.etag(versions.catalog_tag)
    cached = conditional.not_modified(tag)
    if cached is not None:
        return cached
    htmx = is_htmx()

    def render() -> Response:
        return _render_listing(template, versions, htmx, genres_raw, fixed, title=title, count=count, **context)

    return conditional.finish(_push_url(visitor_pages.serve(versions, (), (), render)), tag)


def _whole_catalog_page(render: Callable[[cache.Versions, int], Response]) -> Response:
    """A page that shows the catalog as a whole (home, the genre list): stored for plain visitors, validated by
    the catalog's version. `render(versions, cart count)` builds it."""
    versions, found = visitor_pages.lookup()
    if (stored := _stored(versions, found, versions.catalog_tag)) is not None:
        return stored
    tag, count = conditional.etag(versions.catalog_tag)
    cached = conditional.not_modified(tag)
    if cached is not None:
        return cached
    return conditional.finish(visitor_pages.serve(versions, (), (), lambda: render(versions, count)), tag)


@bp.get("/")
def home():
    def render(versions: cache.Versions, count: int) -> Response:
        shelves_raw, genres_raw = cache.get_many([cached_reads.home_key(versions), cached_reads.genres_key(versions)])
        shelves = cached_reads.home_shelves(versions, shelves_raw)
        new_arrivals, bestsellers = fragments.card_groups([shelves["new_arrivals"], shelves["bestsellers"]])
        return make_response(render_template(
            "catalog/home.html", new_arrivals=new_arrivals, bestsellers=bestsellers,
            genres=cached_reads.genres(versions, genres_raw), cart_count=lambda: count,
            csrf_token=visitor_pages.csrf_token))

    return _whole_catalog_page(render)


@bp.get("/books")
def books():
    versions, found = visitor_pages.lookup()
    if (stored := _stored(versions, found, versions.catalog_tag)) is not None:
        return stored
    return _listing("catalog/books.html", title="Books", versions=versions)


@bp.get("/books/<int:book_id>")
@bp.get("/books/<int:book_id>/<slug>")
def book(book_id: int, slug: str | None = None):
    user = current_user if current_user.is_authenticated else None
    rent_days = cart.rental_days_limit(user)
    versions, found = visitor_pages.lookup((book_id,), (rent_days,))
    visitor_panel = None  # what a visitor's holds box shows: (readers waiting, no position, none held, no hold)
    if found == visitor_pages.LOOK_AGAIN:  # out of stock at this version: the page shows the queue's length
        visitor_panel = (holds.queue_length(book_id), None, 0, None)
        found = visitor_pages.stored(versions, (book_id,), (rent_days, visitor_panel))
    if (stored := _stored(versions, found, versions.catalog_tag, versions.book_tag(book_id), rent_days,
                          visitor_panel)) is not None:
        return stored
    page_raw, related_raw = cache.get_many([fragments.book_page_key(book_id, versions),
                                            cached_reads.related_key(book_id, versions)])
    page = fragments.book_page(book_id, versions, page_raw)
    if page is None or not page.active:
        abort(404, "We couldn't find that book. It may have been removed from the catalog.")
    if slug is not None and slug != page.slug:
        return redirect(url_for("catalog.book", book_id=page.id, slug=page.slug), 301)
    # Visitors see the holds queue only when the book is out of stock; signed-in people their own hold too.
    hold_panel = holds.panel(user, book_id) if user is not None or page.available <= 0 else None
    panel_state = None if hold_panel is None else (hold_panel.waiting, hold_panel.position, hold_panel.held,
                                                   getattr(hold_panel.hold, "id", None))
    tag, count = conditional.etag(versions.catalog_tag, versions.book_tag(book_id), rent_days, panel_state)
    cached = conditional.not_modified(tag)
    if cached is not None:
        return cached

    def render() -> Response:
        priced = SimpleNamespace(price_cents=page.price_cents, rental_week_cents=page.rental_week_cents or 0)
        rent_options = [(d, _money(pricing.unit_cents(priced, "rent", d)))  # type: ignore[arg-type]
                        for d in range(1, rent_days + 1)]
        return make_response(render_template(
            "catalog/book.html", page=page, book=page, related=fragments.related_cards(page, versions, related_raw),
            hold_panel=hold_panel, rent_options=rent_options, default_days=min(7, rent_days),
            cart_count=lambda: count, csrf_token=visitor_pages.csrf_token))

    # The holds queue's length is not versioned: a visitor's page showing it is stored under that length too, and
    # the page's usual key says to look again (with the length read then).
    extra: tuple[object, ...] = (rent_days,) if panel_state is None else (rent_days, panel_state)
    response = visitor_pages.serve(versions, (book_id,), extra, render, ttl=visitor_pages.BOOK_TTL,
                                   look_again_from=None if panel_state is None else (rent_days,))
    return conditional.finish(response, tag)


@bp.get("/books/<int:book_id>/cover.svg")
def cover(book_id: int):
    """The generated cover (books without an uploaded one): public, validated by the book's version."""
    versions = cache.versions([book_id])
    etag = f"{fragments.RENDER_SALT}-{covers.VERSION}-{versions.book_tag(book_id)}-{book_id}"
    if versions.known and request.if_none_match.contains(etag):  # (unknown versions: never confirmed)
        response = current_app.response_class(status=304)
    else:
        key = f"{cache.PREFIX}cover:{covers.VERSION}:{book_id}:{versions.book_tag(book_id)}"
        svg = (cache.get(key) or b"").decode()
        if not svg:
            found = browse.book_detail(book_id)
            if found is None:
                abort(404)
            svg = covers.svg_cover(found.title, found.author_names, found.isbn13,
                                   found.genres[0].name if found.genres else None)
            cache.put(key, svg)
        response = current_app.response_class(svg, mimetype="image/svg+xml")
    if versions.known:
        response.set_etag(etag)
    response.cache_control.public = True
    response.cache_control.max_age = 86400
    return response


@bp.get("/genres")
def genres():
    return _whole_catalog_page(lambda versions, count: make_response(render_template(
        "catalog/genres.html", genres=cached_reads.genres(versions, None), cart_count=lambda: count,
        csrf_token=visitor_pages.csrf_token)))


@bp.get("/genres/<slug>")
def genre(slug: str):
    versions, found = visitor_pages.lookup()
    if (stored := _stored(versions, found, versions.catalog_tag)) is not None:
        return stored
    genres_raw = cache.get(cached_reads.genres_key(versions))
    match = next((g for g in cached_reads.genres(versions, genres_raw) if g.slug == slug), None)
    if match is None:
        abort(404, "There is no such genre.")
    return _listing("catalog/genre.html", title=match.name, versions=versions, genres_raw=genres_raw,
                    fixed={"genre": match.slug}, genre=match)


@bp.get("/authors/<int:author_id>")
@bp.get("/authors/<int:author_id>/<slug>")
def author(author_id: int, slug: str | None = None):
    versions, found = visitor_pages.lookup()
    if (stored := _stored(versions, found, versions.catalog_tag)) is not None:
        return stored
    match = browse.author(author_id)
    if match is None:
        abort(404, "There is no such author.")
    if slug is not None and slug != match.slug:
        query = request.query_string.decode("ascii", "replace")  # filters kept, as typed
        return redirect(url_for("catalog.author", author_id=match.id, slug=match.slug) + (f"?{query}" if query else ""),
                        301)
    return _listing("catalog/author.html", title=match.name, versions=versions, fixed={"author_id": match.id},
                    author=match)
