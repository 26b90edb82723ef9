"""A small read cache on the app's Redis, with versioned keys, that never fails a page.

Why: catalog pages are read thousands of times for each change; their rendered parts are kept in Redis under
keys that name the versions of what they show, so a change makes new keys (the old entries age out by their
TTL) and every app instance sees it on its next request. Three kinds of version:

- `epoch`: everything (bumped when a change cannot be pinned down, or after a bump was lost to an outage);
- `catalog`: anything in the catalog changed (listings, counts, shelves, suggestions);
- `book:<id>`: that book's card and page.

Bumps are made by services.platform.catalog_changes after the transaction commits. Every Redis error is a
miss or a no-op: a page is then built from the database. After an error Redis is skipped for BREAKER_SECONDS,
so an outage costs one short timeout per process, not one per request; a bump that could not be made is owed
and paid as an epoch bump on the next successful contact (the TTLs bound what an owed bump could miss if the
process ends first).
"""
from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import redis
from flask import current_app, has_app_context
from redis.backoff import NoBackoff
from redis.retry import Retry

from . import queues

log = logging.getLogger(__name__)

PREFIX = "fc:"
EPOCH_KEY = PREFIX + "epoch"
CATALOG_KEY = PREFIX + "catalog"
BREAKER_SECONDS = 5.0
SOCKET_TIMEOUT = 0.25  # seconds: the cache answers in well under a millisecond, or not at all
DEFAULT_TTL = 3600

_down_until = 0.0  # monotonic time before which Redis is not tried (per process)
_epoch_owed = False  # a bump failed: bump the epoch at the next successful contact


def _client() -> redis.Redis | None:
    """The cache's connection: the app's Redis, with short timeouts (the queues' connection waits 3 s to
    connect, right for enqueueing, wrong for a cache read on every page)."""
    if not has_app_context():
        return None
    app = current_app
    found: redis.Redis | None = app.extensions.get("folio_cache_redis")
    if found is None:
        url = app.config.get("REDIS_URL")
        if url:
            found = connect(url)
        else:  # testing with fakeredis: the same in-process server as the queues
            found = queues.connection()
        app.extensions["folio_cache_redis"] = found
    return found


def connect(url: str) -> redis.Redis:
    """A connection for cache use: short timeouts and no retries (a miss is cheaper than waiting)."""
    return redis.Redis.from_url(url, socket_connect_timeout=SOCKET_TIMEOUT, socket_timeout=SOCKET_TIMEOUT,
                                retry=Retry(NoBackoff(), 0), retry_on_timeout=False)


def _failed(what: str, error: BaseException | None = None) -> None:
    global _down_until
    if time.monotonic() >= _down_until:
        log.warning("cache: Redis unreachable (%s: %r); serving from the database for %.0f s", what, error,
                    BREAKER_SECONDS)
    _down_until = time.monotonic() + BREAKER_SECONDS


def _usable() -> redis.Redis | None:
    """The connection, unless Redis failed within BREAKER_SECONDS; pays an owed epoch bump first."""
    global _epoch_owed
    if time.monotonic() < _down_until:
        return None
    client = _client()
    if client is not None and _epoch_owed:
        try:
            client.incr(EPOCH_KEY)
        except Exception:  # noqa: BLE001  (any Redis error is a miss; see the module docstring)
            _failed("paying an owed bump")
            return None
        _epoch_owed = False
    return client


def reset_breaker() -> None:
    """Forget a past failure (tests; an operator after fixing Redis need not wait BREAKER_SECONDS)."""
    global _down_until
    _down_until = 0.0


def get_many(keys: Sequence[str]) -> list[bytes | None]:
    """The values of `keys` in one round trip; a miss (or Redis down) is None."""
    client = _usable()
    if client is None or not keys:
        return [None] * len(keys)
    try:
        return [v if isinstance(v, bytes) or v is None else v.encode() for v in client.mget(keys)]
    except Exception as exc:  # noqa: BLE001
        _failed("get", exc)
        return [None] * len(keys)


def get(key: str) -> bytes | None:
    return get_many([key])[0]


def set_many(items: Mapping[str, bytes | str], ttl: int = DEFAULT_TTL) -> None:
    """Store values, each with `ttl` seconds to live, in one round trip; nothing happens when Redis is down."""
    client = _usable()
    if client is None or not items:
        return
    try:
        pipe = client.pipeline(transaction=False)
        for key, value in items.items():
            pipe.set(key, value, ex=ttl)
        pipe.execute()
    except Exception as exc:  # noqa: BLE001
        _failed("set", exc)


