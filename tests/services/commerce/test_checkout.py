from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import func, select

from tests.checkout_helpers import ADDRESS, deliver, pay, settle, shopper, start
from webapp.models import (
    Book,
    DiscountCode,
    Inventory,
    Order,
    OrderEvent,
    OutboundEmail,
    Rental,
    StockMovement,
    utcnow,
)
from webapp.services.commerce import cart, checkout, fulfilment, orders, pricing, reconcile
from webapp.services.commerce.checkout import CheckoutError
from webapp.services.inventory import stock


def inv(db, book):
    db.session.expire_all()
    row = db.session.get(Inventory, book.id)
    return row.on_hand, row.reserved


def ledger_sum(db, book):
    return db.session.scalar(select(func.sum(StockMovement.on_hand_delta)).where(StockMovement.book_id == book.id))


def test_checkout_reserves_then_payment_makes_a_sale(app, db, make_book, run_jobs):
    buy = make_book("Bought", price_cents=2000, on_hand=5)
    rent = make_book("Rented", price_cents=3000, on_hand=2)
    user = shopper()
    order = start(user, [(buy, 2, "buy", 1), (rent, 1, "rent", 3)])
    assert order.status == "pending_payment"
    assert inv(db, buy) == (5, 2) and inv(db, rent) == (2, 1)
    assert order.subtotal_cents == 2 * 2000 + 257 and order.total_cents == order.subtotal_cents  # free shipping
    assert pay(order) is None
    assert db.session.get(Order, order.id).status == "pending_payment"  # only the webhook (or a server-side check) marks it paid
    run_jobs()  # the gateway's signed event reaches the webhook; then the receipt email is sent
    run_jobs()
    db.session.expire_all()
    order = db.session.get(Order, order.id)
    assert order.status == "paid" and order.paid_at is not None and order.payment_intent_id.startswith("pi_test_")
    assert inv(db, buy) == (3, 0) and inv(db, rent) == (1, 0)
    assert ledger_sum(db, buy) == 3 and ledger_sum(db, rent) == 1
    assert db.session.get(Book, buy.id).units_sold == 2
    rental = db.session.scalars(select(Rental)).one()
    assert rental.book_id == rent.id and (rental.starts_at, rental.due_at) == (None, None)  # on its way
    deliver(order)  # the loan starts at delivery, for the line's days
    db.session.refresh(rental)
    assert rental.starts_at == order.delivered_at and rental.due_at - rental.starts_at == timedelta(days=3)
    receipt = db.session.scalars(select(OutboundEmail).where(OutboundEmail.subject.contains("receipt"))).one()
    assert receipt.status == "outbox" and order.number in receipt.body_text and "Bought" in receipt.body_text
    assert [e.status for e in orders.timeline(order)] == ["pending_payment", "paid", "shipped", "delivered"]


def test_declined_card_takes_nothing_and_cancel_releases_stock(app, db, make_book):
    book = make_book("Declined", on_hand=3)
    user = shopper()
    order = start(user, [(book, 1, "buy", 1)])
    assert pay(order, "4000000000000002") == "Your card was declined."
    assert pay(order, "4000000000009995") == "Your card has insufficient funds."
    assert db.session.get(Order, order.id).status == "pending_payment"
    orders.cancel(db.session.get(Order, order.id), actor=user)
    db.session.commit()
    assert inv(db, book) == (3, 0) and ledger_sum(db, book) == 3
    assert db.session.get(Order, order.id).status == "cancelled"


def test_invalid_cards_are_refused_with_a_message(app, db, make_book):
    order = start(shopper(), [(make_book(on_hand=1), 1, "buy", 1)])
    assert pay(order, "1234 5678 9012 3456") == "Your card number is invalid."
    assert "test card" in pay(order, "4012888888881881")


def test_unverified_and_empty_checkouts_are_refused(app, db, make_book):
    book = make_book(on_hand=2)
    with pytest.raises(CheckoutError, match="confirm your email"):
        start(shopper("unverified", verified=False), [(book, 1, "buy", 1)])
    db.session.rollback()
    with pytest.raises(CheckoutError, match="empty"):
        start(shopper(), [])


def test_sold_out_between_cart_and_checkout_reserves_nothing(app, db, make_book):
    a = make_book("Plenty", on_hand=5)
    b = make_book("Last One", on_hand=1)
    first, second = shopper("first"), shopper("second")
    items = []
    cart.add(items, a.id, quantity=2)
    cart.add(items, b.id, quantity=1)
    start(first, [(b, 1, "buy", 1)])  # someone else takes the last copy meanwhile
    from tests.checkout_helpers import ADDRESS

    with pytest.raises(CheckoutError, match="out of stock"):
        checkout.start_checkout(second, items, ADDRESS, code=None, success_url=lambda o: "s", cancel_url=lambda o: "c")
    db.session.rollback()
    assert inv(db, a) == (5, 0) and inv(db, b) == (1, 1)
    assert db.session.scalar(select(func.count()).select_from(Order)) == 1


