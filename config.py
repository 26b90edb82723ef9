"""Folio configuration.

Development is the default. Values come from the environment (and a `.env` file
when python-dotenv finds one). Production refuses to start without its secrets.
"""
from __future__ import annotations

import logging
import os
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

from dotenv import load_dotenv

BASE_DIR = Path(__file__).resolve().parent
# A developer's .env configures `make run`; the test suite sets FOLIO_DOTENV=0 so its settings (a CURRENCY, a
# plan price) cannot change what the tests see.
if os.environ.get("FOLIO_DOTENV", "1") != "0":
    load_dotenv(BASE_DIR / ".env")


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise SystemExit(f"Folio config: {name} must be a whole number, not {raw!r}") from None


def _bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


def _database_url(raw: str | None) -> str | None:
    """Accept the common `postgres://` / `postgresql://` forms and use psycopg 3."""
    if not raw:
        return raw
    for prefix in ("postgres://", "postgresql://"):
        if raw.startswith(prefix):
            return "postgresql+psycopg://" + raw[len(prefix):]
    return raw


def _list(name: str) -> list[str] | None:
    """A comma-separated setting as a list (None when unset or empty)."""
    items = [part.strip() for part in (os.environ.get(name) or "").split(",") if part.strip()]
    return items or None


def _plan(key: str, *, price_cents: int | None, discount_pct: int | None, max_rental_days: int, max_books: int,
          hold_window_days: int) -> dict[str, int]:
    """One row of the PLANS setting. Each default can be overridden by its environment variable, named after
    the plan's `key`: PLAN_PRICE_<KEY>_CENTS (per period), PLAN_DISCOUNT_PCT_<KEY>, RENTAL_MAX_DAYS_<KEY>,
    MAX_BOOKS_<KEY>, HOLD_WINDOW_DAYS_<KEY>. None is a fixed 0: the Free plan costs nothing and takes nothing off."""
    return {
        "price_cents": 0 if price_cents is None else _int(f"PLAN_PRICE_{key}_CENTS", price_cents),
        "discount_pct": 0 if discount_pct is None else _int(f"PLAN_DISCOUNT_PCT_{key}", discount_pct),
        "max_rental_days": _int(f"RENTAL_MAX_DAYS_{key}", max_rental_days),
        "max_books": _int(f"MAX_BOOKS_{key}", max_books),
        "hold_window_days": _int(f"HOLD_WINDOW_DAYS_{key}", hold_window_days),
    }


def check_public_url(raw: str, *, https: bool) -> str:
    """PUBLIC_URL without a trailing slash; ValueError says what is wrong with it (an https URL when `https`)."""
    url = (raw or "").strip().rstrip("/")
    try:
        parts = urlsplit(url)
        hostname, _port = parts.hostname, parts.port  # .port raises ValueError on a bad port
    except ValueError:
        raise ValueError(f"PUBLIC_URL is not a URL: {url!r}") from None
    allowed = ("https",) if https else ("http", "https")
    if parts.scheme not in allowed or not hostname or parts.username or parts.password or parts.query \
            or parts.fragment or "?" in url or "#" in url or any(c.isspace() for c in url):
        raise ValueError(f"PUBLIC_URL must be an absolute {' or '.join(allowed)} URL of the shop, like "
                         f"https://shop.example.com (without query or fragment), not {url!r}")
    return url


def _trusted_hosts(public_url: str | None, extra: list[str] | None) -> list[str]:
    """PUBLIC_URL's host name and the extra TRUSTED_HOSTS."""
    hostname = urlsplit(public_url).hostname if public_url else None
    hosts = [hostname] if hostname else []
    return hosts + [h for h in extra or () if h not in hosts]


