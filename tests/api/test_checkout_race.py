"""The last copies, wanted through the JSON API and through the website at the same moment: real PostgreSQL, one
request (its own app context, session and connection) per buyer, all released together.

Both doors call services.commerce.checkout.start_checkout, so each copy must be reserved exactly once whichever
door a buyer used: as many orders as copies, stock never below zero, and the stock ledger adding up to the
inventory row (before and after the winners pay). Each race runs a few times so a lucky interleaving does not
hide a bug."""
from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from sqlalchemy import func, select

from tests.api.conftest import ApiClient
from tests.concurrency import race
from tests.conftest import Auth, using_postgres
from webapp.models import Inventory, Order, StockMovement, User

pytestmark = [pytest.mark.postgres,
              pytest.mark.skipif(not using_postgres(), reason="needs TEST_DATABASE_URL (PostgreSQL): SQLite "
                                                              "serialises writers, so there is no race to test")]

COPIES = 3
API_BUYERS = 6
WEB_BUYERS = 6
ROUNDS = 2
ADDRESS = {"full_name": "Race Buyer", "line1": "1 Fast Lane", "city": "Springfield", "postcode": "12345",
           "country": "US"}


def _api_buyer(app, auth, name: str, book_id: int) -> ApiClient:
    auth.user(name)
    client = ApiClient(app)
    assert client.sign_in(name).status_code == 200
    assert client.post("/api/v1/cart/items", json={"book_id": book_id}).status_code == 200
    return client


def _web_buyer(app, name: str, book_id: int):
    """A signed-in browser with the book in its cart, on the checkout page: (client, the form to post)."""
    client = app.test_client()
    auth = Auth(app, client)
    auth.user(name)
    assert auth.login(name).status_code == 303
    assert auth.post("/cart/add", {"book_id": book_id, "mode": "buy", "quantity": 1}).status_code == 303
    page = client.get("/checkout").get_data(as_text=True)
    token = re.search(r'name="token" type="hidden" value="([^"]+)"', page).group(1)
    csrf = re.search(r'"X-CSRFToken": "([^"]+)"', page).group(1)
    return client, {"address_id": "new", "token": token, "csrf_token": csrf, **ADDRESS}


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_api_and_web_buyers_race_for_the_last_copies(app, db, auth, make_book, round_):
    from tests.checkout_helpers import settle

    book = make_book("Last Three", on_hand=COPIES, price_cents=1500)
    db.session.commit()
    api_buyers = [_api_buyer(app, auth, f"api_{i}", book.id) for i in range(API_BUYERS)]
    web_buyers = [_web_buyer(app, f"web_{i}", book.id) for i in range(WEB_BUYERS)]
    answers: list[tuple[str, int, str]] = [("", 0, "")] * (API_BUYERS + WEB_BUYERS)

    def work(i: int) -> Callable[[], None]:
        if i < API_BUYERS:
            client = api_buyers[i]
            client.get("/api/v1/cart")  # warm up: connect before the start line

            def send() -> None:
                r = client.post("/api/v1/checkout", json={"address": ADDRESS})
                body = r.get_json()
                answers[i] = ("api", r.status_code, body["order"]["number"] if r.status_code == 201
                              else body["error"]["code"])
            return send
        browser, form = web_buyers[i - API_BUYERS]
        browser.get("/cart/mini")

        def post() -> None:
            r = browser.post("/checkout", data=form)
            answers[i] = ("web", r.status_code, r.headers.get("Location", ""))
        return post

    outcomes = race(app, work, API_BUYERS + WEB_BUYERS)
    assert outcomes == ["ok"] * len(outcomes), outcomes  # no request crashed

    api_won = [a for a in answers if a[0] == "api" and a[1] == 201]
    api_lost = [a for a in answers if a[0] == "api" and a[1] != 201]
    web_won = [a for a in answers if a[0] == "web" and a[2].startswith("/pay/test/cs_test_")]
    web_lost = [a for a in answers if a[0] == "web" and not a[2].startswith("/pay/test/")]
    assert len(api_won) + len(web_won) == COPIES, answers
    assert all(status == 409 and code in ("sold_out", "cart_changed") for _, status, code in api_lost), api_lost
    # sent back to the cart with "sold out" (303), or told the cart changed before anything was reserved (302)
    assert all(status in (302, 303) and where == "/cart" for _, status, where in web_lost), web_lost

    db.session.expire_all()
    orders = list(db.session.scalars(select(Order)))
    assert len(orders) == COPIES and {o.status for o in orders} == {"pending_payment"}
    assert len({o.user_id for o in orders}) == COPIES  # one copy each, to different buyers
    assert sorted(o.number for o in orders if o.number in {a[2] for a in api_won}) == sorted(a[2] for a in api_won)
    winners = set(db.session.scalars(select(User.username).where(User.id.in_([o.user_id for o in orders]))))
    assert len([w for w in winners if w.startswith("api_")]) == len(api_won)
    assert len([w for w in winners if w.startswith("web_")]) == len(web_won)

    def ledger() -> tuple[int, int]:
        on_hand, reserved = db.session.execute(
            select(func.sum(StockMovement.on_hand_delta), func.sum(StockMovement.reserved_delta))
            .where(StockMovement.book_id == book.id)).one()
        return on_hand, reserved

    row = db.session.get(Inventory, book.id)
    assert (row.on_hand, row.reserved, row.available) == (COPIES, COPIES, 0)
    assert ledger() == (row.on_hand, row.reserved)
    reservations = db.session.scalars(select(StockMovement).where(StockMovement.book_id == book.id,
                                                                  StockMovement.reserved_delta > 0)).all()
    assert sorted(m.reference for m in reservations) == sorted(o.number for o in orders)  # once per order

    for order in orders:  # the winners pay: every reservation becomes a sale, never below zero
        settle(order, f"pi_{order.number}", order.card_cents)
    db.session.commit()
    db.session.expire_all()
    row = db.session.get(Inventory, book.id)
    assert (row.on_hand, row.reserved) == (0, 0)
    assert ledger() == (0, 0)