def test_reserve_is_all_or_nothing(app, db, make_book):
    a = make_book("A", on_hand=5)
    b = make_book("B", on_hand=1)
    with pytest.raises(stock.SoldOut) as exc:
        stock.reserve([(a.id, 2), (b.id, 2)], reference="t")
    db.session.rollback()
    assert exc.value.book_id == b.id and exc.value.available == 1
    assert inv(db, a) == (5, 0) and inv(db, b) == (1, 0)


def test_fulfilment_twice_has_one_effect(app, db, make_book):
    book = make_book(on_hand=2)
    order = start(shopper(), [(book, 1, "buy", 1)])
    assert settle(order, "pi_1", order.total_cents) == "paid"
    assert settle(order, "pi_1", order.total_cents) == "already"
    db.session.commit()
    assert inv(db, book) == (1, 0)
    assert db.session.scalar(select(func.count()).select_from(OrderEvent).where(OrderEvent.status == "paid")) == 1


def test_sweeper_releases_a_crashed_checkout(app, db, make_book):
    book = make_book(on_hand=2)
    with time_machine.travel(utcnow(), tick=False) as traveller:
        order = start(shopper(), [(book, 2, "buy", 1)])  # the shopper's browser crashes here
        assert inv(db, book) == (2, 2)
        traveller.shift(timedelta(minutes=20))
        assert reconcile.run() == {}  # still inside the payment window
        traveller.shift(timedelta(minutes=17))
        assert reconcile.run() == {"order_expired": 1}
    assert inv(db, book) == (2, 0)
    assert db.session.get(Order, order.id).status == "expired"
    from webapp.services.commerce.payments import PaymentError

    with pytest.raises(PaymentError, match="no longer open"):
        pay(order)  # the payment page is closed too
    db.session.rollback()


def test_payment_after_expiry_is_honoured_when_stock_remains(app, db, make_book):
    book = make_book(on_hand=2)
    order = start(shopper(), [(book, 1, "buy", 1)])
    fulfilment.expire(order.payment_session_id)
    db.session.commit()
    assert settle(order, "pi_late") == "paid"
    db.session.commit()
    assert inv(db, book) == (1, 0)


def test_cancel_paid_order_returns_stock_and_refunds(app, db, make_book, run_jobs):
    book = make_book(on_hand=3)
    user = shopper()
    order = start(user, [(book, 2, "buy", 1)])
    pay(order)
    run_jobs()
    order = db.session.get(Order, order.id)
    db.session.refresh(order)
    assert order.status == "paid"
    orders.cancel(order, actor=user)
    db.session.commit()
    assert inv(db, book) == (3, 0) and ledger_sum(db, book) == 3
    run_jobs()  # charge.refunded from the gateway
    db.session.expire_all()
    order = db.session.get(Order, order.id)
    assert order.status == "refunded" and order.refunded_cents == order.total_cents
    subjects = db.session.scalars(select(OutboundEmail.subject)).all()
    assert any("cancelled" in s for s in subjects)
    with pytest.raises(orders.OrderStateError):
        orders.cancel(order, actor=user)


def test_pricing_shipping_threshold_and_tax(app, db, monkeypatch):
    monkeypatch.setitem(app.config, "TAX_RATE_BPS", 825)
    small = pricing.quote([1000])
    assert (small.shipping_cents, small.tax_cents, small.total_cents) == (499, 83, 1000 + 499 + 83)
    assert small.free_shipping_gap_cents == 2500
    big = pricing.quote([2000, 1500])
    assert big.shipping_cents == 0 and big.tax_cents == 289
    assert pricing.quote([]).total_cents == 0


def _code(db, **kwargs):
    values = {"code": "SAVE10", "kind": "percent", "value": 10}
    values.update(kwargs)
    code = DiscountCode(**values)
    db.session.add(code)
    db.session.commit()
    return code


def test_discount_rules(app, db, make_book):
    user = shopper()
    _code(db)
    assert pricing.quote([5000], code="save10", user=user).discount_cents == 500
    _code(db, code="FIVE", kind="fixed", value=500, min_subtotal_cents=3000)
    assert "at least $30.00" in pricing.quote([2000], code="FIVE").discount_error
    assert pricing.quote([3000], code="FIVE").discount_cents == 500
    _code(db, code="OLD", ends_at=utcnow() - timedelta(days=1))
    assert "expired" in pricing.quote([3000], code="OLD").discount_error
    _code(db, code="SOON", starts_at=utcnow() + timedelta(days=1))
    assert "not valid yet" in pricing.quote([3000], code="SOON").discount_error
    assert "not a valid" in pricing.quote([3000], code="NOPE").discount_error
    _code(db, code="BIG", kind="fixed", value=99999)
    assert pricing.quote([1200], code="BIG").discount_cents == 1200  # never below zero