class Config:
    NAME = "base"
    SECRET_KEY = os.environ.get("SECRET_KEY")
    SQLALCHEMY_DATABASE_URI = _database_url(os.environ.get("DATABASE_URL"))
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
    REDIS_URL = os.environ.get("REDIS_URL")
    # The catalog cache's Redis (default REDIS_URL): one of its own may run with maxmemory and
    # `maxmemory-policy volatile-lru` (entries have TTLs, versions do not, so versions are never evicted).
    CACHE_REDIS_URL = os.environ.get("CACHE_REDIS_URL")
    # Where `make run` wrote the address of the embedded Redis it started.
    REDIS_URL_FILE = os.environ.get("REDIS_URL_FILE", str(BASE_DIR / "instance" / "redis.url"))
    RQ_QUEUES = ("default", "email", "reports")

    STRIPE_SECRET_KEY = os.environ.get("STRIPE_SECRET_KEY")
    STRIPE_PUBLISHABLE_KEY = os.environ.get("STRIPE_PUBLISHABLE_KEY")
    STRIPE_WEBHOOK_SECRET = os.environ.get("STRIPE_WEBHOOK_SECRET")  # no default: production must set its own
    STRIPE_API_BASE = os.environ.get("STRIPE_API_BASE")  # only to point the client at a local stub

    MAIL_SERVER = os.environ.get("MAIL_SERVER")
    MAIL_PORT = _int("MAIL_PORT", 587)
    MAIL_USE_TLS = _bool("MAIL_USE_TLS", True)
    MAIL_USE_SSL = _bool("MAIL_USE_SSL", False)
    MAIL_USERNAME = os.environ.get("MAIL_USERNAME")
    MAIL_PASSWORD = os.environ.get("MAIL_PASSWORD")
    MAIL_DEFAULT_SENDER = os.environ.get("MAIL_DEFAULT_SENDER", "Folio <noreply@folio.test>")
    MAIL_MAX_RETRIES = _int("MAIL_MAX_RETRIES", 5)
    DEV_OUTBOX_ENABLED = False

    SHOP_NAME = os.environ.get("SHOP_NAME", "Folio")
    CURRENCY = os.environ.get("CURRENCY", "usd")  # ISO 4217; prices are shown in it (services.platform.money)
    LOCALE = os.environ.get("LOCALE", "en_US")  # how numbers and amounts are written (Babel locale)
    PAGE_SIZE = _int("PAGE_SIZE", 24)
    MAX_PAGE = _int("MAX_PAGE", 400)  # bounded offset pagination: deepest page served
    LOW_STOCK_THRESHOLD = _int("LOW_STOCK_THRESHOLD", 3)
    # Reports: longest period one report covers (days), the turnover window (days), and how far back
    # (minutes) the incremental rollup refresh re-reads orders changed around its previous run.
    REPORT_MAX_DAYS = _int("REPORT_MAX_DAYS", 731)
    REPORT_TURNOVER_DAYS = _int("REPORT_TURNOVER_DAYS", 90)
    REPORT_ROLLUP_OVERLAP_MINUTES = _int("REPORT_ROLLUP_OVERLAP_MINUTES", 10)

    # Money (integer cents) and checkout
    SHIPPING_FLAT_CENTS = _int("SHIPPING_FLAT_CENTS", 499)
    FREE_SHIPPING_THRESHOLD_CENTS = _int("FREE_SHIPPING_THRESHOLD_CENTS", 3500)
    TAX_RATE_BPS = _int("TAX_RATE_BPS", 0)  # basis points: 825 = 8.25 % on goods after discounts
    CHECKOUT_EXPIRY_MINUTES = _int("CHECKOUT_EXPIRY_MINUTES", 30)  # Stripe's minimum
    RESERVATION_GRACE_MINUTES = _int("RESERVATION_GRACE_MINUTES", 5)  # the reconciliation job's grace
    # The outbox (provider refunds, offline-gateway webhook deliveries): how long a delivery in progress is
    # leased to its worker, the first retry delay (doubling, at most 6 hours) and when to give up and tell staff.
    OUTBOX_LEASE_SECONDS = _int("OUTBOX_LEASE_SECONDS", 120)
    OUTBOX_RETRY_BASE_SECONDS = _int("OUTBOX_RETRY_BASE_SECONDS", 30)
    OUTBOX_MAX_ATTEMPTS = _int("OUTBOX_MAX_ATTEMPTS", 15)
    MAX_QUANTITY_PER_LINE = _int("MAX_QUANTITY_PER_LINE", 10)
    # Plans (models.Tier names them, services.circulation.subscriptions reads them): one row per plan, cheapest
    # first. Rentals are in days (priced pro rata from the weekly price); max_books counts rentals out, rentals in
    # an unpaid checkout and open holds at once; discount_pct is off purchases; hold_window_days is how long a
    # set-aside copy waits. Each number is also an environment variable (see _plan).
    PLANS = {
        "free": _plan("FREE", price_cents=None, discount_pct=None, max_rental_days=3, max_books=1,
                      hold_window_days=2),
        "plus": _plan("PLUS", price_cents=799, discount_pct=10, max_rental_days=7, max_books=5, hold_window_days=4),
        "premium": _plan("PREMIUM", price_cents=1499, discount_pct=15, max_rental_days=14, max_books=10,
                         hold_window_days=7),
    }
    SUBSCRIPTION_PERIOD_DAYS = _int("SUBSCRIPTION_PERIOD_DAYS", 30)
    FREQUENT_READER_ORDERS = _int("FREQUENT_READER_ORDERS", 5)  # paid orders ...
    FREQUENT_READER_DAYS = _int("FREQUENT_READER_DAYS", 90)  # ... within this many days ...
    FREQUENT_READER_PCT = _int("FREQUENT_READER_PCT", 5)  # ... earn this much off purchases,
    MEMBER_DISCOUNT_CAP_PCT = _int("MEMBER_DISCOUNT_CAP_PCT", 20)  # stacked with the plan's, up to this
    # Holds: an optional fee when a set-aside copy is not collected in its window (the window is the plan's).
    HOLD_NO_SHOW_FEE_CENTS = _int("HOLD_NO_SHOW_FEE_CENTS", 0)
    # Holds managed by staff and paused by customers (issue 16, holds): how far ahead a customer may pause a hold
    # ("not needed until"), or end it ("not needed after"); by how many days staff may extend a pick-up window
    # (per extension, and the window's end at most this far from now).
    HOLD_SUSPEND_MAX_DAYS = _int("HOLD_SUSPEND_MAX_DAYS", 180)
    HOLD_NOT_NEEDED_AFTER_MAX_DAYS = _int("HOLD_NOT_NEEDED_AFTER_MAX_DAYS", 365)
    HOLD_EXTEND_MAX_DAYS = _int("HOLD_EXTEND_MAX_DAYS", 14)
    WALLET_TOP_UP_MIN_CENTS = _int("WALLET_TOP_UP_MIN_CENTS", 500)
    WALLET_TOP_UP_MAX_CENTS = _int("WALLET_TOP_UP_MAX_CENTS", 50000)
    LATE_FEE_PER_DAY_CENTS = _int("LATE_FEE_PER_DAY_CENTS", 50)
    RENTAL_DUE_SOON_DAYS = _int("RENTAL_DUE_SOON_DAYS", 2)
    # Fees (issue 16): a rental's late fee stops at this share of the book's price; a rental this many days past
    # due and not sent back becomes lost (the customer is charged the replacement price, less fees paid).
    RENTAL_FEE_CAP_PCT = _int("RENTAL_FEE_CAP_PCT", 100)
    RENTAL_LOST_AFTER_DAYS = _int("RENTAL_LOST_AFTER_DAYS", 30)
    # A book the customer says they sent back that has not arrived this many days later is listed for staff
    # ("Not arrived" on /admin/rentals): "sent back" stops late fees and the lost-book job, so staff follow it up.
    RENTAL_RETURN_TRANSIT_DAYS = _int("RENTAL_RETURN_TRANSIT_DAYS", 14)
    # Postal rentals and collect in store (issue 16, postal): an order of rentals only pays RENTAL_SHIPPING_CENTS
    # instead of SHIPPING_FLAT_CENTS (mixed orders keep the normal rule, collected orders pay none). A collected
    # order's ship_* columns hold SHOP_ADDRESS, so receipts and staff pages say where to collect it. Customers
    # post rentals back to RETURN_ADDRESS (one line per line), following RETURN_INSTRUCTIONS.
    RENTAL_SHIPPING_CENTS = _int("RENTAL_SHIPPING_CENTS", 199)
    SHOP_ADDRESS = {
        "full_name": os.environ.get("SHOP_ADDRESS_NAME", "Folio Books"),
        "line1": os.environ.get("SHOP_ADDRESS_LINE1", "12 Market Street"),
        "line2": os.environ.get("SHOP_ADDRESS_LINE2") or None,
        "city": os.environ.get("SHOP_ADDRESS_CITY", "Springfield"),
        "region": os.environ.get("SHOP_ADDRESS_REGION") or None,
        "postcode": os.environ.get("SHOP_ADDRESS_POSTCODE", "12345"),
        "country": os.environ.get("SHOP_ADDRESS_COUNTRY", "US"),
        "phone": os.environ.get("SHOP_ADDRESS_PHONE") or None,
    }
    # The contact form (/contact) writes to this address; unset, to every active admin (like the low-stock digest).
    CONTACT_EMAIL = os.environ.get("CONTACT_EMAIL") or None
    RETURN_ADDRESS = os.environ.get("RETURN_ADDRESS", "Folio Books: Returns\n12 Market Street\nSpringfield 12345\nUS")
    RETURN_INSTRUCTIONS = os.environ.get(
        "RETURN_INSTRUCTIONS", "Pack the book in its original envelope (or any padded one), write your order number "
        "on the back, and post it to the address above by the due date. Then press “I've sent it back” here: "
        "late fees stop from that day. You can also hand it in at the shop.")
    # Comma-separated Fernet keys, newest first (services.platform.crypto); `flask --app wsgi keys rotate` re-encrypts under
    # the first. Required in production; development and testing without it derive one from SECRET_KEY.
    DATA_ENCRYPTION_KEYS = os.environ.get("DATA_ENCRYPTION_KEYS")
    # HMAC key of one-time codes and 2FA recovery codes (services.platform.crypto.keyed_hash): not SECRET_KEY, so that
    # rotating SECRET_KEY keeps recovery codes working. Required in production; elsewhere SECRET_KEY is used.
    CODE_HASH_KEY = os.environ.get("CODE_HASH_KEY")
    # The shop's address as customers see it (https://shop.example.com): every link in an email and every return
    # URL given to the payment provider is built from it (webapp.links), never from a request's Host header.
    PUBLIC_URL = os.environ.get("PUBLIC_URL")
    # Host names a request may name (Flask's TRUSTED_HOSTS; any other answers 400): PUBLIC_URL's plus these.
    # Production always checks; development and testing only when TRUSTED_HOSTS is set.
    TRUSTED_HOSTS = _list("TRUSTED_HOSTS")
    # Uploaded images (book covers, author photos): verified, re-encoded and resized by services.platform.uploads.
    UPLOAD_DIR = os.environ.get("UPLOAD_DIR", str(BASE_DIR / "instance" / "uploads"))
    UPLOAD_MAX_BYTES = _int("UPLOAD_MAX_BYTES", 5 * 1024 * 1024)
    UPLOAD_MAX_PIXELS = _int("UPLOAD_MAX_PIXELS", 40_000_000)  # larger images are refused (decompression bombs)
    CSV_IMPORT_MAX_BYTES = _int("CSV_IMPORT_MAX_BYTES", 10 * 1024 * 1024)
    ARGON2_TIME_COST = _int("ARGON2_TIME_COST", 3)
    ARGON2_MEMORY_COST = _int("ARGON2_MEMORY_COST", 65536)  # KiB
    ARGON2_PARALLELISM = _int("ARGON2_PARALLELISM", 4)

    # Signed-in sessions (services.people.sessions): they end after this many days in all, or this many days unused.
    SESSION_MAX_DAYS = _int("SESSION_MAX_DAYS", 30)
    SESSION_IDLE_DAYS = _int("SESSION_IDLE_DAYS", 14)
    # Staff customer page (admin/users/<id>): the largest single wallet credit or debit staff can make.
    STAFF_WALLET_ADJUST_MAX_CENTS = _int("STAFF_WALLET_ADJUST_MAX_CENTS", 100_000)
    WTF_CSRF_TIME_LIMIT = None  # token lives as long as the session
    SESSION_COOKIE_HTTPONLY = True
    # Re-sending the cookie on every response lets a slow request put back an older session.
    SESSION_REFRESH_EACH_REQUEST = False
    SESSION_COOKIE_SAMESITE = "Lax"
    PERMANENT_SESSION_LIFETIME = timedelta(days=SESSION_MAX_DAYS)
    REMEMBER_COOKIE_DURATION = timedelta(days=SESSION_MAX_DAYS)
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI")  # default: REDIS_URL (memory:// when testing)
    # Redis down: limits go on in each process's memory (logged once: "Rate limit storage unreachable"), and
    # come back to Redis when it answers again; sign-in and registration never fail for it.
    RATELIMIT_IN_MEMORY_FALLBACK_ENABLED = True
    RATELIMIT_SWALLOW_ERRORS = True
    # A Redis that accepts connections but does not answer (paused, partitioned) must not hold a sign-in for
    # redis-py's default 5 s per call (10 s measured for one POST /login): a sync worker would be gone for that
    # long. Half a second, then the in-memory fallback above.
    RATELIMIT_STORAGE_OPTIONS = {"socket_timeout": 0.5, "socket_connect_timeout": 0.5}
    # How many reverse proxies (nginx, a load balancer) stand in front of gunicorn and set X-Forwarded-For and
    # X-Forwarded-Proto. 0: the connection's address is the client's. Only this many hops are believed, so a
    # client cannot choose its own address by sending the header itself.
    TRUSTED_PROXIES = _int("TRUSTED_PROXIES", 0)
    # The JSON API (webapp.api): limits per client address and per token family (a token's sign-in), the
    # sign-in route's own limit per address, and the origins allowed to call it from a browser (CORS; none by
    # default: a comma-separated list of origins like https://app.example.com turns it on for those only).
    API_RATE_LIMIT_PER_ADDRESS = os.environ.get("API_RATE_LIMIT_PER_ADDRESS", "600 per minute")
    API_RATE_LIMIT_PER_TOKEN = os.environ.get("API_RATE_LIMIT_PER_TOKEN", "300 per minute")
    API_SIGN_IN_LIMIT = os.environ.get("API_SIGN_IN_LIMIT", "10 per minute")
    API_CORS_ORIGINS = _list("API_CORS_ORIGINS")
    MAX_CONTENT_LENGTH = 16 * 1024 * 1024
    # Logs (webapp.request_log): "json" (one object per line on stderr; production's default) or "text".
    LOG_FORMAT = os.environ.get("LOG_FORMAT", "text")
    LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO")
    # /readyz (services.platform.health.readiness): the backlog ages past which it answers "degraded", and the
    # bearer token that shows its details to a monitor that is not on this machine (empty: loopback only).
    READYZ_TOKEN = os.environ.get("READYZ_TOKEN") or None
    READYZ_QUEUE_MAX_AGE_SECONDS = _int("READYZ_QUEUE_MAX_AGE_SECONDS", 300)
    READYZ_EMAIL_MAX_AGE_SECONDS = _int("READYZ_EMAIL_MAX_AGE_SECONDS", 900)
    READYZ_OUTBOX_MAX_AGE_SECONDS = _int("READYZ_OUTBOX_MAX_AGE_SECONDS", 900)
    # `flask --app wsgi backup` writes here unless given --output (services.platform.backup).
    BACKUP_DIR = os.environ.get("BACKUP_DIR", str(BASE_DIR / "instance" / "backups"))
    TESTING = False
    DEBUG = False

    @classmethod
    def init(cls) -> None:
        """Hook run by create_app before the config is applied: what is set must make sense (http allowed)."""
        from webapp.services.platform.crypto import parse_keys  # not at the top: webapp imports config

        try:
            if cls.PUBLIC_URL:
                cls.PUBLIC_URL = check_public_url(cls.PUBLIC_URL, https=False)
            if cls.DATA_ENCRYPTION_KEYS:
                parse_keys(cls.DATA_ENCRYPTION_KEYS)
        except ValueError as exc:
            raise SystemExit(f"Folio {cls.NAME} config: {exc}") from None
        if cls.TRUSTED_HOSTS:
            cls.TRUSTED_HOSTS = _trusted_hosts(cls.PUBLIC_URL, cls.TRUSTED_HOSTS)