def put(key: str, value: bytes | str, ttl: int = DEFAULT_TTL) -> None:
    set_many({key: value}, ttl)


@dataclass(frozen=True)
class Versions:
    """The versions a page depends on, read in one round trip at the start of a request (before any SQL, so
    that data read afterwards is never older than the versions it is stored under)."""

    epoch: str
    catalog: str
    books: dict[int, str]

    @property
    def catalog_tag(self) -> str:
        return f"{self.epoch}.{self.catalog}"

    def book_tag(self, book_id: int) -> str:
        return f"{self.epoch}.{self.books.get(book_id, '0')}"


def _text(value: bytes | None) -> str:
    return value.decode() if value else "0"


def versions(book_ids: Iterable[int] = ()) -> Versions:
    ids = list(book_ids)
    values = get_many([EPOCH_KEY, CATALOG_KEY] + [book_key(i) for i in ids])
    return Versions(_text(values[0]), _text(values[1]), {i: _text(v) for i, v in zip(ids, values[2:], strict=True)})


# One round trip for a stored page: the versions (epoch, catalog, then each book's) and the entry whose key is
# ARGV[1] followed by the tags those versions make (page_key below builds the same key in Python).
_WITH_ENTRY = """
local epoch = redis.call('GET', KEYS[1]) or '0'
local out = {epoch}
local key = ARGV[1]
for i = 2, #KEYS do
  local v = redis.call('GET', KEYS[i]) or '0'
  out[#out + 1] = v
  key = key .. ':' .. epoch .. '.' .. v
end
out[#out + 1] = redis.call('GET', key) or false
return out
"""
_scripts_unsupported = False  # the server refused EVAL (fakeredis without Lua): two round trips instead


def page_key(prefix: str, versions: Versions, book_ids: Sequence[int] = ()) -> str:
    """`prefix` followed by the tags of the catalog and of each book: the key versions_with_entry reads."""
    return prefix + f":{versions.catalog_tag}" + "".join(f":{versions.book_tag(i)}" for i in book_ids)


def versions_with_entry(book_ids: Sequence[int], prefix: str) -> tuple[Versions, bytes | None]:
    """The versions (as `versions`) and the entry at page_key(prefix, those versions, book_ids), in ONE round
    trip (a Lua script: the key depends on the versions just read). Redis down: zero versions and a miss."""
    global _scripts_unsupported
    ids = list(book_ids)
    client = _usable()
    if client is not None and not _scripts_unsupported:
        try:
            script = current_app.extensions.get("folio_cache_script")
            if script is None:
                script = current_app.extensions["folio_cache_script"] = client.register_script(_WITH_ENTRY)
            values = script(keys=[EPOCH_KEY, CATALOG_KEY] + [book_key(i) for i in ids], args=[prefix],
                            client=client)
            epoch = _text(values[0])
            found = Versions(epoch, _text(values[1]),
                             {i: _text(v) for i, v in zip(ids, values[2:2 + len(ids)], strict=True)})
            entry = values[2 + len(ids)]
            return found, entry if isinstance(entry, bytes) or entry is None else str(entry).encode()
        except redis.ResponseError as exc:
            if "unknown command" not in str(exc).lower():
                _failed("script", exc)
                return Versions("0", "0", {i: "0" for i in ids}), None
            _scripts_unsupported = True
        except Exception as exc:  # noqa: BLE001
            _failed("script", exc)
            return Versions("0", "0", {i: "0" for i in ids}), None
    found = versions(ids)
    return found, get(page_key(prefix, found, ids))


def book_versions(book_ids: Iterable[int]) -> dict[int, str]:
    ids = list(book_ids)
    return {i: _text(v) for i, v in zip(ids, get_many([book_key(i) for i in ids]), strict=True)}


def book_key(book_id: int) -> str:
    return f"{PREFIX}book:{book_id}"


def bump(book_ids: Iterable[int] = (), *, catalog: bool = True, epoch: bool = False) -> None:
    """New versions, so entries stored under the old ones are never read again. Call after the commit (see
    catalog_changes). If Redis cannot be reached the bump is owed (an epoch bump at the next contact)."""
    global _epoch_owed
    ids = sorted(set(book_ids))
    client = _usable()
    if client is None:
        _epoch_owed = True
        return
    try:
        pipe = client.pipeline(transaction=False)
        for book_id in ids:
            pipe.incr(book_key(book_id))
        if catalog or ids:
            pipe.incr(CATALOG_KEY)
        if epoch:
            pipe.incr(EPOCH_KEY)
        pipe.execute()
    except Exception:  # noqa: BLE001
        _epoch_owed = True
        _failed("bump")
