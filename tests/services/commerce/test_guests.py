"""Guest checkout (services.commerce.checkout with no user, services.commerce.guests): the order, its payment and
receipt, what a guest cannot do (rent, use the wallet or a per-customer code), refunds to the card only, the
lookup by number + email and claiming the orders once an account's email is verified."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.checkout_helpers import ADDRESS, pay, shopper
from webapp.models import DiscountCode, Inventory, Order, OutboundEmail, OutboxMessage, User, WalletEntry, utcnow
from webapp.services.commerce import cart, checkout, guests, orders
from webapp.services.commerce.checkout import CheckoutError
from webapp.services.people import accounts


def _urls():
    return {"success_url": lambda o: f"http://shop.test/checkout/success/{o.number}",
            "cancel_url": lambda o: f"http://shop.test/checkout/cancelled/{o.number}"}


def guest_start(book, quantity=1, *, email="Guest@Example.com", code=None, token=None, mode="buy") -> Order:
    items: list[cart.CartItem] = []
    cart.add(items, book.id, mode=mode, quantity=quantity, days=3)
    order, url = checkout.start_checkout(None, items, ADDRESS, code=code, token=token, guest_email=email, **_urls())
    from webapp.extensions import db

    db.session.commit()
    assert url == f"/pay/test/{order.payment_session_id}"
    return order


def _fresh(db, order) -> Order:
    db.session.expire_all()
    return db.session.get(Order, order.id)


def test_a_guest_buys_reserves_pays_and_gets_the_receipt(app, db, make_book, run_jobs):
    book = make_book("Guest Copy", price_cents=2000, on_hand=3)
    order = guest_start(book, 2)
    assert (order.guest, order.user_id, order.email) == (True, None, "guest@example.com")
    assert order.member_discount_cents == 0 and order.wallet_cents == 0
    assert db.session.get(Inventory, book.id).reserved == 2
    assert pay(order) is None
    run_jobs()
    run_jobs()
    order = _fresh(db, order)
    assert order.status == "paid" and order.payment_intent_id
    receipt = db.session.scalars(select(OutboundEmail).where(OutboundEmail.subject.contains("receipt"))).one()
    assert receipt.recipient == "guest@example.com" and order.number in receipt.body_text
    assert "/orders/lookup" in receipt.body_text  # how a guest finds the order again


def test_the_same_guest_form_twice_makes_one_order(app, db, make_book):
    book = make_book(on_hand=3)
    token = checkout.new_token()
    first = guest_start(book, token=token)
    second = guest_start(book, token=token)
    assert first.id == second.id
    assert db.session.query(Order).count() == 1 and db.session.get(Inventory, book.id).reserved == 1


def test_guests_cannot_rent_nor_give_a_bad_email(app, db, make_book):
    book = make_book(on_hand=3)
    with pytest.raises(CheckoutError, match="Renting needs an account"):
        guest_start(book, mode="rent")
    with pytest.raises(CheckoutError, match="email address"):
        guest_start(book, email="not-an-email")
    db.session.rollback()
    assert db.session.query(Order).count() == 0 and db.session.get(Inventory, book.id).reserved == 0


def test_codes_limited_per_customer_need_an_account_others_apply(app, db, make_book):
    book = make_book(price_cents=2000, on_hand=3)
    db.session.add_all([DiscountCode(code="ONCEEACH", kind="percent", value=10, max_uses_per_user=1),
                        DiscountCode(code="FORALL", kind="fixed", value=500, max_uses=5)])
    db.session.commit()
    with pytest.raises(CheckoutError, match="customers with an account"):
        guest_start(book, code="ONCEEACH")
    db.session.rollback()
    order = guest_start(book, code="FORALL")
    assert order.discount_cents == 500
    assert db.session.scalar(select(DiscountCode.uses_count).where(DiscountCode.code == "FORALL")) == 1


def test_a_guest_refund_goes_to_the_card_never_a_wallet(app, db, make_book, run_jobs):
    book = make_book(on_hand=3)
    admin = accounts.create_user("boss", "boss@example.com", "correct horse battery staple 42", role="admin",
                                 verified=True, check_strength=False)
    order = guest_start(book)
    pay(order)
    run_jobs()
    order = _fresh(db, order)
    assert order.status == "paid"
    with pytest.raises(orders.OrderStateError, match="without an account"):
        orders.staff_cancel(order, actor=admin, reason="Out of print", refund_to="wallet")
    db.session.rollback()
    order = _fresh(db, order)
    orders.staff_cancel(order, actor=admin, reason="Out of print", refund_to="card")
    db.session.commit()
    refund = db.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "refund")).one()
    assert refund.payload["payment_intent_id"] == order.payment_intent_id
    assert db.session.query(WalletEntry).count() == 0
    run_jobs()
    order = _fresh(db, order)
    assert order.status == "refunded" and db.session.get(Inventory, book.id).on_hand == 3
    cancelled = db.session.scalars(select(OutboundEmail).where(OutboundEmail.subject.contains("cancelled"))).one()
    assert cancelled.recipient == "guest@example.com"


def test_lookup_needs_the_number_and_the_email(app, db, make_book):
    book = make_book(on_hand=3)
    order = guest_start(book)
    assert guests.find(order.number, "GUEST@example.com").id == order.id
    assert guests.find(order.number.lower().replace("-", " "), " guest@example.com ").id == order.id
    assert guests.find(order.number, "other@example.com") is None
    assert guests.find("FO-AAAA-BBBB-CCCC", "guest@example.com") is None
    assert guests.find("", "guest@example.com") is None and guests.find(order.number, "") is None
    customer = shopper("member")
    items: list[cart.CartItem] = []
    cart.add(items, book.id, user=customer)
    theirs, _ = checkout.start_checkout(customer, items, ADDRESS, code=None, **_urls())
    db.session.commit()
    assert guests.find(theirs.number, customer.email) is None  # a customer's order is not a guest's


def test_claim_only_after_the_email_is_verified_and_only_once(app, db, make_book):
    book = make_book(on_hand=5)
    first, second = guest_start(book), guest_start(book, email="guest@example.com")
    other = guest_start(book, email="someone@example.com")
    user = shopper("guest", verified=False)
    user.email = "GUEST@example.com".lower()
    db.session.commit()
    assert guests.claim(user) == 0  # anyone can type an address at checkout: not before it is proved
    assert _fresh(db, first).user_id is None
    user.email_verified_at = utcnow()
    db.session.commit()
    assert guests.claim(user) == 2
    db.session.commit()
    assert guests.claim(user) == 0  # once
    rows = db.session.execute(select(Order.number, Order.user_id, Order.guest).order_by(Order.id)).all()
    assert [(r.user_id, r.guest) for r in rows] == [(user.id, True), (user.id, True), (None, True)]
    assert {first.number, second.number} <= {o.number for o in orders.for_user(db.session.get(User, user.id))}
    assert _fresh(db, other).user_id is None