# Signs the offline test gateway's events in development, and the test suite's. Known to everyone: production
# refuses them.
OFFLINE_WEBHOOK_SECRET = "whsec_folio_offline_test_gateway"
TESTING_WEBHOOK_SECRET = "whsec_test_secret"
PUBLIC_WEBHOOK_SECRETS = (OFFLINE_WEBHOOK_SECRET, TESTING_WEBHOOK_SECRET)


DEV_SECRET_KEY = "dev-only-insecure-key-change-me"
PUBLIC_SECRET_KEYS = (DEV_SECRET_KEY, "testing-secret-key")


class DevelopmentConfig(Config):
    NAME = "development"
    SECRET_KEY = os.environ.get("SECRET_KEY") or DEV_SECRET_KEY
    # The offline gateway's secret only while the offline gateway is in use: with Stripe keys, Stripe's own.
    STRIPE_WEBHOOK_SECRET = os.environ.get("STRIPE_WEBHOOK_SECRET") or (
        None if os.environ.get("STRIPE_SECRET_KEY") else OFFLINE_WEBHOOK_SECRET)
    SQLALCHEMY_DATABASE_URI = _database_url(os.environ.get("DATABASE_URL")) or (
        "sqlite:///" + str(BASE_DIR / "instance" / "folio.db")
    )
    DEV_OUTBOX_ENABLED = True
    DEBUG = _bool("FLASK_DEBUG", False)
    # `make run` serves on PORT (default 5000) and sets PUBLIC_URL for all its processes (webapp.devstack).
    PUBLIC_URL = os.environ.get("PUBLIC_URL") or f"http://127.0.0.1:{os.environ.get('PORT') or 5000}"


