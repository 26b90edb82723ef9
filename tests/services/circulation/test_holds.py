"""The holds queue: tiered order, allocation when copies come back, pick-up windows, expiry, limits."""
import re
from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import func, select

from tests.checkout_helpers import pay, settle, shopper, start
from webapp.models import Hold, Inventory, Order, OutboundEmail, Rental, Subscription, utcnow
from webapp.models.membership import HOLD_TRANSITIONS, OPEN_HOLD, HoldStatus
from webapp.services.circulation import holds, rentals, wallet
from webapp.services.commerce import fulfilment, orders
from webapp.services.commerce.checkout import CheckoutError
from webapp.services.inventory import stock


def plan(db, user, tier):
    now = utcnow()
    db.session.add(Subscription(user_id=user.id, tier=tier, current_period_start=now,
                                current_period_end=now + timedelta(days=30)))
    db.session.commit()
    return user


def inv(db, book):
    db.session.expire_all()
    row = db.session.get(Inventory, book.id)
    return row.on_hand, row.reserved


def emails_to(db, user, contains):
    return db.session.scalar(select(func.count()).select_from(OutboundEmail).where(
        OutboundEmail.recipient == user.email, OutboundEmail.subject.contains(contains)))


@pytest.fixture
def rented_out(app, db, make_book):
    """One copy, rented out by `reader`: out of stock, with an active rental to return."""
    book = make_book("Popular", on_hand=1, price_cents=2000)
    reader = shopper("reader")
    order = start(reader, [(book, 1, "rent", 3)])
    settle(order, "pi_h", order.total_cents)
    db.session.commit()
    assert inv(db, book) == (0, 0)
    return book, db.session.scalars(select(Rental)).one()


def test_queue_order_is_plan_then_first_come(app, db, rented_out):
    book, _rental = rented_out
    free1, free2 = shopper("free1"), shopper("free2")
    plus = plan(db, shopper("plus"), "plus")
    premium = plan(db, shopper("premium"), "premium")
    placed = {}
    for i, user in enumerate([free1, plus, free2, premium]):
        with time_machine.travel(utcnow() + timedelta(minutes=i), tick=False):
            placed[user.username] = holds.place(user, book)
            db.session.commit()
    positions = {name: holds.position(h) for name, h in placed.items()}
    assert positions == {"premium": 1, "plus": 2, "free1": 3, "free2": 4}
    assert holds.queue_length(book.id) == 4


def test_return_allocates_expiry_moves_to_the_next_customer(app, db, rented_out):
    book, rental = rented_out
    first, second = shopper("first"), shopper("second")
    t0 = utcnow()
    with time_machine.travel(t0, tick=False):
        holds.place(first, book)
        db.session.commit()
    with time_machine.travel(t0 + timedelta(minutes=5), tick=False):
        holds.place(second, book)
        db.session.commit()
    clerk = shopper("clerk")
    with time_machine.travel(t0 + timedelta(hours=1), tick=False):
        rentals.mark_returned(rental, actor=clerk)
        db.session.commit()
    first_hold = holds.open_hold(first.id, book.id)
    assert first_hold.status == "ready" and holds.open_hold(second.id, book.id).status == "waiting"
    assert first_hold.expires_at == t0 + timedelta(hours=1, days=2)  # Free: a 2-day window
    assert inv(db, book) == (1, 1)  # the copy is back and set aside: nobody else can buy it
    assert emails_to(db, first, "is waiting for you") == 1
    # Nobody else can put it in a cart; the holder can.
    from webapp.services.commerce import cart

    with pytest.raises(cart.CartError):
        cart.add([], book.id, user=second)
    assert cart.add(items := [], book.id, user=first) is None and items[0].quantity == 1

    with time_machine.travel(t0 + timedelta(days=1), tick=False):
        assert holds.expire_due() == 0  # still inside the window
    with time_machine.travel(t0 + timedelta(days=2, hours=2), tick=False):
        assert holds.expire_due() == 1
        assert holds.expire_due() == 0  # running it again changes nothing
    db.session.expire_all()
    assert db.session.get(Hold, first_hold.id).status == "expired"
    second_hold = holds.open_hold(second.id, book.id)
    assert second_hold.status == "ready" and second_hold.expires_at == t0 + timedelta(days=4, hours=2)
    assert inv(db, book) == (1, 1)
    assert emails_to(db, first, "has expired") == 1 and emails_to(db, second, "is waiting for you") == 1


