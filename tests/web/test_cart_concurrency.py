"""One signed-in shopper changing their cart from many tabs at once: real PostgreSQL, one request per thread.

Every change must be applied exactly once (no lost update) and none may answer 500 (a unique violation on
uq_cart_lines_user_book_mode was the symptom). Each race runs a few times so a lucky interleaving does not
hide a bug.
"""
from __future__ import annotations

from collections.abc import Callable
from functools import reduce

import pytest
from sqlalchemy import select

from tests.concurrency import race
from tests.conftest import using_postgres
from webapp.models import CartLine

pytestmark = pytest.mark.skipif(not using_postgres(), reason="needs TEST_DATABASE_URL (PostgreSQL): "
                                "SQLite serialises writers, so there is no race to test")

ROUNDS = 3
TABS = 10


def _tabs(app, auth, n: int) -> tuple[list, str, int]:
    """n test clients sharing one signed-in session (as browser tabs share the cookie), and its CSRF token."""
    user = auth.user("racer")
    first = app.test_client()
    assert auth.login("racer", client=first).status_code == 303
    token = auth.csrf(first)  # generated now and kept in the session cookie copied below
    cookie = first.get_cookie("session").value
    tabs = [first]
    for _ in range(n - 1):
        tab = app.test_client()
        tab.set_cookie("session", cookie)
        tabs.append(tab)
    return tabs, token, user.id


def _race_requests(app, tabs, token: str, requests: list[tuple[str, dict | None]]) -> list[int | str]:
    """Send requests[i] (a POST with its form, or a GET when the form is None) from tabs[i], all released
    together. Returns each answer's status, or the error a crash raised."""
    statuses: list[int | str] = [0] * len(requests)

    def work(i: int) -> Callable[[], None]:
        url, data = requests[i]
        tabs[i].get("/cart/mini")  # warm up: connect before the start line

        def send() -> None:
            try:
                if data is None:
                    statuses[i] = tabs[i].get(url).status_code
                else:
                    statuses[i] = tabs[i].post(url, data={**data, "csrf_token": token}).status_code
            except Exception as exc:  # a crash propagated by the test client counts as a 500
                statuses[i] = f"{type(exc).__name__}: {exc}"
        return send

    outcomes = race(app, work, len(requests))
    assert outcomes == ["ok"] * len(requests), outcomes
    return statuses


def _saved_cart(db, user_id: int) -> dict[tuple[int, str], int]:
    db.session.expire_all()
    rows = db.session.scalars(select(CartLine).where(CartLine.user_id == user_id))
    return {(r.book_id, r.mode): r.quantity for r in rows}


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_ten_tabs_adding_one_copy_each_keep_all_ten(app, db, auth, make_book, round_):
    book = make_book("Ten Copies", on_hand=10)
    tabs, token, user_id = _tabs(app, auth, TABS)

    statuses = _race_requests(app, tabs, token,
                              [("/cart/add", {"book_id": book.id, "mode": "buy", "quantity": 1})] * TABS)

    assert statuses == [303] * TABS, statuses
    assert _saved_cart(db, user_id) == {(book.id, "buy"): 10}


# ---- a mixed race, checked against every serial order ----

Cart = frozenset  # of ((book_id, mode), quantity)


def _apply(state: Cart, op: tuple) -> Cart:
    """What one request does to the cart when it runs alone (quantities stay below every cap here)."""
    lines = dict(state)
    kind, key, n = op
    if kind == "add":
        lines[key] = lines.get(key, 0) + n
    elif kind == "update" and key in lines:
        if n == 0:
            del lines[key]
        else:
            lines[key] = n
    elif kind == "remove":
        lines.pop(key, None)
    return frozenset(lines.items())  # "view" (GET /cart) saves the prices seen, no quantity


def _serial_outcomes(start: Cart, ops: list[tuple]) -> set[Cart]:
    """Every final cart some serial order of `ops` gives (over subsets: 2^n states, not n! orders)."""
    reach: dict[int, set[Cart]] = {0: {start}}
    for mask in range(1 << len(ops)):
        for state in reach.get(mask, ()):
            for i, op in enumerate(ops):
                if not mask & (1 << i):
                    reach.setdefault(mask | (1 << i), set()).add(_apply(state, op))
    return reach[(1 << len(ops)) - 1]


def _request(op: tuple) -> tuple[str, dict | None]:
    kind, (book_id, mode), n = op
    if kind == "view":
        return "/cart", None
    if kind == "remove":
        return "/cart/remove", {"book_id": book_id, "mode": mode}
    return f"/cart/{kind}", {"book_id": book_id, "mode": mode, "quantity": n}


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_mixed_changes_from_many_tabs_end_as_some_serial_order(app, db, auth, make_book, round_):
    """Book A only gets copies added, so every serial order ends with the same quantity (a lost update shows);
    book B is added to, set, and removed; two tabs reload the cart page, which saves the new price of B."""
    from webapp.services.commerce import cart

    book_a, book_b = make_book("Book A", on_hand=20), make_book("Book B", on_hand=20)
    a, b = (book_a.id, "buy"), (book_b.id, "buy")
    tabs, token, user_id = _tabs(app, auth, 12)
    items: list[cart.CartItem] = []
    cart.add(items, a[0], quantity=1)
    cart.add(items, b[0], quantity=1)
    cart.save_user_items(user_id, items)
    book_b.price_cents += 100  # the cart page will report it and save the price seen
    db.session.commit()
    start = frozenset({a: 1, b: 1}.items())
    ops = [("add", a, 1)] * 5 + [("add", b, 2), ("add", b, 1), ("update", b, 4), ("remove", b, 0), ("add", b, 2),
                                 ("view", b, 0), ("view", b, 0)]

    statuses = _race_requests(app, tabs, token, [_request(op) for op in ops])

    assert statuses == [200 if op[0] == "view" else 303 for op in ops], statuses
    final = frozenset(_saved_cart(db, user_id).items())
    outcomes = _serial_outcomes(start, ops)
    assert reduce(_apply, ops, start) in outcomes  # the checker itself: the order listed is one of them
    assert {dict(o)[a] for o in outcomes} == {6}
    assert final in outcomes, (dict(final), sorted(map(dict, outcomes), key=str))