class TestingConfig(Config):
    NAME = "testing"
    TESTING = True
    SECRET_KEY = "testing-secret-key"
    PUBLIC_URL = "http://shop.test"  # not the test client's "localhost": tests can tell the two apart
    TRUSTED_HOSTS = None
    SQLALCHEMY_DATABASE_URI = _database_url(os.environ.get("TEST_DATABASE_URL")) or "sqlite://"
    REDIS_URL = os.environ.get("TEST_REDIS_URL")  # None: fakeredis in-process
    CACHE_REDIS_URL = None  # the cache shares the suite's Redis (a developer's CACHE_REDIS_URL must not reach it)
    WTF_CSRF_ENABLED = True
    DEV_OUTBOX_ENABLED = True
    MAIL_SERVER = None
    STRIPE_SECRET_KEY = None
    STRIPE_WEBHOOK_SECRET = TESTING_WEBHOOK_SECRET
    RATELIMIT_ENABLED = True
    UPLOAD_DIR = os.environ.get("TEST_UPLOAD_DIR") or str(BASE_DIR / "instance" / "test-uploads")
    # Cheap hashes keep the suite fast; production uses argon2-cffi's defaults (services.people.passwords).
    ARGON2_TIME_COST = 1
    ARGON2_MEMORY_COST = 8192
    ARGON2_PARALLELISM = 1


