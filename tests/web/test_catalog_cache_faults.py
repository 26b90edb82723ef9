"""The catalog cache under Redis faults (issue 14 review): unknown versions give no validator, a Redis restarted
empty never brings old versions back (on a real Redis, through the one-round-trip script too), bumps go through
a patient connection to the same server whatever the reads' breaker says, and an owed bump is paid at exit or
logged at ERROR when lost. CACHE_REDIS_URL puts the cache on a Redis of its own."""
from __future__ import annotations

import logging

import pytest
import redis

from webapp.extensions import db
from webapp.services.platform import cache, queues


class _DownRedis:
    """A cache connection whose every call fails, as a stopped Redis's does."""

    def __getattr__(self, name):
        def fail(*args, **kwargs):
            raise redis.exceptions.ConnectionError("Connection refused")

        return fail


class _Flaky:
    """Redis refusing writes for a while (then answering), with no pool of its own: bumps go through it."""

    connection_pool = None  # not a real client's: cache._bump_client uses this object as it is

    def __init__(self, real):
        self.real, self.down = real, True

    def pipeline(self, *args, **kwargs):
        if self.down:
            raise redis.exceptions.ConnectionError("Connection refused")
        return self.real.pipeline(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self.real, name)


def test_unknown_versions_make_unknown_tags_that_never_repeat(app, monkeypatch):
    monkeypatch.setitem(app.extensions, "folio_cache_redis", _DownRedis())
    first, second = cache.versions([1]), cache.versions([1])
    assert not first.known and not second.known
    assert isinstance(first.catalog_tag, cache.Unknown) and isinstance(first.book_tag(1), cache.Unknown)
    assert first.book_tag(1) != second.book_tag(1) and first.catalog_tag != second.catalog_tag
    cache.reset_breaker()
    found, entry = cache.versions_with_entry([1], "fc:page:x")
    assert not found.known and entry is None


def test_no_validator_for_listings_while_redis_is_down(app, make_book, monkeypatch):
    make_book("Down Listing")
    monkeypatch.setitem(app.extensions, "folio_cache_redis", _DownRedis())
    client = app.test_client()
    for url in ("/", "/books", "/genres"):
        response = client.get(url)
        assert response.status_code == 200 and "ETag" not in response.headers, url


def test_no_304_for_a_changed_cover_while_redis_is_down(app, make_book, monkeypatch):
    book = make_book("Cover Outage", price_cents=1500)
    monkeypatch.setitem(app.extensions, "folio_cache_redis", _DownRedis())
    client = app.test_client()
    first = client.get(f"/books/{book.id}/cover.svg")
    assert first.status_code == 200
    book.title = "Cover Outage Renamed"
    db.session.commit()
    cache.reset_breaker()
    again = client.get(f"/books/{book.id}/cover.svg", headers={"If-None-Match": first.headers.get("ETag", "x")})
    assert again.status_code == 200 and "Renamed" in again.get_data(as_text=True)


def test_a_missing_epoch_is_seeded_with_the_time_once(app):
    queues.connection().delete(cache.EPOCH_KEY)
    first = cache.versions()
    assert int(first.epoch) > 10**18  # nanoseconds since 1970, not a count from 0
    assert cache.versions().epoch == first.epoch  # seeded once (SET NX), then read
    queues.connection().delete(cache.EPOCH_KEY)
    cache.bump((), catalog=True, epoch=True)  # a bump on an empty Redis seeds before counting
    assert int(cache.versions().epoch) > int(first.epoch)


def test_a_real_redis_restarted_empty_gives_new_versions_through_the_script(app, client, make_book, monkeypatch):
    """fakeredis has no Lua: the seed inside the one-round-trip script runs here on a real Redis."""
    from tests.ops import servers

    with servers.redis_url(app) as url:
        real = cache.connect(url)
        monkeypatch.setitem(app.extensions, "folio_cache_redis", real)
        monkeypatch.delitem(app.extensions, "folio_cache_script", raising=False)
        monkeypatch.setattr(cache, "_scripts_unsupported", False)
        cache.reset_breaker()
        book = make_book("Scripted Restart", price_cents=1500)
        real.flushdb()  # our own server or the suite's own db (TEST_REDIS_URL)
        first = client.get(f"/books/{book.id}")
        assert int(real.get(cache.EPOCH_KEY)) > 10**18  # seeded by the script
        book.price_cents = 2345
        db.session.commit()
        assert "23.45" in client.get(f"/books/{book.id}").get_data(as_text=True)
        real.flushdb()  # restarted without persistence
        client.delete_cookie("session")
        again = client.get(f"/books/{book.id}", headers={"If-None-Match": first.headers["ETag"]})
        assert again.status_code == 200 and "23.45" in again.get_data(as_text=True)
        assert not cache._scripts_unsupported


