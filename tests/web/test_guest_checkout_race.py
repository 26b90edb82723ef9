"""The same guest checkout form submitted several times at once (a double click, two tabs of one browser): real
PostgreSQL, one request per thread on its own connection. A guest has no account row to lock, so the form's
one-time token and the unique index on guest orders' tokens (uq_orders_guest_idempotency_key) must make it one
order: every submit goes to the same payment page, one set of copies is reserved, none answers 500."""
from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from tests.concurrency import race
from tests.conftest import using_postgres
from webapp.models import Inventory, Order

pytestmark = pytest.mark.skipif(not using_postgres(), reason="needs TEST_DATABASE_URL (PostgreSQL): "
                                "SQLite serialises writers, so there is no race to test")

SUBMITS = 6


@pytest.mark.parametrize("round_", range(3))
def test_one_guest_form_sent_at_once_makes_one_order(app, db, auth, make_book, round_):
    book = make_book("Raced Copy", on_hand=5)
    first = app.test_client()
    token = auth.csrf(first)
    assert auth.post("/cart/add", {"book_id": book.id, "mode": "buy"}, client=first).status_code == 303
    page = first.get("/checkout").get_data(as_text=True)
    form_token = re.search(r'name="token" type="hidden" value="([^"]+)"', page).group(1)
    cookie = first.get_cookie("session").value
    tabs = [first]
    for _ in range(SUBMITS - 1):
        tab = app.test_client()
        tab.set_cookie("session", cookie)
        tabs.append(tab)
    data = {"email": "racer@example.com", "address_id": "new", "full_name": "Ann Racer", "line1": "1 Main St",
            "city": "Springfield", "postcode": "12345", "country": "US", "token": form_token, "csrf_token": token}
    answers: list[tuple[int, str] | str] = [""] * SUBMITS

    def work(i: int) -> Callable[[], None]:
        tabs[i].get("/cart/mini")  # connect before the start line

        def send() -> None:
            try:
                r = tabs[i].post("/checkout", data=data)
                answers[i] = (r.status_code, r.headers.get("Location", ""))
            except Exception as exc:  # a crash propagated by the test client counts as a 500
                answers[i] = f"{type(exc).__name__}: {exc}"
        return send

    assert race(app, work, SUBMITS) == ["ok"] * SUBMITS
    db.session.expire_all()
    order = db.session.query(Order).one()
    assert order.guest and order.user_id is None and order.email == "racer@example.com"
    assert answers == [(303, f"/pay/test/{order.payment_session_id}")] * SUBMITS, answers
    assert db.session.get(Inventory, book.id).reserved == 1
