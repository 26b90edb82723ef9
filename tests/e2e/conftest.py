"""Browser tests: Playwright drives the system Chromium against a live Folio server.

Every test in this folder is marked `e2e` (run them alone with `make e2e`, leave them
out with `-m "not e2e"`). The server is werkzeug on 127.0.0.1 in a daemon thread,
serving the session `app` from tests/conftest.py, so it uses the same migrated test
database (a SQLite file, or TEST_DATABASE_URL) and the same Redis. Data a test
commits is visible to the server thread; the autouse `_clean_state` fixture empties
the tables after each e2e test as it does for the others.
"""
from __future__ import annotations

import os
import re
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path

import pyotp
import pytest
from playwright.sync_api import Page, expect
from werkzeug.middleware.shared_data import SharedDataMiddleware
from werkzeug.serving import make_server

E2E_DIR = Path(__file__).resolve().parent
ARTIFACTS = E2E_DIR.parent.parent / "test-artifacts"

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# A unique author for a search that must narrow 120+ demo books to exactly one.
NEEDLE_AUTHOR = "Ottoline Quarrendon"
NEEDLE_TITLE = "The Lighthouse Almanac"
NEEDLE_PRICE_CENTS = 2345
DEMO_BOOKS = 120  # 5 pages at PAGE_SIZE 24 (with the needle book: 121)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    # tryfirst: the marker must be there before `-m` selection looks at the items.
    for item in items:
        if E2E_DIR in Path(item.path).resolve().parents:
            item.add_marker(pytest.mark.e2e)


def chromium_executable() -> str | None:
    """CHROMIUM_PATH, else /usr/bin/chromium, else `chromium` / `chromium-browser` on PATH."""
    explicit = os.environ.get("CHROMIUM_PATH")
    if explicit:
        if not (os.path.isfile(explicit) and os.access(explicit, os.X_OK)):
            pytest.fail(f"CHROMIUM_PATH={explicit!r} is not an executable file", pytrace=False)
        return explicit
    for candidate in ("/usr/bin/chromium", shutil.which("chromium"), shutil.which("chromium-browser")):
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    executable = chromium_executable()
    if executable is None:
        message = ("e2e: no Chromium found (looked at $CHROMIUM_PATH, /usr/bin/chromium and PATH). "
                   "Install it with `sudo apt-get install -y chromium` (Playwright's own browser download "
                   "does not work here), or set CHROMIUM_PATH to a Chromium binary.")
        if os.environ.get("CI"):
            pytest.fail(message)  # CI installs Chromium first: never let the browser tests vanish there
        pytest.skip(message)
    return {**browser_type_launch_args, "executable_path": executable, "args": CHROMIUM_ARGS, "headless": True}


