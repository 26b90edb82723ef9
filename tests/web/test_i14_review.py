"""Hostile requests and Redis faults against the catalog cache and /readyz (each test failed on the first
version of the cache: made-up addresses filling Redis, 304s for old pages during and after an outage, a lost
bump, a hung Redis holding probes)."""
from __future__ import annotations

import socket
import threading
import time

import pytest
import redis
from rq import Queue
from sqlalchemy import select

from webapp.extensions import db
from webapp.models import Author
from webapp.services.platform import cache, queues


@pytest.fixture
def blackhole():
    """A TCP port that accepts connections (the kernel's backlog) and never answers: a hung Redis."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    yield f"redis://127.0.0.1:{server.getsockname()[1]}/0"
    server.close()


@pytest.fixture
def hung_redis(app, blackhole):
    """The app's Redis connections pointed at the hung server, built as production builds them."""
    saved = {k: app.extensions.get(k) for k in ("folio_redis", "folio_queues", "folio_cache_redis")}
    connection = redis.Redis.from_url(blackhole, socket_connect_timeout=3)  # queues.init_app's settings
    app.extensions["folio_redis"] = connection
    app.extensions["folio_queues"] = {n: Queue(n, connection=connection) for n in app.config["RQ_QUEUES"]}
    app.extensions["folio_cache_redis"] = cache.connect(blackhole)
    cache.reset_breaker()
    yield
    app.extensions.update(saved)
    cache.reset_breaker()


def _timed_get(client, url: str, limit: float, **kwargs):
    """GET url in a thread; (response or None if it took longer than `limit`, seconds taken)."""
    box: dict[str, object] = {}
    started = time.monotonic()
    thread = threading.Thread(target=lambda: box.update(r=client.get(url, **kwargs)), daemon=True)
    thread.start()
    thread.join(limit)
    return box.get("r"), time.monotonic() - started


def _cache_keys() -> int:
    """Cache entries, not counting the first-sighting markers (a few bytes each, visitor_pages.may_store)."""
    connection = queues.connection()
    markers = connection.keys(cache.PREFIX + "seen:*")
    assert all((connection.strlen(k) or 0) < 8 for k in markers[:5])
    return len(connection.keys(cache.PREFIX + "*")) - len(markers)


def test_catalog_pages_answer_while_redis_hangs(app, make_book, hung_redis):
    book = make_book("Hung Tale")
    client = app.test_client()
    for url in ("/", "/books", f"/books/{book.id}", "/books?q=hung"):
        response, took = _timed_get(client, url, 5)
        assert response is not None and response.status_code == 200, (url, took)
        assert took < 2, (url, took)


def test_readyz_answers_while_redis_hangs(app, hung_redis):
    """A load balancer's probe must get its 503 quickly, not hold a sync worker until gunicorn kills it."""
    response, took = _timed_get(app.test_client(), "/readyz", 10)
    assert response is not None, f"/readyz still waiting after {took:.1f} s"
    assert response.status_code == 503 and took < 5
    response, took = _timed_get(app.test_client(), "/healthz", 10)
    assert response is not None and response.status_code == 503 and took < 5


def test_random_query_arguments_do_not_grow_the_cache(client, make_book):
    make_book("Plain")
    assert client.get("/books").status_code == 200
    before = _cache_keys()
    for _pass in range(2):
        for i in range(20):
            assert client.get(f"/books?utm_source={i}").status_code == 200
    assert _cache_keys() - before <= 3


def test_author_slugs_do_not_grow_the_cache(client, make_book):
    make_book("Slugged", authors=("Sam Slug",))
    author_id = db.session.scalar(select(Author.id).where(Author.name == "Sam Slug"))
    assert client.get(f"/authors/{author_id}").status_code == 200
    before = _cache_keys()
    for i in range(20):
        client.get(f"/authors/{author_id}/anything-{i}")
    assert _cache_keys() - before <= 3


def test_page_numbers_past_the_end_do_not_grow_the_cache(client, make_book):
    make_book("Short List")
    assert client.get("/books").status_code == 200
    before = _cache_keys()
    for _pass in range(2):  # the second pass finds the first-sighting markers: it would store, but must not
        for i in range(20):
            client.get(f"/books?page={1000 + i}")
    assert _cache_keys() - before <= 3


