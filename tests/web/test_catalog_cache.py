"""The catalog cache seen from outside: every kind of change is on the next page, on two app instances sharing
the database and Redis; Redis down still serves pages; conditional GETs never confirm one visitor's page to
another; warm pages cost a handful of SQL statements."""
from __future__ import annotations

import re
import shutil
import socket
import subprocess
import time

import pytest
import redis as redis_lib

from tests.checkout_helpers import pay, shopper, start
from tests.conftest import FreshContextClient, _Config
from webapp.extensions import db
from webapp.services.catalog import editing
from webapp.services.inventory import stock
from webapp.services.platform import cache


@pytest.fixture
def second(app):
    """Another instance of the app: its own process state, the same database and the same Redis."""
    from webapp import create_app

    other = create_app(_Config)
    other.test_client_class = FreshContextClient
    other.extensions["folio_redis"] = app.extensions["folio_redis"]
    other.extensions.pop("folio_cache_redis", None)
    cache.reset_breaker()
    yield other.test_client()
    with other.app_context():
        db.session.remove()
        db.engine.dispose()  # its own pool: close its connections


def _both(client, second, url):
    return client.get(url).get_data(as_text=True), second.get(url).get_data(as_text=True)


def _warm(client, second, *urls):
    for url in urls:
        for c in (client, second):
            assert c.get(url).status_code == 200


def test_price_change_is_on_the_next_page_of_both_instances(client, second, make_book):
    book = make_book("Priced Tale", price_cents=1500)
    _warm(client, second, f"/books/{book.id}", "/books", "/")
    book.price_cents = 2345
    db.session.commit()
    for page in (*_both(client, second, f"/books/{book.id}"), *_both(client, second, "/books"),
                 *_both(client, second, "/")):
        assert "23.45" in page and "15.00" not in page


def test_stock_change_and_a_sale_through_checkout_are_on_the_next_page(client, second, make_book):
    book = make_book("Last Copies", on_hand=2)
    _warm(client, second, f"/books/{book.id}", "/books")
    stock.adjust(book.id, -1, "adjustment")
    db.session.commit()
    for page in _both(client, second, f"/books/{book.id}"):
        assert "Only 1 left" in page and 'data-testid="add-to-cart"' in page
    buyer = shopper()
    order = start(buyer, [(book, 1, "buy", None)])
    pay(order)
    for page in (*_both(client, second, f"/books/{book.id}"), *_both(client, second, "/books")):
        assert "Out of stock" in page and 'data-testid="add-to-cart"' not in page


def test_metadata_change_is_on_the_next_page(client, second, make_book):
    book = make_book("Old Title", authors=("Ann Author",), genres=("Fiction",))
    _warm(client, second, f"/books/{book.id}", "/books", "/genres/fiction", "/books?q=old")
    book.title = "New Title"
    book.description = "A fresh description."
    db.session.commit()
    for page in (*_both(client, second, f"/books/{book.id}"), *_both(client, second, "/genres/fiction")):
        assert "New Title" in page and "Old Title" not in page
    assert "A fresh description." in client.get(f"/books/{book.id}").get_data(as_text=True)
    for page in _both(client, second, "/books?q=new"):
        assert "New Title" in page
    editing.archive_book(book, actor_id=None)
    db.session.commit()
    assert client.get(f"/books/{book.id}").status_code == 404 and second.get(f"/books/{book.id}").status_code == 404
    assert all("New Title" not in p for p in _both(client, second, "/books"))


def test_author_rename_is_on_every_card(client, second, make_book):
    book = make_book("Named", authors=("Ann Author",))
    _warm(client, second, f"/books/{book.id}", "/books")
    from sqlalchemy import select

    from webapp.models import Author

    db.session.scalar(select(Author).where(Author.name == "Ann Author")).name = "Anna Renamed"
    db.session.commit()
    for page in (*_both(client, second, f"/books/{book.id}"), *_both(client, second, "/books")):
        assert "Anna Renamed" in page