@pytest.fixture(scope="session")
def live_server(app):
    """Base URL of the app served by werkzeug on a free port, for the whole session.

    /static/ is served from disk in front of the app, as nginx does in production
    (deploy/folio.nginx.conf). Through Flask, every static response re-sends the session
    cookie as it was when that request started (permanent session, refreshed on each
    request), so a late favicon fetch from the previous page could undo what the next page
    just stored in the session (the 2FA setup secret, a sign-in) and make tests flaky.
    """
    served = SharedDataMiddleware(app, {app.static_url_path: app.static_folder})
    server = make_server("127.0.0.1", 0, served, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="folio-e2e-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
        # Request threads filled the pool with connections; close them now rather than
        # leaving them to the garbage collector (psycopg's ResourceWarning is an error here).
        with app.app_context():
            from webapp.extensions import db

            db.engine.dispose()


@pytest.fixture(autouse=True)
def _public_url_is_the_live_server(app, live_server, monkeypatch):
    """Links in emails and the payment page's return addresses are built from PUBLIC_URL (webapp.links), not
    from the request: in the browser tests that is the live server (the suite's http://shop.test is not)."""
    monkeypatch.setitem(app.config, "PUBLIC_URL", live_server)


@pytest.fixture(scope="session")
def base_url(live_server):
    """pytest-playwright gives new contexts this base URL, so `page.goto("/books")` works."""
    return live_server


@pytest.fixture
def e2e_page(page):
    """The default page with a short default timeout: a missing element fails fast."""
    page.set_default_timeout(5_000)
    return page


@dataclass(frozen=True)
class SeededCatalog:
    total: int
    needle_id: int
    needle_title: str
    needle_author: str
    needle_price: str


@pytest.fixture
def seeded_catalog(app) -> SeededCatalog:
    """120 deterministic demo books plus one book by a unique author, committed.

    Function-scoped because `_clean_state` empties the tables after every test.
    """
    from tests.factories import make_book
    from webapp.demo import seed as demo

    with app.app_context():
        from webapp.extensions import db

        demo.seed(DEMO_BOOKS, seed_value=7, with_users=False)
        book = make_book(NEEDLE_TITLE, authors=(NEEDLE_AUTHOR,), genres=("Travel",),
                         price_cents=NEEDLE_PRICE_CENTS, on_hand=12,
                         description="A keeper's year of storms, ships and lamp oil on a far northern coast.")
        catalog = SeededCatalog(total=DEMO_BOOKS + 1, needle_id=book.id, needle_title=NEEDLE_TITLE,
                                needle_author=NEEDLE_AUTHOR, needle_price="$23.45")
        db.session.remove()
    return catalog


@pytest.fixture(scope="session")
def screenshot_dir() -> Path:
    path = ARTIFACTS / "screenshots"
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
def deliver_mail(app):
    """Call after a step that sends email: runs the queued RQ jobs now, as the worker would.

    The e2e server has no worker process, and an email shows up in /dev/outbox (status
    "outbox") only once its job ran. The jobs run in the test's thread (RQ installs signal
    handlers, which only the main thread may do) in their own app context and DB session.
    Returns True when there was a job to run.
    """
    from rq import SimpleWorker

    def _deliver() -> bool:
        queues = list(app.extensions["folio_queues"].values())
        with app.app_context():
            from webapp.extensions import db

            try:
                return bool(SimpleWorker(queues, connection=app.extensions["folio_redis"]).work(burst=True))
            finally:
                db.session.remove()

    return _deliver


@pytest.fixture
def make_user(app):
    """Create a committed user through the account services (tests/conftest.py's Auth.user):
    `make_user("boss", role="admin", totp_secret=ADMIN_TOTP)`. Returns the user's id."""
    from tests.conftest import Auth

    def _make(username: str, **kwargs) -> int:
        with app.app_context():
            from webapp.extensions import db

            user_id = Auth(app, None).user(username, **kwargs).id
            db.session.remove()
        return user_id

    return _make


# ---- helpers shared by the journeys ----

def in_app(app, fn):
    """Run `fn(db)` in a fresh app context (its own session: no stale reads) and hand the session back."""
    from webapp.extensions import db

    with app.app_context():
        try:
            return fn(db)
        finally:
            db.session.remove()


def sign_in_as(page: Page, username: str, totp_secret: str | None = None) -> None:
    """Sign in through /login (and /login/2fa with the current TOTP code when `totp_secret` is given),
    then check the welcome flash and the username in the header."""
    from tests.conftest import PASSWORD

    page.goto("/login")
    page.locator("#login").fill(username)
    page.locator("#password").fill(PASSWORD)
    page.locator("main").get_by_role("button", name="Sign in").click()
    if totp_secret:
        expect(page).to_have_url(re.compile(r"/login/2fa(\?|$)"))
        page.locator("#code").fill(pyotp.TOTP(totp_secret).now())
        page.locator("main").get_by_role("button", name="Verify").click()
    expect(page.locator(".flashes")).to_contain_text("Welcome back")
    # In the header menu (on a phone it stays folded under the Menu button: attached, not visible).
    expect(page.locator(".site-header .nav-links a", has_text=username)).to_be_attached()


def header_menu(page: Page):
    """The header's menu links, opened first when they are folded under the Menu button (phones):
    `header_menu(page).get_by_role("link", name="Orders").click()`."""
    button = page.locator("#site-menu > summary")
    if button.is_visible() and page.locator("#site-menu[open]").count() == 0:
        button.click()
    return page.locator("#site-menu .nav-links")


def mark_document(page: Page) -> None:
    """A marker that survives only as long as this document does (a page load wipes it)."""
    page.evaluate("window.__folioE2E = 'same-document'")


def assert_same_document(page: Page, what: str) -> None:
    assert page.evaluate("window.__folioE2E") == "same-document", f"{what} reloaded the page"
