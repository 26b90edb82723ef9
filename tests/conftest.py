"""Shared fixtures.

The database is TEST_DATABASE_URL (PostgreSQL in CI) or a temporary SQLite file; it
is built with the real migrations once per session and emptied after each test.
Redis is TEST_REDIS_URL (flushed first) or fakeredis in-process.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import text

os.environ["FOLIO_DOTENV"] = "0"  # before config is imported: a developer's .env must not reach the tests

from config import TestingConfig  # noqa: E402

_TMP = tempfile.mkdtemp(prefix="folio-tests-")


class _Config(TestingConfig):
    SQLALCHEMY_DATABASE_URI = TestingConfig.SQLALCHEMY_DATABASE_URI
    if SQLALCHEMY_DATABASE_URI in (None, "sqlite://"):
        SQLALCHEMY_DATABASE_URI = f"sqlite:///{Path(_TMP) / 'test.db'}"
    REDIS_URL_FILE = str(Path(_TMP) / "no-redis.url")
    # Room for the concurrency tests' one-connection-per-buyer threads.
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True, "pool_size": 60, "max_overflow": 10, "pool_timeout": 60}


# The throwaway test database's own defaults, for every connection to it (this process's pool and the gunicorn,
# worker and CLI subprocesses). jit off: the suite's tables are small and never analysed, so the planner's guesses
# pass jit_above_cost and such a query spends 15 ms compiling before a 0.1 ms run (GET /api/v1/books took 19 ms
# instead of 6; tests/web/test_fuzz.py 43 s instead of 15). synchronous_commit off: a commit does not wait for the WAL
# to reach the disk (what other connections see is unchanged; only a crash of PostgreSQL itself could lose the
# last commits, of a database the next run drops anyway).
_TEST_DATABASE_DEFAULTS = """DO $$ BEGIN
  EXECUTE format('ALTER DATABASE %I SET jit = off', current_database());
  EXECUTE format('ALTER DATABASE %I SET synchronous_commit = off', current_database());