def test_cover_change_is_on_the_next_page(client, second, make_book):
    book = make_book("Covered")
    _warm(client, second, f"/books/{book.id}", "/books")
    old_cover = client.get(f"/books/{book.id}/cover.svg")
    book.cover_path = "covers/abcdef0123456789abcdef0123456789"
    db.session.commit()
    for page in (*_both(client, second, f"/books/{book.id}"), *_both(client, second, "/books")):
        assert "abcdef0123456789abcdef0123456789" in page
    book.title = "Covered Again"
    db.session.commit()
    changed = second.get(f"/books/{book.id}/cover.svg", headers={"If-None-Match": old_cover.headers["ETag"]})
    assert changed.status_code == 200 and "Covered Again" in changed.get_data(as_text=True)


def test_a_rolled_back_change_bumps_nothing(app, make_book):
    book = make_book("Steady")
    before = cache.versions([book.id])
    book.price_cents = 1
    stock.adjust(book.id, 3, "restock")
    db.session.flush()
    db.session.rollback()
    assert cache.versions([book.id]) == before
    stock.adjust(book.id, 3, "restock")
    db.session.commit()
    after = cache.versions([book.id])
    assert after.books[book.id] != before.books[book.id] and after.catalog != before.catalog


def test_conditional_get_on_pages(client, app, make_book, auth):
    book = make_book("Validated")
    for url in ("/", "/books", f"/books/{book.id}", "/genres/fiction", "/books?q=validated"):
        first = client.get(url)
        assert first.headers["Cache-Control"] == "private, no-cache" and "HX-Request" in first.headers["Vary"]
        again = client.get(url, headers={"If-None-Match": first.headers["ETag"]})
        assert again.status_code == 304, url
        htmx = client.get(url, headers={"If-None-Match": first.headers["ETag"], "HX-Request": "true"})
        assert htmx.status_code == 200, url
    url = f"/books/{book.id}"
    tag = client.get(url).headers["ETag"]
    other = app.test_client()  # another visitor (their own session and CSRF token)
    assert other.get(url, headers={"If-None-Match": tag}).status_code == 200
    csrf = re.search(r'"X-CSRFToken": "([^"]+)"', client.get(url).get_data(as_text=True)).group(1)
    client.post("/cart/add", data={"book_id": book.id, "mode": "buy", "quantity": 1, "csrf_token": csrf})
    after_cart = client.get(url, headers={"If-None-Match": tag})
    assert after_cart.status_code == 200 and 'data-testid="cart-count">1<' in after_cart.get_data(as_text=True)
    auth.user("reader1")
    auth.login()
    auth.client.get(url)  # shows (and so consumes) the sign-in's flash
    signed_in = auth.client.get(url)
    assert signed_in.status_code == 200
    tag = signed_in.headers["ETag"]
    assert auth.client.get(url, headers={"If-None-Match": tag}).status_code == 304
    auth.logout()
    assert auth.client.get(url, headers={"If-None-Match": tag}).status_code == 200


def test_no_validator_while_a_flash_is_pending(client, make_book):
    book = make_book("Flashy")
    tag = client.get(f"/books/{book.id}").headers["ETag"]
    with client.session_transaction() as sess:
        sess["_flashes"] = [("info", "Hello once")]
    page = client.get(f"/books/{book.id}", headers={"If-None-Match": tag})
    assert page.status_code == 200 and "Hello once" in page.get_data(as_text=True) and "ETag" not in page.headers


@pytest.mark.parametrize("url", ["/books/{id}", "/books", "/books?q=warm", "/books?q=wram", "/", "/genres/fiction"])
def test_warm_pages_run_few_queries(client, make_book, count_queries, url):
    book = make_book("Warm Words", genres=("Fiction",))
    make_book("Warm Other", authors=("Ann Author",), genres=("Fiction",))
    url = url.format(id=book.id)
    client.get(url)
    client.get(url)  # a searched listing is stored from its second request (visitor_pages.may_store)
    with count_queries() as statements:
        assert client.get(url).status_code == 200
    assert len(statements) <= 1, statements  # the visitor's hold queue is read only when out of stock