def test_no_show_fee_is_taken_from_the_wallet_and_the_rest_blocks_renting(app, db, rented_out, make_book):
    book, rental = rented_out
    app.config["HOLD_NO_SHOW_FEE_CENTS"] = 300
    try:
        late = shopper("late")
        wallet.credit(late.id, 100, "top_up", reference="t")
        holds.place(late, book)
        db.session.commit()
        rentals.mark_returned(rental, actor=shopper("clerk"))
        db.session.commit()
        with time_machine.travel(utcnow() + timedelta(days=3), tick=False):
            assert holds.expire_due() == 1
        hold = db.session.scalars(select(Hold).where(Hold.user_id == late.id)).one()
        assert (hold.fee_cents, hold.fee_paid_cents) == (300, 100) and wallet.balance(late.id) == 0
        assert "settle your late fees ($2.00)" in rentals.rental_block_reason(late)
        assert inv(db, book) == (1, 0)  # nobody else waiting: the copy is on sale again
    finally:
        app.config["HOLD_NO_SHOW_FEE_CENTS"] = 0


def test_checkout_collects_the_held_copy_and_an_unpaid_checkout_gives_it_back(app, db, rented_out, run_jobs):
    book, rental = rented_out
    holder, other = shopper("holder"), shopper("other")
    holds.place(holder, book)
    holds.place(other, book)
    db.session.commit()
    rentals.mark_returned(rental, actor=shopper("clerk"))
    db.session.commit()
    order = start(holder, [(book, 1, "buy", 3)])
    hold = db.session.scalars(select(Hold).where(Hold.user_id == holder.id)).one()
    assert hold.status == "fulfilled" and hold.order_id == order.id
    assert inv(db, book) == (1, 1)  # the same copy, now reserved for the order
    # The payment never comes: the checkout expires inside the hold's window, so the copy is set aside again.
    assert fulfilment.expire(order.payment_session_id) == "expired"
    db.session.commit()
    db.session.refresh(hold)
    assert hold.status == "ready" and holds.open_hold(other.id, book.id).status == "waiting"
    assert inv(db, book) == (1, 1)
    # Second try, paid: the hold is collected for good.
    order = start(holder, [(book, 1, "buy", 3)])
    assert pay(order) is None
    run_jobs()
    db.session.expire_all()
    assert db.session.get(Hold, hold.id).status == "fulfilled" and inv(db, book) == (0, 0)
    assert holds.open_hold(other.id, book.id).status == "waiting"


def test_cancelling_a_ready_hold_passes_the_copy_on(app, db, rented_out):
    book, rental = rented_out
    a, b = shopper("alpha"), shopper("bravo")
    holds.place(a, book)
    holds.place(b, book)
    db.session.commit()
    rentals.mark_returned(rental, actor=shopper("clerk"))
    db.session.commit()
    holds.cancel(holds.open_hold(a.id, book.id), a)
    db.session.commit()
    assert holds.open_hold(a.id, book.id) is None
    assert holds.open_hold(b.id, book.id).status == "ready" and inv(db, book) == (1, 1)
    with pytest.raises(PermissionError):
        holds.cancel(holds.open_hold(b.id, book.id), a)


def test_restock_and_cancelled_orders_serve_the_queue(app, db, make_book, run_jobs):
    book = make_book("Restocked", on_hand=1)
    buyer = shopper("buyer")
    order = start(buyer, [(book, 1, "buy", 3)])  # the last copy is reserved by a checkout
    waiting = [shopper(f"waiter{i}") for i in range(3)]
    for user in waiting:
        holds.place(user, book)
    db.session.commit()
    stock.adjust(book.id, 2, "restock")
    db.session.commit()
    assert [holds.open_hold(u.id, book.id).status for u in waiting] == ["ready", "ready", "waiting"]
    orders.cancel(order, actor=buyer)  # its reservation is released: straight to the third in line
    db.session.commit()
    assert holds.open_hold(waiting[2].id, book.id).status == "ready" and inv(db, book) == (3, 3)


