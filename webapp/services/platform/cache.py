"""A small read cache on the app's Redis, with versioned keys, that never fails a page.

Why: catalog pages are read thousands of times for each change; their rendered parts are kept in Redis under
keys that name the versions of what they show, so a change makes new keys (the old entries age out by their
TTL) and every app instance sees it on its next request. Three kinds of version:

- `epoch`: everything (bumped when a change cannot be pinned down, or after a bump was lost to an outage);
- `catalog`: anything in the catalog changed (listings, counts, shelves, suggestions);
- `book:<id>`: that book's card and page.

Bumps are made by services.platform.catalog_changes after the transaction commits. Every Redis error on a
read is a miss or a no-op: a page is then built from the database, and its versions are unknown (Versions.known
is False: no validator may be given, see catalog.conditional). After an error reads skip Redis for
BREAKER_SECONDS, so an outage costs one short timeout per process, not one per request. Bumps are rare and
must not be lost: they go through a connection with ordinary timeouts and retries (not the reads' 0.25 s); one
that still fails is owed, paid as an epoch bump at the next contact or at the latest when the process exits
(logged at ERROR if it is lost even then).

The epoch is seeded with the time (nanoseconds) when it is missing (a Redis restarted empty, or evicted): the
versions never start again from values used before, so validators and keys handed out before the restart
never come back. Version keys have no TTL and entries do, so a cache Redis of its own (CACHE_REDIS_URL) can run
with `maxmemory-policy volatile-lru` and never lose a version.
"""
from __future__ import annotations

import atexit
import logging
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import redis
from flask import current_app, has_app_context
from redis.backoff import ExponentialBackoff, NoBackoff
from redis.retry import Retry

from . import queues

log = logging.getLogger(__name__)

PREFIX = "fc:"
EPOCH_KEY = PREFIX + "epoch"
CATALOG_KEY = PREFIX + "catalog"
BREAKER_SECONDS = 5.0
SOCKET_TIMEOUT = 0.25  # seconds: the cache answers in well under a millisecond, or not at all
BUMP_TIMEOUT = 2.0  # seconds: bumps are rare and must land
BUMP_RETRIES = 2
DEFAULT_TTL = 3600

_down_until = 0.0  # monotonic time before which Redis is not tried for reads (per process)
_bumps_down_until = 0.0  # the same for bumps (they are owed without trying, not waited for, meanwhile)
_epoch_owed = False  # a bump failed: bump the epoch at the next successful contact
_owed_to: redis.Redis | None = None  # the connection an owed bump is paid through at exit


def _client() -> redis.Redis | None:
    """The cache's connection: the app's Redis, with short timeouts (the queues' connection waits 3 s to
    connect, right for enqueueing, wrong for a cache read on every page)."""
    if not has_app_context():
        return None
    app = current_app
    found: redis.Redis | None = app.extensions.get("folio_cache_redis")
    if found is None:
        url = app.config.get("CACHE_REDIS_URL") or app.config.get("REDIS_URL")
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


def _bump_client(client: redis.Redis) -> redis.Redis:
    """A connection to the same Redis as `client`, with ordinary timeouts and a couple of retries (a Redis busy
    for half a second must not lose a bump). Built from the client's pool settings (as RQ clones connections);
    anything else (fakeredis) shares the client's pool, and a stand-in without a pool is used as it is."""
    pool = getattr(client, "connection_pool", None)
    if not isinstance(pool, redis.ConnectionPool):
        return client
    cached = current_app.extensions.get("folio_cache_bumps")
    if cached is not None and cached[0] is pool:
        found: redis.Redis = cached[1]
        return found
    if pool.connection_class.__module__.startswith("redis."):
        kwargs = {k: v for k, v in pool.connection_kwargs.items()
                  if not k.startswith(("maint_notifications", "orig_"))}
        kwargs.update(socket_timeout=BUMP_TIMEOUT, socket_connect_timeout=BUMP_TIMEOUT,
                      retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), BUMP_RETRIES),
                      retry_on_error=[redis.ConnectionError, redis.TimeoutError])
        found = redis.Redis(connection_pool=redis.ConnectionPool(connection_class=pool.connection_class, **kwargs))
    else:
        found = redis.Redis(connection_pool=pool)
    current_app.extensions["folio_cache_bumps"] = (pool, found)
    return found