def test_discount_usage_limits(app, db, make_book):
    book = make_book(on_hand=10, price_cents=5000)
    code = _code(db, code="ONCE", max_uses=2, max_uses_per_user=1)
    ann, bob, cy = shopper("ann"), shopper("bob"), shopper("cyd")
    first = start(ann, [(book, 1, "buy", 1)], code="ONCE")
    assert first.discount_cents == 500
    assert start(ann, [(book, 1, "buy", 1)], code="ONCE").id == first.id  # a resubmit resumes it: one use
    assert settle(first, "pi_ann") == "paid"
    db.session.commit()
    with pytest.raises(CheckoutError, match="already used"):
        start(ann, [(book, 2, "buy", 1)], code="ONCE")
    db.session.rollback()
    second = start(bob, [(book, 1, "buy", 1)], code="ONCE")
    with pytest.raises(CheckoutError, match="used up"):
        start(cy, [(book, 1, "buy", 1)], code="ONCE")
    db.session.rollback()
    fulfilment.expire(second.payment_session_id)  # an abandoned checkout gives its use back
    db.session.commit()
    assert db.session.get(DiscountCode, code.id).uses_count == 1
    assert start(cy, [(book, 1, "buy", 1)], code="ONCE").discount_cents == 500


def test_cart_caps_quantity_by_available_stock(app, db, make_book):
    book = make_book("Scarce", on_hand=2)
    items = []
    assert cart.add(items, book.id, quantity=5) == "Only 2 left of “Scarce”."
    assert items[0].quantity == 2
    with pytest.raises(cart.CartError, match="Only 0 left|out of stock|No more"):
        cart.add(items, book.id, mode="rent")
    cart.update(items, book.id, "buy", quantity=1)
    cart.add(items, book.id, mode="rent", days=2)
    assert [(i.mode, i.quantity) for i in items] == [("buy", 1), ("rent", 1)]
    cart.update(items, book.id, "rent", new_mode="buy")  # switching folds into the buy line
    assert [(i.mode, i.quantity) for i in items] == [("buy", 2)]
    with pytest.raises(cart.CartError):
        cart.update(items, book.id, "buy", days=99, new_mode="rent")


def test_cart_view_reports_price_and_stock_changes(app, db, make_book):
    book = make_book("Changing", price_cents=1000, on_hand=4)
    items = []
    cart.add(items, book.id, quantity=3)
    book = db.session.get(Book, book.id)
    book.price_cents = 1200
    stock.adjust(book.id, -3, "adjustment")
    db.session.commit()
    view = cart.view(items)
    assert any("went up from $10.00 to $12.00" in c for c in view.changes)
    assert any("Only 1 of “Changing” left" in c for c in view.changes)
    assert items[0].quantity == 1
    again = cart.view(items, acknowledge=True)
    assert cart.view(items).changes == [] and again.quote.subtotal_cents == 1200


def test_deleting_an_account_keeps_its_orders_anonymised(app, db, make_book, run_jobs):
    from tests.conftest import PASSWORD
    from webapp.services.closure import deletion
    from webapp.services.people import accounts

    book = make_book(on_hand=3)
    user = accounts.create_user("leaver", "leaver@example.com", PASSWORD)
    db.session.commit()
    order = start(user, [(book, 1, "buy", 1)])
    pay(order)
    run_jobs()
    assert deletion.deletion_blockers(db.session.get(type(user), user.id))  # not shipped yet
    db.session.execute(Order.__table__.update().values(status="delivered"))
    db.session.commit()
    deletion.delete_account(db.session.get(type(user), user.id), PASSWORD)
    db.session.commit()
    kept = db.session.get(Order, order.id)
    assert kept.status == "delivered" and kept.total_cents > 0 and kept.lines[0].title
    assert "leaver" not in kept.email and kept.ship_name == "Deleted customer" and kept.ship_line1 == "(removed)"


