"""Acceptance: the real `python -m folio_cli`, in subprocesses, against a live Folio server on the test
database: sign in, search, buy now, pay on the offline test gateway as a browser would, see the order paid,
cancel it, see it cancelled with its copy back in stock, sign out.

The server is werkzeug in a thread serving the suite's `app` (as tests/e2e's live_server), so the test sets up
its shopper and book through the services and reads the outcome from the database. Background work (the
payment webhook, delivered through the outbox) runs only when the test calls `run_jobs`, as a worker would."""
from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
import threading
from datetime import date
from pathlib import Path

import pytest
import requests
from werkzeug.serving import make_server

from tests.conftest import PASSWORD, Auth

ROOT = Path(__file__).resolve().parents[2]
TITLE = "The Lighthouse Almanac"
AUTHOR = "Ottoline Quarrendon"
ON_HAND = 3
NUMBER = re.compile(r"^Order (FO-[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}): pending payment, total \$22\.99\.$", re.M)


@pytest.fixture
def live_server(app, monkeypatch):
    """The suite's app on a free port; PUBLIC_URL is this server, so the payment page's links point here."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, name="folio-cli-live",
                              daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}"
    monkeypatch.setitem(app.config, "PUBLIC_URL", url)
    try:
        yield url
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
        with app.app_context():  # close the request threads' connections now (a ResourceWarning is an error)
            from webapp.extensions import db

            db.engine.dispose()


def _in_app(app, fn):
    from webapp.extensions import db

    with app.app_context():
        try:
            return fn(db)
        finally:
            db.session.remove()


def _stock(app, book_id: int) -> tuple[int, int]:
    from webapp.services.inventory import stock

    state = _in_app(app, lambda db: stock.state(book_id))
    return state.on_hand, state.reserved


def _status(app, number: str) -> str:
    from webapp.services.commerce import orders

    return _in_app(app, lambda db: str(orders.by_number(number).status))


# The client over HTTP (the API it calls is tested on both databases in tests/api): CI runs it on PostgreSQL only.
@pytest.mark.backend_neutral
def test_folio_cli_searches_buys_now_pays_sees_and_cancels_an_order(app, live_server, run_jobs, tmp_path):
    from tests.factories import make_book

    def setup(db):
        book = make_book(TITLE, authors=(AUTHOR,), genres=("Travel",), price_cents=1800, on_hand=ON_HAND)
        make_book("Salt and Cedar", authors=("Mira Feldt",), genres=("Fiction",), price_cents=1200, on_hand=4)
        Auth(app, None).user("ann", email="ann@example.com")
        return book.id

    book_id = _in_app(app, setup)
    config = tmp_path / "cli" / "credentials.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("FOLIO_")}
    env.update(FOLIO_URL=live_server, FOLIO_CLI_CONFIG=str(config), PYTHONDONTWRITEBYTECODE="1")

    def cli(*argv: str, stdin: str = "", ok: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([sys.executable, "-m", "folio_cli", *argv], cwd=ROOT, env=env, input=stdin,
                              capture_output=True, text=True, timeout=90)
        assert "Traceback" not in done.stderr, done.stderr
        if ok:
            assert done.returncode == 0, f"folio-cli {' '.join(argv)}: {done.stderr}"
        return done

    # --- sign in: the tokens land in a file only its owner can read
    signed = cli("login", "ann", "--password-stdin", stdin=PASSWORD + "\n")
    assert signed.stdout.startswith(f"Signed in to {live_server} as ann")
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    me = cli("whoami").stdout
    assert re.search(r"^Username: +ann$", me, re.M) and "ann@example.com" in me, me

    # --- search finds the book
    found = cli("search", "Quarrendon")
    rows = [line for line in found.stdout.splitlines() if TITLE in line]
    assert len(rows) == 1 and rows[0].split()[0] == str(book_id), found.stdout
    assert "$18.00" in rows[0] and AUTHOR in rows[0]
    assert [b["id"] for b in json.loads(cli("search", "Quarrendon", "--json").stdout)["items"]] == [book_id]

    # --- buy now: an order waiting for payment on the offline gateway, its copy reserved
    bought = cli("buy-now", str(book_id), "--full-name", "Ann Reader", "--line1", "1 Main Street",
                 "--city", "Springfield", "--postcode", "12345", "--country", "US")
    number_found = NUMBER.search(bought.stdout)
    assert number_found, bought.stdout  # $18.00 + $4.99 shipping
    number = number_found.group(1)
    pay_found = re.search(r"^Pay at: (\S+)$", bought.stdout, re.M)
    assert pay_found, bought.stdout
    pay_url = pay_found.group(1)
    assert re.fullmatch(re.escape(live_server) + r"/pay/test/cs_test_[\w-]+", pay_url), pay_url
    assert _status(app, number) == "pending_payment"
    assert _stock(app, book_id) == (ON_HAND, 1)
    shown = cli("order", number).stdout
    assert re.search(r"^Status: +pending payment$", shown, re.M), shown
    assert f"Pay at: {pay_url}" in shown

    # --- pay as a browser would: the gateway's page, then its form with the CSRF token
    with requests.Session() as browser:
        page = browser.get(pay_url, timeout=30)
        assert page.status_code == 200 and "Pay $22.99" in page.text
        csrf = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.text)
        assert csrf, "no CSRF token on the payment page"
        paid = browser.post(pay_url, timeout=30, allow_redirects=False, data={
            "csrf_token": csrf.group(1), "card_number": "4242 4242 4242 4242", "exp_month": "12",
            "exp_year": str(date.today().year + 3), "cvc": "123", "name": "Ann Reader"})
        assert paid.status_code == 303, paid.text[:500]
    run_jobs()  # the worker: the gateway's signed checkout.session.completed event reaches /webhooks/stripe
    assert _status(app, number) == "paid"
    assert _stock(app, book_id) == (ON_HAND - 1, 0)

    shown = cli("order", number).stdout
    assert re.search(r"^Status: +paid$", shown, re.M), shown
    assert "Cancel it with: folio-cli cancel " + number in shown and "Pay at" not in shown
    assert json.loads(cli("order", number, "--json").stdout)["status"] == "paid"
    assert number in cli("orders").stdout

    # --- cancel: the order is cancelled at once and the copy is back on the shelf
    cancelled = cli("cancel", number)
    assert cancelled.stdout.startswith(f"Order {number} is now cancelled.")
    assert _status(app, number) == "cancelled"
    assert _stock(app, book_id) == (ON_HAND, 0)
    shown = cli("order", number).stdout
    assert re.search(r"^Status: +cancelled$", shown, re.M), shown
    assert "Cancel it with" not in shown

    again = cli("cancel", number, ok=False)  # the API refuses a second cancellation, in words, exit 1
    assert again.returncode == 1 and again.stderr.startswith("Error: ") and again.stdout == ""

    # --- sign out: the tokens are gone here and refused there
    tokens = json.loads(config.read_text())["servers"][live_server]
    assert cli("logout").stdout == "Signed out.\n"
    assert json.loads(config.read_text())["servers"] == {}
    after = cli("order", number, ok=False)
    assert after.returncode == 1 and after.stderr.startswith("Error: Not signed in")
    refused = requests.get(f"{live_server}/api/v1/orders/{number}", timeout=30,
                           headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "token_revoked"