END $$"""


class FreshContextClient(FlaskClient):
    """Each request runs in its own app context, as in production: its own `g` and DB session,
    not the one the test body holds (the test keeps an app context open for calling services)."""

    def open(self, *args, **kwargs):
        with self.application.app_context():
            return super().open(*args, **kwargs)


@pytest.fixture(scope="session")
def app():
    from flask_migrate import upgrade

    from webapp import create_app

    application = create_app(_Config)
    application.test_client_class = FreshContextClient
    with application.app_context():
        from webapp.extensions import db

        if db.engine.dialect.name == "postgresql":
            db.session.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
            db.session.execute(text(_TEST_DATABASE_DEFAULTS))
            db.session.commit()
            db.engine.dispose()  # the pool's connections predate the defaults: the next ones get them
        upgrade()
        if application.config.get("REDIS_URL"):
            application.extensions["folio_redis"].flushdb()
    yield application
    with application.app_context():
        from webapp.extensions import db

        db.session.remove()
        db.engine.dispose()


def _empty_tables(db) -> None:
    tables = [t.name for t in reversed(db.metadata.sorted_tables)]
    if db.engine.dialect.name == "postgresql":
        # DELETE beats TRUNCATE on a few rows (TRUNCATE recreates every table's files: ~0.3 s a test).
        db.session.execute(text("; ".join(f"DELETE FROM {name}" for name in tables)))
    else:
        for name in tables:
            db.session.execute(text(f"DELETE FROM {name}"))
        db.session.execute(text("DELETE FROM sqlite_sequence")) if db.session.execute(
            text("SELECT 1 FROM sqlite_master WHERE name='sqlite_sequence'")).first() else None
        db.session.execute(text("INSERT INTO books_fts(books_fts) VALUES ('rebuild')"))
    db.session.commit()


@pytest.fixture(autouse=True)
def _clean_state(request, app):
    """Each test starts with empty tables, an empty Redis and fresh rate limits."""
    if "app" not in request.fixturenames and "e2e" not in request.keywords:
        yield
        return
    from webapp.extensions import db, limiter
    from webapp.services.platform import cache

    with app.app_context():
        yield
        db.session.remove()
        _empty_tables(db)
        app.extensions["folio_redis"].flushdb()
        limiter.reset()
        cache.reset_breaker(forget_owed=True)  # a test's Redis fault must not leave the next one's cache "down"


@pytest.fixture
def db(app):
    from webapp.extensions import db as _db

    return _db


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def htmx_client(app):
    """A test client whose requests carry HX-Request: true."""
    c = app.test_client()
    c.environ_base["HTTP_HX_REQUEST"] = "true"
    return c


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def run_jobs(app):
    """Run every queued RQ job now, in this process (as the worker would)."""
    from rq import SimpleWorker

    def _run() -> None:
        queues = list(app.extensions["folio_queues"].values())
        with app.app_context():  # the worker's own context and DB session, as in the worker process
            SimpleWorker(queues, connection=app.extensions["folio_redis"]).work(burst=True)

    return _run


@pytest.fixture
def catalog(app):
    """A small deterministic demo catalog (60 books)."""
    from webapp.demo import seed as demo

    return demo.seed(60, seed_value=7, with_users=False)


@pytest.fixture
def make_book(app):
    """Create one book with given authors/genres/stock through the same code paths as the app."""
    from tests.factories import make_book as _make_book

    return _make_book


def using_postgres() -> bool:
    return (os.environ.get("TEST_DATABASE_URL") or "").startswith(("postgres", "postgresql"))


@pytest.fixture
def count_queries(app):
    """Context manager counting SQL statements sent to the database."""
    import contextlib

    from sqlalchemy import event

    from webapp.extensions import db as _db

    @contextlib.contextmanager
    def _counter():
        statements: list[str] = []

        def before(conn, cursor, statement, parameters, context, executemany):
            statements.append(statement)

        engine = _db.engine
        event.listen(engine, "before_cursor_execute", before)
        try:
            yield statements
        finally:
            event.remove(engine, "before_cursor_execute", before)

    return _counter


PASSWORD = "correct horse battery staple 42"


class Auth:
    """flaskr-style helper: create users and sign in through the real forms (CSRF included)."""

    def __init__(self, app, client):
        self.app = app
        self.client = client

    def csrf(self, client=None) -> str:
        import re

        html = (client or self.client).get("/genres").get_data(as_text=True)
        return re.search(r'"X-CSRFToken": "([^"]+)"', html).group(1)

    def post(self, url, data=None, client=None, **kwargs):
        client = client or self.client
        data = dict(data or {})
        data.setdefault("csrf_token", self.csrf(client))
        return client.post(url, data=data, **kwargs)

    def user(self, username="reader1", email=None, password=PASSWORD, role="customer", verified=True,
             totp_secret=None):
        from webapp.extensions import db as _db
        from webapp.services.people import accounts, twofactor

        user = accounts.create_user(username, email or f"{username}@example.com", password, role=role,
                                    verified=verified)
        if totp_secret:
            import pyotp

            twofactor.enable(user, totp_secret, pyotp.TOTP(totp_secret).now())
            user.totp_last_step = None  # let the test sign in with the current code
        _db.session.commit()
        return user

    def login(self, login="reader1", password=PASSWORD, client=None, totp_secret=None):
        response = self.post("/login", {"login": login, "password": password}, client=client)
        if totp_secret and response.status_code == 303 and "/login/2fa" in response.headers["Location"]:
            import pyotp

            response = self.post("/login/2fa", {"code": pyotp.TOTP(totp_secret).now()}, client=client)
        return response

    def logout(self, client=None):
        return self.post("/logout", client=client)


@pytest.fixture
def auth(app, client):
    return Auth(app, client)


ADMIN_TOTP = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


@pytest.fixture
def admin_client(app, auth):
    """A client signed in as an admin with 2FA."""
    client = app.test_client()
    auth.user("boss", role="admin", totp_secret=ADMIN_TOTP)
    response = auth.login("boss", client=client, totp_secret=ADMIN_TOTP)
    assert response.status_code == 303, response.get_data(as_text=True)[:500]
    return client