def _seed(pipe: redis.client.Pipeline) -> None:
    """Queue the epoch's seed: the time in nanoseconds if the key is missing (never a value used before)."""
    pipe.set(EPOCH_KEY, time.time_ns(), nx=True)


def _failed(what: str, error: BaseException | None = None) -> None:
    global _down_until
    if time.monotonic() >= _down_until:
        log.warning("cache: Redis unreachable (%s: %r); serving from the database for %.0f s", what, error,
                    BREAKER_SECONDS)
    _down_until = time.monotonic() + BREAKER_SECONDS


def _usable() -> redis.Redis | None:
    """The connection, unless Redis failed within BREAKER_SECONDS; pays an owed epoch bump first."""
    if time.monotonic() < _down_until:
        return None
    client = _client()
    if client is not None and _epoch_owed:
        try:
            pipe = client.pipeline(transaction=False)
            _seed(pipe)
            pipe.incr(EPOCH_KEY)
            pipe.execute()
        except Exception as exc:  # noqa: BLE001  (any Redis error is a miss; see the module docstring)
            _failed("paying an owed bump", exc)
            return None
        _paid()
    return client


def _paid() -> None:
    global _epoch_owed, _owed_to
    _epoch_owed, _owed_to = False, None


def reset_breaker(*, forget_owed: bool = False) -> None:
    """Forget a past failure (tests; an operator after fixing Redis need not wait BREAKER_SECONDS). With
    `forget_owed`, an owed bump is dropped unpaid too (tests: one test's fault must not reach the next)."""
    global _down_until, _bumps_down_until
    _down_until = _bumps_down_until = 0.0
    if forget_owed:
        _paid()


def _read(client: redis.Redis | None, keys: Sequence[str]) -> list[bytes | None] | None:
    """The values of `keys` in one round trip (a missing key is None), or None when Redis could not answer."""
    if client is None:
        return None
    if not keys:
        return []
    try:
        return [v if isinstance(v, bytes) or v is None else v.encode() for v in client.mget(keys)]
    except Exception as exc:  # noqa: BLE001
        _failed("get", exc)
        return None


def get_many(keys: Sequence[str]) -> list[bytes | None]:
    """The values of `keys` in one round trip; a miss (or Redis down) is None."""
    found = _read(_usable(), keys)
    return [None] * len(keys) if found is None else found


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
    known: bool = True  # False: Redis did not answer; the tags are then Unknown (unique, never a validator)

    @classmethod
    def unknown(cls, book_ids: Iterable[int] = ()) -> Versions:
        """Versions for a request that could not read them: an epoch of its own, so no key or tag made from
        them matches anything handed out before or after."""
        return cls(f"unknown-{uuid.uuid4().hex}", "0", {i: "0" for i in book_ids}, known=False)

    @property
    def catalog_tag(self) -> str:
        return self._tag(f"{self.epoch}.{self.catalog}")

    def book_tag(self, book_id: int) -> str:
        return self._tag(f"{self.epoch}.{self.books.get(book_id, '0')}")

    def _tag(self, text: str) -> str:
        return text if self.known else Unknown(text)


class Unknown(str):
    """A tag made from unknown versions: catalog.conditional gives no validator for a page naming one."""

    __slots__ = ()


def _text(value: bytes | None) -> str:
    return value.decode() if value else "0"


def versions(book_ids: Iterable[int] = ()) -> Versions:
    """The current versions; an epoch found missing is seeded first (see the module docstring)."""
    ids = list(book_ids)
    client = _usable()
    values = _read(client, [EPOCH_KEY, CATALOG_KEY] + [book_key(i) for i in ids])
    if values is None or client is None:
        return Versions.unknown(ids)
    epoch = values[0]
    if epoch is None:
        try:
            pipe = client.pipeline(transaction=False)
            _seed(pipe)
            pipe.get(EPOCH_KEY)
            epoch = pipe.execute()[1]
        except Exception as exc:  # noqa: BLE001
            _failed("seed", exc)
            return Versions.unknown(ids)
    return Versions(_text(epoch), _text(values[1]), {i: _text(v) for i, v in zip(ids, values[2:], strict=True)})