class ProductionConfig(Config):
    NAME = "production"
    LOG_FORMAT = os.environ.get("LOG_FORMAT", "json")
    SESSION_COOKIE_SECURE = True
    REMEMBER_COOKIE_SECURE = True
    PREFERRED_URL_SCHEME = "https"

    REQUIRED = ("SECRET_KEY", "DATABASE_URL", "REDIS_URL", "STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET",
                "DATA_ENCRYPTION_KEYS", "CODE_HASH_KEY", "PUBLIC_URL")

    @classmethod
    def init(cls) -> None:
        """Refuse to start without real secrets: no fallback key, no offline gateway, no known webhook secret."""
        missing = [name for name in cls.REQUIRED if not os.environ.get(name, "").strip()]
        if missing:
            raise SystemExit(
                f"Folio production config: missing required environment variable(s): {', '.join(missing)}"
            )
        if os.environ["STRIPE_WEBHOOK_SECRET"].strip() in PUBLIC_WEBHOOK_SECRETS:
            raise SystemExit("Folio production config: STRIPE_WEBHOOK_SECRET is a public value from Folio's source; "
                             "set the signing secret of your Stripe webhook endpoint (whsec_...)")
        secret_key = os.environ["SECRET_KEY"]
        if len(secret_key) < 32 or secret_key in PUBLIC_SECRET_KEYS:
            raise SystemExit("Folio production config: SECRET_KEY is too short (under 32 characters) or a public value "
                             "from Folio's source; use a random one (`python -c 'import secrets; "
                             "print(secrets.token_urlsafe(48))'`)")
        cls.SECRET_KEY = secret_key
        cls.SQLALCHEMY_DATABASE_URI = _database_url(os.environ["DATABASE_URL"])
        cls.REDIS_URL = os.environ["REDIS_URL"]
        cls.STRIPE_SECRET_KEY = os.environ["STRIPE_SECRET_KEY"].strip()
        cls.STRIPE_WEBHOOK_SECRET = os.environ["STRIPE_WEBHOOK_SECRET"].strip()
        cls._init_keys_and_url()

    @classmethod
    def _init_keys_and_url(cls) -> None:
        """Data keys that are Fernet keys and not derived from SECRET_KEY, a code-hash key of its own, an https
        PUBLIC_URL, and TRUSTED_HOSTS from it."""
        from webapp.services.platform.crypto import key_from_secret, parse_keys  # as above: webapp imports config

        try:
            keys = parse_keys(os.environ["DATA_ENCRYPTION_KEYS"])
            public_url = check_public_url(os.environ["PUBLIC_URL"], https=True)
        except ValueError as exc:
            raise SystemExit(f"Folio production config: {exc}") from None
        hostname = urlsplit(public_url).hostname or ""  # check_public_url made sure there is one
        if hostname in ("localhost", "127.0.0.1", "::1") or hostname.endswith(".localhost"):
            raise SystemExit("Folio production config: PUBLIC_URL names this machine (localhost); give the address "
                             "customers use, like https://shop.example.com")
        legacy = key_from_secret(cls.SECRET_KEY or "")  # set by init() just before
        if keys[0] == legacy:
            raise SystemExit("Folio production config: DATA_ENCRYPTION_KEYS' first key is derived from SECRET_KEY; "
                             "put a new key first (`flask --app wsgi keys generate`) and run `keys rotate`")
        if legacy in keys:
            logging.getLogger(__name__).warning(
                "DATA_ENCRYPTION_KEYS still holds the key derived from SECRET_KEY: run `flask --app wsgi keys "
                "rotate`, then remove it")
        code_hash_key = os.environ["CODE_HASH_KEY"].strip()
        if len(code_hash_key) < 32:
            raise SystemExit("Folio production config: CODE_HASH_KEY is shorter than 32 characters; use a random "
                             "value (`flask --app wsgi keys generate` prints one)")
        if code_hash_key == cls.SECRET_KEY:
            raise SystemExit("Folio production config: CODE_HASH_KEY must differ from SECRET_KEY (rotating "
                             "SECRET_KEY must not invalidate recovery codes)")
        cls.DATA_ENCRYPTION_KEYS = ",".join(keys)
        cls.CODE_HASH_KEY = code_hash_key
        cls.PUBLIC_URL = public_url
        cls.TRUSTED_HOSTS = _trusted_hosts(public_url, _list("TRUSTED_HOSTS"))


CONFIGS = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}


def get_config(name: str | None = None) -> type[Config]:
    name = (name or os.environ.get("FOLIO_CONFIG") or "development").lower()
    try:
        return CONFIGS[name]
    except KeyError:
        raise SystemExit(f"Unknown FOLIO_CONFIG {name!r}; choose one of {', '.join(CONFIGS)}") from None