def test_pay_fully_from_the_wallet_and_refund_back_to_it(app, db, make_book):
    from webapp.services.circulation import wallet

    book = make_book("Wallet Book", on_hand=3, price_cents=4000)
    user = shopper("walleteer")
    wallet.credit(user.id, 4000, "adjustment", reference="gift")
    db.session.commit()
    order, url = start_with_wallet(user, book)
    assert url == f"/checkout/success/{order.number}"
    assert order.status == "paid" and order.payment_provider == "wallet" and wallet.balance(user.id) == 0
    assert order.wallet_cents == order.total_cents and order.card_cents == 0
    assert inv(db, book) == (2, 0)
    orders.cancel(order, actor=user)  # wallet payments are refunded to the wallet
    db.session.commit()
    assert db.session.get(Order, order.id).status == "refunded" and wallet.balance(user.id) == 4000
    assert inv(db, book) == (3, 0)


def test_pay_partly_from_the_wallet_and_the_rest_by_card(app, db, make_book, run_jobs):
    from webapp.models import GatewaySession
    from webapp.services.circulation import wallet

    book = make_book("Part Wallet", on_hand=3, price_cents=4000)
    user = shopper("halfhalf")
    wallet.credit(user.id, 3000, "adjustment", reference="gift")
    db.session.commit()
    order, url = start_with_wallet(user, book)
    assert url == f"/pay/test/{order.payment_session_id}"
    assert (order.wallet_cents, order.card_cents, wallet.balance(user.id)) == (3000, 1000, 0)
    assert db.session.get(GatewaySession, order.payment_session_id).amount_total == 1000  # the card pays the rest
    assert pay(order) is None
    run_jobs()
    order = db.session.get(Order, order.id)
    db.session.refresh(order)
    assert order.status == "paid" and inv(db, book) == (2, 0)
    orders.cancel(order, actor=user)  # card part back to the card, wallet part back to the wallet
    db.session.commit()
    run_jobs()
    db.session.refresh(order)
    assert wallet.balance(user.id) == 3000
    assert order.status == "refunded" and order.refunded_cents == 4000


def test_unpaid_partial_wallet_order_gives_the_wallet_part_back(app, db, make_book):
    from webapp.services.circulation import wallet

    book = make_book("Abandoned", on_hand=1, price_cents=4000)
    user = shopper("abandoner")
    wallet.credit(user.id, 1500, "adjustment", reference="gift")
    db.session.commit()
    order, _url = start_with_wallet(user, book)
    assert wallet.balance(user.id) == 0 and inv(db, book) == (1, 1)
    assert fulfilment.expire(order.payment_session_id) == "expired"
    assert fulfilment.expire(order.payment_session_id) == "already"  # a replayed event changes nothing
    db.session.commit()
    assert wallet.balance(user.id) == 1500 and inv(db, book) == (1, 0)


def test_card_payment_refunded_to_the_wallet_on_request(app, db, make_book, run_jobs):
    from webapp.services.circulation import wallet

    book = make_book(on_hand=2, price_cents=1500)
    user = shopper("refundee")
    order = start(user, [(book, 1, "buy", 1)])
    pay(order)
    run_jobs()
    order = db.session.get(Order, order.id)
    db.session.refresh(order)
    orders.cancel(order, actor=user, refund_to="wallet")
    db.session.commit()
    assert wallet.balance(user.id) == order.total_cents and order.status == "refunded"
    assert db.session.scalar(select(func.count()).select_from(OrderEvent).where(OrderEvent.status == "refunded")) == 1


def start_with_wallet(user, book):
    from tests.checkout_helpers import ADDRESS
    from webapp.extensions import db

    items = [cart.CartItem(book.id, "buy", 1, 7, book.price_cents)]
    order, url = checkout.start_checkout(user, items, ADDRESS, code=None, use_wallet=True,
                                       success_url=lambda o: f"/checkout/success/{o.number}", cancel_url=lambda o: "c")
    db.session.commit()
    return order, url


def test_the_same_cart_paid_a_moment_ago_is_the_same_checkout_but_can_be_bought_again_later(app, db, make_book):
    from webapp.services.circulation import wallet

    book = make_book("Again", on_hand=5, price_cents=1000)
    user = shopper()
    wallet.credit(user.id, 10000, "adjustment", reference="gift")
    db.session.commit()
    with time_machine.travel(utcnow(), tick=False) as traveller:
        buy = lambda: checkout.start_checkout(user, [cart.CartItem(book.id, "buy", 1, 1, 1000)],  # noqa: E731
                                              ADDRESS, code=None, use_wallet=True, success_url=lambda o: o.number,
                                              cancel_url=lambda o: "c")
        first, url = buy()
        assert first.status == "paid" and url == first.number
        assert buy()[0].id == first.id  # a twin submit (another tab, no token) a moment later: no second order
        traveller.shift(timedelta(minutes=2))
        again, _ = buy()
        assert again.id != first.id and again.status == "paid"
    assert wallet.balance(user.id) == 10000 - 2 * first.total_cents
