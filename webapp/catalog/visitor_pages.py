"""Whole catalog pages for plain visitors, kept in the cache.

Why: once the catalog parts come from the cache, rendering the page around them (the header, the footer, a
few dozen url_for calls) is most of a request's time. A visitor who is not signed in and has no cart, no
discount code and no pending message sees exactly the same page as every other such visitor, except for the
session's CSRF token; that page is stored whole (with a placeholder for the token) under the versions it
shows and the request's path and query string, and the token is filled in per request. Anyone else gets a
page rendered for them (from cached fragments).
"""
from __future__ import annotations

import hashlib
import re
from collections.abc import Callable

from flask import Response, g, make_response, request, session
from flask_login import current_user
from flask_wtf.csrf import generate_csrf
from markupsafe import escape
from wtforms.fields.core import UnboundField

from .. import cart_store
from ..htmx import is_htmx
from ..services.platform import cache
from .forms import BookFilterForm
from .fragments import CSRF_MARK, RENDER_SALT

TTL = 600
BOOK_TTL = 3600  # a book page is asked for less often than a listing; its key still changes with the book
# Stored instead of a page: "at these versions the page shows something unversioned; look again with it in the
# key" (a book out of stock shows its holds queue's length, read per request: book routes).
LOOK_AGAIN = b"\x1bfolio-look-again\x1b"
SEEN_TTL = 600  # a filtered listing is stored when asked for again within this many seconds
# What a listing's address may carry and still be stored: the filter form's fields; other pages: nothing.
LISTING_ARGS = frozenset(name for name, value in vars(BookFilterForm).items() if isinstance(value, UnboundField))
LISTINGS = frozenset({"catalog.books", "catalog.genre", "catalog.author"})
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def plain_visitor() -> bool:
    """Not signed in, nothing in the session that changes the page (cart, discount code, flashes)."""
    return not current_user.is_authenticated and not any(
        session.get(k) for k in (cart_store.SESSION_KEY, cart_store.CODE_KEY, "_flashes"))


def may_store() -> bool:
    """Whether this request's page, results and filter form may be kept in the cache (decided once a request).

    Why: every distinct address would otherwise be a new entry of ~45 KB (page, results, form) for minutes, and
    anyone can make addresses up (`?x=1`, `?x=2`, ...; random searches; pages past the end), filling the Redis
    the queues use. Only addresses a page can produce are stored: a listing's known filters, each once, short,
    without control characters (which could also spell the token placeholder); any other page, no arguments at
    all. A filtered or searched listing is stored from its second request within SEEN_TTL (a small marker is
    kept after the first), so popular searches are cached and one-off ones cost a marker, not a page. A page
    not stored is still built from the cached cards and served normally."""
    found = g.get("folio_may_store")
    if found is None:
        found = g.folio_may_store = _may_store()
    return bool(found)


def _may_store() -> bool:
    listing = request.endpoint in LISTINGS
    allowed = LISTING_ARGS if listing else frozenset()
    for name in request.args:
        values = request.args.getlist(name)
        if name not in allowed or len(values) != 1 or len(values[0]) > 200 or _CONTROL.search(values[0]):
            return False
    if not request.args:
        return True
    marker = f"{cache.PREFIX}seen:{hashlib.sha1(_prefix(()).encode()).hexdigest()}"
    if cache.get(marker) is not None:
        return True
    cache.put(marker, b"1", SEEN_TTL)
    return False


def refuse_storing() -> None:
    """This request's page must not be stored after all (a listing page past the last one)."""
    g.folio_may_store = False


def _prefix(extra: tuple[object, ...]) -> str:
    """The key's first part: the request's path, query string and kind (htmx or not), and `extra` (anything
    else the page shows that is not a version); cache.page_key adds the versions' tags."""
    text = "\x1f".join(map(str, (request.path, sorted(request.args.items(multi=True)), is_htmx(), *extra)))
    return f"{cache.PREFIX}page:{RENDER_SALT}:{hashlib.sha1(text.encode()).hexdigest()}"


def lookup(book_ids: tuple[int, ...] = (), extra: tuple[object, ...] = ()) -> tuple[cache.Versions, bytes | None]:
    """The versions this page depends on and, for a plain visitor, the stored page, in ONE round trip to
    Redis (cache.versions_with_entry); anyone else gets the versions alone."""
    if not plain_visitor():
        return cache.versions(book_ids), None
    return cache.versions_with_entry(book_ids, _prefix(extra))


def stored(versions: cache.Versions, book_ids: tuple[int, ...], extra: tuple[object, ...]) -> bytes | None:
    """The page stored under `extra` at these versions (the second look after LOOK_AGAIN), for a plain visitor."""
    return cache.get(cache.page_key(_prefix(extra), versions, book_ids)) if plain_visitor() else None


def respond(found: bytes) -> Response:
    """The stored page with this session's CSRF token."""
    return make_response(found.decode().replace(CSRF_MARK, str(escape(generate_csrf()))))


def serve(versions: cache.Versions, book_ids: tuple[int, ...], extra: tuple[object, ...],
          render: Callable[[], Response], *, ttl: int = TTL, look_again_from: tuple[object, ...] | None = None
          ) -> Response:
    """For a plain visitor (a miss of `lookup`): `render()` with the token as a placeholder, stored under the
    versions the page was rendered from, then the token filled in. Anyone else: `render()`. `look_again_from`:
    the page shows something unversioned, which `extra` holds; LOOK_AGAIN is stored under that `extra` instead
    (so the first lookup says to read it and look again)."""
    if not plain_visitor() or not may_store():
        return render()
    token = str(escape(generate_csrf()))
    g.folio_csrf_mark = True  # fragments._fill and the templates' csrf_token() write the placeholder
    try:
        response = render()
    finally:
        g.pop("folio_csrf_mark", None)
    if response.status_code == 200 and may_store():  # (render() may have found the page past the last one)
        html = response.get_data(as_text=True)
        entries: dict[str, bytes | str] = {cache.page_key(_prefix(extra), versions, book_ids): html}
        if look_again_from is not None:
            entries[cache.page_key(_prefix(look_again_from), versions, book_ids)] = LOOK_AGAIN
        cache.set_many(entries, ttl)
        response.set_data(html.replace(CSRF_MARK, token))
    return response


def csrf_token() -> str:
    """The templates' csrf_token() while a page is rendered for storing: the placeholder."""
    return CSRF_MARK if g.get("folio_csrf_mark") else generate_csrf()