def test_bumps_use_a_patient_connection_to_the_same_redis(app):
    from tests.ops import servers

    with servers.redis_url(app) as url:
        reader = cache.connect(url)
        bumps = cache._bump_client(reader)
        kwargs = bumps.connection_pool.connection_kwargs
        assert kwargs["socket_timeout"] == cache.BUMP_TIMEOUT and kwargs["socket_connect_timeout"] == cache.BUMP_TIMEOUT
        assert kwargs["retry"].get_retries() == cache.BUMP_RETRIES
        assert reader.connection_pool.connection_kwargs["socket_timeout"] == cache.SOCKET_TIMEOUT
        bumps.set("fc:test:patient", "1", ex=60)
        assert reader.get("fc:test:patient") == b"1"
        reader.delete("fc:test:patient")


def test_a_bump_is_made_while_the_reads_breaker_is_open(app, client, make_book):
    book = make_book("Breaker Open", price_cents=1500)
    assert "15.00" in client.get(f"/books/{book.id}").get_data(as_text=True)
    before = cache.versions([book.id]).book_tag(book.id)
    cache._failed("a read timed out once")  # reads skip Redis for BREAKER_SECONDS
    book.price_cents = 2345
    db.session.commit()
    assert not cache._epoch_owed
    cache.reset_breaker()
    assert cache.versions([book.id]).book_tag(book.id) != before
    assert "23.45" in client.get(f"/books/{book.id}").get_data(as_text=True)


def test_an_owed_bump_is_paid_at_exit(app, make_book, monkeypatch):
    book = make_book("Paid At Exit", price_cents=1500)
    epoch_before = cache.versions().epoch
    flaky = _Flaky(cache._client())
    monkeypatch.setitem(app.extensions, "folio_cache_redis", flaky)
    book.price_cents = 2345
    db.session.commit()  # the bump fails: owed
    assert cache._epoch_owed
    flaky.down = False  # Redis answers again, but this process never touches it before it ends
    cache.pay_owed_at_exit()
    assert not cache._epoch_owed
    monkeypatch.setitem(app.extensions, "folio_cache_redis", flaky.real)
    cache.reset_breaker()
    assert cache.versions().epoch != epoch_before


def test_an_owed_bump_lost_at_exit_is_logged_as_an_error(app, make_book, monkeypatch, caplog):
    book = make_book("Lost At Exit", price_cents=1500)
    monkeypatch.setitem(app.extensions, "folio_cache_redis", _Flaky(cache._client()))
    book.price_cents = 2345
    db.session.commit()
    with caplog.at_level(logging.ERROR, logger="webapp.services.platform.cache"):
        cache.pay_owed_at_exit()
    assert any(r.levelno == logging.ERROR and "owed version bump was lost" in r.getMessage()
               for r in caplog.records)
    assert cache._epoch_owed  # still owed: paid at the next contact if this process goes on


@pytest.mark.parametrize("cache_url", [None, "redis://127.0.0.1:1/5"])
def test_cache_redis_url_gives_the_cache_its_own_redis(app, monkeypatch, cache_url):
    monkeypatch.setitem(app.config, "CACHE_REDIS_URL", cache_url)
    monkeypatch.setitem(app.config, "REDIS_URL", "redis://127.0.0.1:2/3")
    monkeypatch.delitem(app.extensions, "folio_cache_redis", raising=False)
    kwargs = cache._client().connection_pool.connection_kwargs
    assert (kwargs["port"], kwargs["db"]) == ((1, 5) if cache_url else (2, 3))
    assert kwargs["socket_timeout"] == cache.SOCKET_TIMEOUT
