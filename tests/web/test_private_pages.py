"""`Cache-Control: no-store` on every private page (webapp.security): every GET in the URL map, answered to a
signed-in customer, author or admin, and every page of the private areas answered to anyone; the public catalog
stays cacheable for visitors."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from tests import checkout_helpers as ch
from tests.conftest import ADMIN_TOTP
from webapp.extensions import db
from webapp.models import Author, Genre
from webapp.security import PRIVATE_BLUEPRINTS

# Answers a view marks public itself: they are the same for everyone (a cover drawn from the title, an image).
PUBLIC_BY_VIEW = {"catalog.cover", "main.media", "static", "main.favicon",
                  # the API's catalog reads: the same for every caller (cookies never count in the API)
                  "api_catalog.list_books", "api_catalog.get_book", "api_catalog.list_authors",
                  "api_catalog.get_author", "api_catalog.list_genres"}
PUBLIC_PAGES = ["/", "/books", "/books?q=garden", "/genres", "/genres/{slug}", "/books/{book_id}",
                "/authors/{author_id}"]


@pytest.fixture
def world(app, auth, make_book):
    book = make_book("Cached Garden", authors=("Cache Author",), genres=("Cacheable",))
    customer = auth.user("cache_customer")
    order = ch.start(customer, [(book, 1, "buy", 0)])
    author_user = auth.user("cache_author", role="author")
    author = db.session.scalar(select(Author).where(Author.name == "Cache Author"))
    author.user_id = author_user.id
    auth.user("cache_admin", role="admin", totp_secret=ADMIN_TOTP)
    db.session.commit()
    return {"book_id": book.id, "author_id": author.id, "number": order.number, "slug":
            db.session.scalar(select(Genre.slug).where(Genre.name == "Cacheable")),
            "session_id": order.payment_session_id, "user_id": customer.id, "kind": "authors"}


def _client(app, auth, username=None, totp=None):
    client = app.test_client()
    if username:
        assert auth.login(username, client=client, totp_secret=totp).status_code == 303
    return client


def _gets(app, ids):
    """(endpoint, url) for every GET rule, its arguments filled with real ids (or "1")."""
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if "GET" not in rule.methods or rule.endpoint == "static":
            continue
        url = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", lambda m: str(ids.get(m.group(1), "1")), rule.rule)
        yield rule, url


@pytest.mark.parametrize("role", ["customer", "author", "admin"])
def test_every_page_answered_to_a_signed_in_person_is_not_stored(app, auth, world, role):
    client = _client(app, auth, f"cache_{role}", ADMIN_TOTP if role == "admin" else None)
    checked = 0
    for rule, url in _gets(app, world):
        if rule.endpoint in PUBLIC_BY_VIEW:
            continue
        response = client.get(url)
        response.close()
        assert response.headers.get("Cache-Control") == "no-store", (role, url, response.status_code,
                                                                     response.headers.get("Cache-Control"))
        checked += 1
    assert checked > 60


def test_private_areas_are_not_stored_for_visitors_either(app, world):
    client = app.test_client()
    for rule, url in _gets(app, world):
        if rule.endpoint.split(".")[0] in PRIVATE_BLUEPRINTS:
            response = client.get(url)  # mostly a redirect to sign in, or the sign-in page itself
            assert response.headers.get("Cache-Control") == "no-store", (url, response.status_code)


def test_public_catalog_pages_stay_cacheable_for_visitors(app, world):
    client = app.test_client()
    for page in PUBLIC_PAGES:
        response = client.get(page.format(**world))
        assert response.status_code == 200, page
        assert "no-store" not in response.headers.get("Cache-Control", ""), page
    cover = client.get(f"/books/{world['book_id']}/cover.svg")
    assert cover.cache_control.public and cover.cache_control.max_age == 86400


def test_a_cover_stays_public_for_a_signed_in_reader(app, auth, world):
    client = _client(app, auth, "cache_customer")
    cover = client.get(f"/books/{world['book_id']}/cover.svg")
    assert cover.cache_control.public and not cover.cache_control.no_store
    assert client.get("/books").headers["Cache-Control"] == "no-store"  # the catalog shows their name and cart