def test_place_hold_rules(app, db, make_book, rented_out):
    book, _rental = rented_out
    in_stock = make_book("On Shelf", on_hand=2)
    user = shopper("rules")
    with pytest.raises(holds.HoldError, match="in stock"):
        holds.place(user, in_stock)
    holds.place(user, book)
    with pytest.raises(holds.HoldError, match="already hold"):
        holds.place(user, book)
    other = make_book("Also Out", on_hand=0)
    with pytest.raises(holds.HoldError, match="Free plan allows 1 book"):
        holds.place(user, other)  # Free: 1 book at once, rentals and holds together
    unverified = shopper("unverified", verified=False)
    with pytest.raises(holds.HoldError, match="confirm your email"):
        holds.place(unverified, other)


def test_renewal_is_refused_while_someone_waits(app, db, rented_out):
    from tests.checkout_helpers import deliver
    from webapp.models import Order, User

    book, rental = rented_out
    deliver(db.session.get(Order, rental.order_id))  # with the customer: renewable but for the waiting reader
    holds.place(shopper("waiter"), book)
    db.session.commit()
    with pytest.raises(rentals.RentalError, match="waiting"):
        rentals.renew(rental, db.session.get(User, rental.user_id))


def test_upgrading_moves_waiting_holds_up(app, db, rented_out):
    from webapp.services.circulation import subscriptions

    book, _rental = rented_out
    early, late = shopper("early"), shopper("late")
    holds.place(early, book)
    db.session.commit()
    with time_machine.travel(utcnow() + timedelta(minutes=1), tick=False):
        holds.place(late, book)
        db.session.commit()
    assert holds.position(holds.open_hold(late.id, book.id)) == 2
    wallet.credit(late.id, 5000, "top_up", reference="t")
    subscriptions.change(late, "premium")
    db.session.commit()
    assert holds.position(holds.open_hold(late.id, book.id)) == 1


def test_account_deletion_cancels_open_holds(app, db, rented_out):
    from webapp.services.closure import lifecycle

    book, rental = rented_out
    leaver, next_one = shopper("leaver"), shopper("next")
    holds.place(leaver, book)
    holds.place(next_one, book)
    db.session.commit()
    rentals.mark_returned(rental, actor=shopper("clerk"))
    db.session.commit()
    lifecycle.before_delete(leaver)
    db.session.commit()
    assert holds.open_hold(leaver.id, book.id) is None
    assert holds.open_hold(next_one.id, book.id).status == "ready"


def test_plan_limits_apply_to_rentals_at_checkout(app, db, make_book):
    from tests.checkout_helpers import ADDRESS
    from webapp.services.commerce import cart, checkout

    books = [make_book(f"Loan {i}", on_hand=3) for i in range(2)]
    user = shopper("limited")
    with pytest.raises(cart.CartError, match="1 to 3 days"):
        cart.add([], books[0].id, mode="rent", days=7, user=user)
    # A visitor's cart may hold a 7-day loan (Premium allows 14); checkout holds the customer to their plan.
    with pytest.raises(CheckoutError, match="up to 3 days"):
        checkout.start_checkout(user, [cart.CartItem(books[0].id, "rent", 1, 7, 0)], ADDRESS, code=None,
                              success_url=lambda o: "s", cancel_url=lambda o: "c")
    db.session.rollback()
    order = start(user, [(books[0], 1, "rent", 3)])
    settle(order, "pi_l", order.card_cents)
    db.session.commit()
    with pytest.raises(CheckoutError, match="1 book at once"):
        start(user, [(books[1], 1, "rent", 3)])
    db.session.rollback()
    assert start(user, [(books[1], 1, "buy", 3)]).status == "pending_payment"  # buying has no such limit