class _Broken:
    """A Redis that fails every call the way a dropped connection does."""

    def __getattr__(self, name):
        def fail(*args, **kwargs):
            raise redis_lib.exceptions.ConnectionError("down")
        return fail


def test_pages_work_when_redis_raises(app, client, make_book):
    book = make_book("Resilient")
    epoch_before = cache.versions().epoch
    saved = app.extensions.get("folio_cache_redis")
    app.extensions["folio_cache_redis"] = _Broken()
    cache.reset_breaker()
    try:
        for url in ("/", "/books", f"/books/{book.id}", "/books?q=resilient", "/genres/fiction",
                    f"/books/{book.id}/cover.svg"):
            assert client.get(url).status_code == 200, url
        book.price_cents = 999
        db.session.commit()  # the bump fails: it is owed
    finally:
        app.extensions["folio_cache_redis"] = saved
        cache.reset_breaker()
    assert "9.99" in client.get(f"/books/{book.id}").get_data(as_text=True)
    assert cache.versions().epoch != epoch_before  # the failed bump was paid as an epoch bump


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs a redis-server binary")
def test_pages_work_when_a_real_redis_is_killed(app, client, make_book):
    port = _free_port()
    server = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                               "--appendonly", "no"], stdout=subprocess.DEVNULL)
    saved = app.extensions.get("folio_cache_redis")
    try:
        real = cache.connect(f"redis://127.0.0.1:{port}/0")
        for _ in range(50):
            try:
                real.ping()
                break
            except redis_lib.exceptions.ConnectionError:
                time.sleep(0.05)
        app.extensions["folio_cache_redis"] = real
        cache.reset_breaker()
        book = make_book("Killed Redis")
        assert client.get(f"/books/{book.id}").status_code == 200
        assert real.dbsize() > 0  # the page was cached there
        server.kill()
        server.wait()
        for url in ("/", "/books", f"/books/{book.id}", "/books?q=killed", "/genres/fiction"):
            started = time.monotonic()
            assert client.get(url).status_code == 200, url
        assert time.monotonic() - started < 1  # the breaker: no timeout per request
    finally:
        server.kill()
        server.wait()
        app.extensions["folio_cache_redis"] = saved
        cache.reset_breaker()


def test_a_stored_visitor_page_carries_each_visitors_own_csrf_token(app, make_book):
    book = make_book("Shared Page")
    first, second_visitor = app.test_client(), app.test_client()
    tokens = []
    for c in (first, second_visitor):
        html = c.get(f"/books/{book.id}").get_data(as_text=True)
        assert "\x1b" not in html  # no placeholder left
        tokens.append(re.search(r'"X-CSRFToken": "([^"]+)"', html).group(1))
        assert re.search(r'name="csrf_token" value="([^"]+)"', html).group(1) == tokens[-1]
    assert tokens[0] != tokens[1]
    added = second_visitor.post("/cart/add", data={"book_id": book.id, "mode": "buy", "quantity": 1,
                                                   "csrf_token": tokens[1]})
    assert added.status_code in (302, 303)
    page = second_visitor.get("/books").get_data(as_text=True)  # a visitor with a cart: a page of their own
    assert 'data-testid="cart-count">1<' in page and "\x1b" not in page
    assert 'data-testid="cart-count">0<' in first.get("/books").get_data(as_text=True)