def test_a_failed_bump_is_not_lost_with_its_process(app, client, make_book, monkeypatch):
    book = make_book("Hiccup", price_cents=1500)
    book_id = book.id
    assert "15.00" in client.get(f"/books/{book_id}").get_data(as_text=True)
    real = cache._client()

    class Hiccup:  # Redis answers everything but this one write in time (a fork for BGSAVE, a busy moment)
        def pipeline(self, *args, **kwargs):
            raise redis.exceptions.TimeoutError("Timeout reading from socket")

        def __getattr__(self, name):
            return getattr(real, name)

    monkeypatch.setitem(app.extensions, "folio_cache_redis", Hiccup())
    book.price_cents = 2345
    db.session.commit()  # the bump times out; this process owes an epoch bump
    monkeypatch.setitem(app.extensions, "folio_cache_redis", real)
    # this process ends (a CLI import, a job); another instance, whose own breaker is closed, serves the page
    monkeypatch.setattr(cache, "_epoch_owed", False)
    cache.reset_breaker()
    page = client.get(f"/books/{book_id}").get_data(as_text=True)
    assert "23.45" in page and "15.00" not in page


def test_sign_in_answers_while_the_rate_limit_redis_hangs(app, blackhole):
    """Production keeps rate limits in Redis: a hung one must cost a sign-in well under a second or two, not
    redis-py's default 5 s per call (10 s measured for the first POST /login)."""
    from tests.conftest import _Config
    from webapp import create_app
    from webapp.extensions import limiter

    class HungLimits(_Config):
        RATELIMIT_STORAGE_URI = blackhole
        WTF_CSRF_ENABLED = False

    saved = dict(vars(limiter))  # the limiter is one object for every app in this process: put the suite's back
    other = create_app(HungLimits)
    client = other.test_client()
    try:
        _sign_in_three_times(client)
    finally:
        vars(limiter).clear()
        vars(limiter).update(saved)
        with other.app_context():
            db.session.remove()
            db.engine.dispose()


def _sign_in_three_times(client) -> None:
    for _ in range(3):
        response, took = _timed_get(client, "/books", 10)
        assert response is not None and response.status_code == 200 and took < 2, took
        started = time.monotonic()
        response = client.post("/login", data={"login": "nobody", "password": "wrong password"})
        took = time.monotonic() - started
        assert response.status_code == 200 and took < 2, took


def test_a_path_cannot_forge_a_line_in_the_text_log():
    """Development's text log: a request for /books%0a<fake line> must stay one line (JSON escapes it anyway)."""
    import logging

    from webapp import request_log

    record = logging.LogRecord("webapp.request_log", logging.INFO, __file__, 1, "%s %s %s", (
        "GET", "/books\n2026-12-07 08:00:00 INFO webapp.auth: admin signed in\r", 404), None)
    record.request_id = "abcdef123456"
    line = request_log.formatter("text").format(record)
    assert "\n" not in line and "\r" not in line and "\\n2026" in line


class _DownRedis:
    """A cache connection whose every call fails, as a stopped Redis's does."""

    def __getattr__(self, name):
        def fail(*args, **kwargs):
            raise redis.exceptions.ConnectionError("Connection refused")

        return fail


def test_no_304_for_a_changed_book_while_redis_is_down(app, make_book, monkeypatch):
    book = make_book("Outage Price", price_cents=1500)
    book_id = book.id
    monkeypatch.setitem(app.extensions, "folio_cache_redis", _DownRedis())
    cache.reset_breaker()
    client = app.test_client()
    first = client.get(f"/books/{book_id}")
    assert first.status_code == 200 and "15.00" in first.get_data(as_text=True)
    book.price_cents = 2345
    db.session.commit()
    cache.reset_breaker()  # the breaker's 5 s have passed; Redis is still down
    again = client.get(f"/books/{book_id}", headers={"If-None-Match": first.headers.get("ETag", "none")})
    assert again.status_code == 200 and "23.45" in again.get_data(as_text=True)


def test_no_304_for_an_old_page_after_redis_restarts_empty(app, make_book):
    book = make_book("Restart Price", price_cents=1500)
    book_id = book.id
    client = app.test_client()
    queues.connection().flushdb()  # versions at 0, as on a fresh Redis
    first = client.get(f"/books/{book_id}")
    book.price_cents = 2345
    db.session.commit()
    assert "23.45" in client.get(f"/books/{book_id}").get_data(as_text=True)
    queues.connection().flushdb()  # Redis restarts without persistence
    again = client.get(f"/books/{book_id}", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 200 and "23.45" in again.get_data(as_text=True)