def test_an_unpaid_rental_checkout_counts_towards_the_plan(app, db, make_book):
    """Two checkouts in two tabs cannot rent more than the plan allows: a rental waiting for payment already
    counts, until the order is paid, cancelled or lapses."""
    books = [make_book(f"Tab {i}", on_hand=2) for i in range(2)]
    sold_out = make_book("Tab Sold Out", on_hand=0)
    user = shopper("twotabs")
    first = start(user, [(books[0], 1, "rent", 3)])
    db.session.commit()
    # A second tab's checkout replaces the first (one pending checkout per customer): never two rentals.
    second = start(user, [(books[1], 1, "rent", 3)])
    assert db.session.get(Order, first.id).status == "cancelled" and holds.books_in_use(user.id) == 1
    assert inv(db, books[0]) == (2, 0)
    db.session.commit()
    first = second
    with pytest.raises(holds.HoldError, match="allows 1 book"):
        holds.place(user, sold_out)
    db.session.rollback()
    orders.cancel(db.session.get(Order, first.id), actor=user, reason="Changed my mind.")
    db.session.commit()
    assert start(user, [(books[1], 1, "rent", 3)]).status == "pending_payment"


def test_archiving_a_book_closes_its_queue_and_tells_the_customers(app, db, make_book):
    from webapp.services.catalog import editing

    book = make_book("Going Away", on_hand=1)
    renter = shopper("renter_away")
    order = start(renter, [(book, 1, "rent", 3)])
    settle(order, "pi_away", order.card_cents)
    first, second = shopper("first_away"), shopper("second_away")
    holds.place(first, book)
    holds.place(second, book)
    db.session.commit()
    rental = db.session.scalars(select(Rental).where(Rental.user_id == renter.id)).one()
    rentals.mark_returned(rental, actor=shopper("clerk_away"))
    db.session.commit()
    assert [h.status for h in db.session.scalars(select(Hold).order_by(Hold.id))] == ["ready", "waiting"]
    assert editing.archive_book(book, actor_id=None)
    db.session.commit()
    db.session.expire_all()
    assert {h.status for h in db.session.scalars(select(Hold))} == {"cancelled"}
    inventory = db.session.get(Inventory, book.id)
    assert (inventory.on_hand, inventory.reserved) == (1, 0)  # the set-aside copy is back on the shelf
    told = db.session.scalars(select(OutboundEmail.recipient).where(OutboundEmail.subject.contains("is cancelled")))
    assert sorted(told) == ["first_away@example.com", "second_away@example.com"]


def test_a_move_the_transition_table_forbids_is_refused_and_changes_nothing(app, db, rented_out):
    book, _rental = rented_out
    reader = shopper("mover")
    hold = holds.place(reader, book)
    db.session.commit()
    assert HoldStatus.FULFILLED not in HOLD_TRANSITIONS[HoldStatus.WAITING]  # a copy must be set aside first
    with pytest.raises(ValueError, match="cannot go from waiting to fulfilled"):
        holds.move(hold.id, HoldStatus.WAITING, HoldStatus.FULFILLED, closed_at=utcnow())
    holds.cancel(hold, reader)
    db.session.commit()
    with pytest.raises(ValueError, match="cannot go from cancelled to waiting"):
        holds.move(hold.id, HoldStatus.CANCELLED, HoldStatus.WAITING, closed_at=None)
    db.session.rollback()
    db.session.expire_all()
    again = db.session.get(Hold, hold.id)
    assert again.status == "cancelled" and again.closed_at is not None and again.order_id is None


def test_the_hold_statuses_are_the_ones_the_database_allows(app):
    check = next(c for c in Hold.__table__.constraints if getattr(c, "name", "").endswith("status_valid"))
    assert set(re.findall(r"'([a-z_]+)'", str(check.sqltext))) == set(HoldStatus) == set(HOLD_TRANSITIONS)
    assert all(moves <= set(HoldStatus) for moves in HOLD_TRANSITIONS.values())
    # Closed holds stay closed, except a collected copy whose order went unpaid.
    assert {s for s in HoldStatus if s not in OPEN_HOLD and HOLD_TRANSITIONS[s]} == {HoldStatus.FULFILLED}