def test_a_plain_visitors_warm_page_is_one_round_trip_to_a_real_redis(app, client, make_book, monkeypatch):
    """fakeredis has no Lua (the suite then takes the two-round-trip fallback): this runs the script on a real
    Redis. A warm page for a visitor is ONE command (versions and page together); a change is still on the next
    page; and the page stored for one visitor carries the next visitor's own CSRF token."""
    from tests.ops import servers

    with servers.redis_url(app) as url:
        real = cache.connect(url)
        sent: list[str] = []
        execute = real.execute_command

        def counted(*args, **kwargs):
            sent.append(str(args[0]))
            return execute(*args, **kwargs)

        monkeypatch.setattr(real, "execute_command", counted)
        monkeypatch.setitem(app.extensions, "folio_cache_redis", real)
        monkeypatch.delitem(app.extensions, "folio_cache_script", raising=False)
        monkeypatch.setattr(cache, "_scripts_unsupported", False)
        cache.reset_breaker()
        book = make_book("Scripted Tale", price_cents=1500)
        for url_ in (f"/books/{book.id}", "/books", "/"):
            assert client.get(url_).status_code == 200  # stored
            client.delete_cookie("session")
            sent.clear()
            page = client.get(url_)
            assert page.status_code == 200 and "Scripted Tale" in page.get_data(as_text=True)
            assert [c.upper() for c in sent] == ["EVALSHA"], (url_, sent)
        first_token = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True)).group(1)
        client.delete_cookie("session")
        second_token = re.search(r'name="csrf_token" value="([^"]+)"',
                                 client.get("/").get_data(as_text=True)).group(1)
        assert first_token != second_token
        book.price_cents = 2345
        db.session.commit()
        sent.clear()
        page = client.get(f"/books/{book.id}").get_data(as_text=True)
        assert "23.45" in page and "15.00" not in page
        assert cache._scripts_unsupported is False and sent[0].upper() == "EVALSHA"


def test_an_out_of_stock_book_page_is_stored_per_queue_length(client, make_book, count_queries, monkeypatch):
    """A visitor's page of a book out of stock shows how many readers wait (not versioned): it is stored under
    that number, read per request (one cheap count); a new hold is on the next page."""
    from webapp.models import Hold, User

    book = make_book("Sold Out Saga", on_hand=0)
    url = f"/books/{book.id}"
    page = client.get(url).get_data(as_text=True)
    assert "Out of stock" in page and "waiting" not in page
    client.delete_cookie("session")
    from webapp.catalog import routes

    with monkeypatch.context() as patched:
        patched.setattr(routes, "render_template", lambda *a, **k: pytest.fail("rendered, not stored"))
        with count_queries() as statements:
            assert client.get(url).status_code == 200
    assert len(statements) == 1, statements  # the queue's length, nothing else
    reader = User(username="waiter", email="waiter@example.com", password_hash="!")
    db.session.add(reader)
    db.session.flush()
    db.session.add(Hold(user_id=reader.id, book_id=book.id, status="waiting", priority=1))
    db.session.commit()
    client.delete_cookie("session")
    assert "1 reader waiting" in " ".join(client.get(url).get_data(as_text=True).split())
    client.delete_cookie("session")
    with count_queries() as statements:
        again = client.get(url).get_data(as_text=True)
    assert "1 reader waiting" in " ".join(again.split()) and len(statements) == 1, statements


def _stored_pages() -> set[bytes]:
    from webapp.services.platform import queues

    return set(queues.connection().keys(cache.PREFIX + "page:*"))


def test_a_search_is_stored_from_its_second_request_and_a_made_up_address_never(client, make_book):
    """Popular searches are cached; one-off ones and addresses no page links to cost no page in Redis."""
    make_book("Searchable Tide")
    client.get("/books")
    before = _stored_pages()
    client.get("/books?q=tide")
    assert _stored_pages() == before  # first sighting: a marker only
    client.get("/books?q=tide")
    assert len(_stored_pages() - before) == 1
    for _ in range(2):
        assert client.get("/books?q=tide&utm_source=mail").status_code == 200
        assert client.get("/books?q=tide&q=again").status_code == 200
    assert len(_stored_pages() - before) == 1


def test_a_search_cannot_make_the_page_echo_the_token(client, make_book):
    """The token placeholder is filled only in pages built for storing, and such addresses hold no control
    characters: a query spelling the placeholder is shown as typed, never replaced by the visitor's token."""
    make_book("Token Tale")
    page = client.get("/books?q=%1Bfolio-csrf%1B")
    page = client.get("/books?q=%1Bfolio-csrf%1B")  # (a stored page would come from the second request)
    html = page.get_data(as_text=True)
    token = re.search(r'"X-CSRFToken": "([^"]+)"', html).group(1)
    plain = client.get("/books?q=nothingmatches").get_data(as_text=True)  # no results either
    assert html.count(token) == plain.count(token)
    assert token not in html.split("<title>")[1].split("</title>")[0]