# One round trip for a stored page: the versions (epoch, catalog, then each book's) and the entry whose key is
# ARGV[1] followed by the tags those versions make (page_key below builds the same key in Python). A missing
# epoch is seeded with ARGV[2] (the time) in the same call.
_WITH_ENTRY = """
local epoch = redis.call('GET', KEYS[1])
if not epoch then
  redis.call('SET', KEYS[1], ARGV[2], 'NX')
  epoch = ARGV[2]
end
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
    trip (a Lua script: the key depends on the versions just read). Redis down: unknown versions and a miss."""
    global _scripts_unsupported
    ids = list(book_ids)
    client = _usable()
    if client is not None and not _scripts_unsupported:
        try:
            script = current_app.extensions.get("folio_cache_script")
            if script is None:
                script = current_app.extensions["folio_cache_script"] = client.register_script(_WITH_ENTRY)
            values = script(keys=[EPOCH_KEY, CATALOG_KEY] + [book_key(i) for i in ids],
                            args=[prefix, time.time_ns()], client=client)
            epoch = _text(values[0])
            found = Versions(epoch, _text(values[1]),
                             {i: _text(v) for i, v in zip(ids, values[2:2 + len(ids)], strict=True)})
            entry = values[2 + len(ids)]
            return found, entry if isinstance(entry, bytes) or entry is None else str(entry).encode()
        except redis.ResponseError as exc:
            if "unknown command" not in str(exc).lower():
                _failed("script", exc)
                return Versions.unknown(ids), None
            _scripts_unsupported = True
        except Exception as exc:  # noqa: BLE001
            _failed("script", exc)
            return Versions.unknown(ids), None
    found = versions(ids)
    return found, get(page_key(prefix, found, ids)) if found.known else None


def book_versions(book_ids: Iterable[int]) -> dict[int, str]:
    ids = list(book_ids)
    return {i: _text(v) for i, v in zip(ids, get_many([book_key(i) for i in ids]), strict=True)}


def book_key(book_id: int) -> str:
    return f"{PREFIX}book:{book_id}"


def bump(book_ids: Iterable[int] = (), *, catalog: bool = True, epoch: bool = False) -> None:
    """New versions, so entries stored under the old ones are never read again. Call after the commit (see
    catalog_changes). Made through a patient connection (_bump_client), whatever the reads' breaker says; if
    Redis still cannot be reached the bump is owed (an epoch bump at the next contact, or at exit)."""
    global _epoch_owed, _owed_to, _bumps_down_until
    ids = sorted(set(book_ids))
    reader = _client()
    if reader is None:
        return
    client = _bump_client(reader)
    if time.monotonic() < _bumps_down_until:
        _epoch_owed, _owed_to = True, client
        return
    try:
        pipe = client.pipeline(transaction=False)
        _seed(pipe)
        for book_id in ids:
            pipe.incr(book_key(book_id))
        if catalog or ids:
            pipe.incr(CATALOG_KEY)
        if epoch or _epoch_owed:
            pipe.incr(EPOCH_KEY)
        pipe.execute()
    except Exception as exc:  # noqa: BLE001
        _epoch_owed, _owed_to = True, client
        _bumps_down_until = time.monotonic() + BREAKER_SECONDS
        log.warning("cache: a version bump failed (%r); owed as an epoch bump", exc)
        _failed("bump", exc)
        return
    _paid()


def pay_owed_at_exit() -> None:
    """A process that ends owing a bump (a CLI import, a job, a worker recycled) pays it now: other instances
    would otherwise serve the old pages until their TTLs end. Logged at ERROR if it is lost."""
    client = _owed_to
    if not _epoch_owed:
        return
    try:
        if client is None:
            raise RuntimeError("no connection to pay it through")
        pipe = client.pipeline(transaction=False)
        _seed(pipe)
        pipe.incr(EPOCH_KEY)
        pipe.execute()
    except Exception as exc:  # noqa: BLE001
        log.error("cache: an owed version bump was lost at exit (%r): other instances may serve pages up to "
                  "%d s old; run `flask --app wsgi cache-clear` once Redis is back", exc, DEFAULT_TTL)
        return
    _paid()


atexit.register(pay_owed_at_exit)
