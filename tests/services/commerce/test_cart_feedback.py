"""Issue 17 (feedback) service rules: quantities over the limit are lowered with a message, the plan's rental rule
is the one checkout applies (asked from the cart), rentals are priced and worded per day, and the test gateway's
page finds its order to itemise it."""
from __future__ import annotations

import pytest

from tests.checkout_helpers import shopper, start
from tests.fee_helpers import rental_out
from webapp.extensions import db
from webapp.models import GatewaySession
from webapp.services.circulation import rentals
from webapp.services.commerce import cart, pricing, test_gateway


def test_add_over_the_line_limit_is_lowered_with_a_message(app, make_book):
    limit = app.config["MAX_QUANTITY_PER_LINE"]
    book = make_book("Many", on_hand=limit * 3)
    items: list[cart.CartItem] = []
    notice = cart.add(items, book.id, quantity=limit * 10**6)
    assert items[0].quantity == limit
    assert notice == f"You can order up to {limit} copies of one book, so the quantity is {limit}."


def test_update_over_the_stock_is_lowered_to_what_is_left(make_book):
    book = make_book("Few", on_hand=2)
    items: list[cart.CartItem] = []
    cart.add(items, book.id)
    notice = cart.update(items, book.id, "buy", quantity=9)
    assert items[0].quantity == 2 and notice == "Only 2 left of “Few”."


def test_rental_problem_is_the_checkout_rule(app, make_book):
    user = shopper("ruled")
    rental_out(user, title="Out Now")
    book = make_book("Next One", on_hand=3)
    items = [cart.CartItem(book.id, "rent", 1, 2)]
    problem = cart.rental_problem(items, user)
    assert problem and problem == rentals.allowance_problem(user, [(book.id, 1, 2)])
    assert "Your Free plan allows 1 book at once" in problem


def test_rental_problem_is_none_when_allowed_or_not_renting(make_book):
    user = shopper("allowed")
    book = make_book("Fine", on_hand=4)
    assert cart.rental_problem([cart.CartItem(book.id, "rent", 1, 3)], user) is None
    assert cart.rental_problem([cart.CartItem(book.id, "buy", 3, 7)], user) is None
    assert cart.rental_problem([cart.CartItem(book.id, "rent", 1, 3)], None) is None  # a visitor: asked at sign-in
    assert "up to 3 days" in cart.rental_problem([cart.CartItem(book.id, "rent", 1, 7)], user)
    assert "1 book at once" in cart.rental_problem([cart.CartItem(book.id, "rent", 2, 3)], user)


@pytest.mark.parametrize(("week", "day"), [(199, 28), (399, 57), (700, 100), (0, 0), (3, 0), (4, 1)])
def test_a_days_rent_is_a_one_day_loan(make_book, week, day):
    book = make_book("Rentable")
    book.rental_week_cents = week
    assert pricing.rental_day_cents(book) == day == pricing.unit_cents(book, "rent", 1)


def test_the_payment_page_finds_its_order(make_book):
    user = shopper("payer2")
    order = start(user, [(make_book("Paid For", on_hand=2), 1, "buy", 1)])
    session = db.session.get(GatewaySession, order.payment_session_id)
    assert test_gateway.order_for(session).id == order.id
    session.order_id = None  # (a charge's page has no order)
    assert test_gateway.order_for(session) is None
    db.session.rollback()
