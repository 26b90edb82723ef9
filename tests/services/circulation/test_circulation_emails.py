"""The circulation emails (templates/email/rental_*, hold_*, subscription_*): each one's subject and wording,
word for word, and an HTML part beside the text."""
from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import select

from tests.checkout_helpers import deliver, settle, shopper, start
from webapp.models import OutboundEmail, Rental, utcnow
from webapp.services.circulation import holds, rentals, subscriptions, wallet


def last_email(db, user) -> OutboundEmail:
    return db.session.scalars(select(OutboundEmail).where(OutboundEmail.recipient == user.email)
                              .order_by(OutboundEmail.id.desc())).first()


def check(message: OutboundEmail, subject: str, body: str) -> None:
    assert message.subject == subject
    assert message.body_text.startswith(body + "\n")
    assert message.body_html and subject in message.body_html


@pytest.fixture
def rented(app, db, make_book):
    """A paid 3-day rental of the only copy of “Rentable”, delivered (its loan has started)."""
    book = make_book("Rentable", on_hand=1, price_cents=2000)
    user = shopper("renter")
    order = start(user, [(book, 1, "rent", 3)])
    settle(order, "pi_mail", order.total_cents)
    db.session.commit()
    deliver(order)
    return user, book, db.session.scalars(select(Rental)).one()


def test_rental_reminder_and_overdue_notice(app, db, rented):
    user, _book, rental = rented
    due = rental.due_at
    with time_machine.travel(due - timedelta(days=1), tick=False):
        assert rentals.send_due_reminders() == 1
    check(last_email(db, user), f"“Rentable” is due back on {due:%-d %B}",
          f"Hello {user.display_name},\n\nA friendly reminder: your rental of “Rentable” is due back on "
          f"{due:%A %-d %B %Y}. You can renew it once from your account if nobody is waiting for it. "
          "Late returns cost $0.50 a day.")
    with time_machine.travel(due + timedelta(days=1, hours=1), tick=False):
        assert rentals.send_overdue_notices() == 1
    check(last_email(db, user), "“Rentable” is overdue",
          f"Hello {user.display_name},\n\nYour rental of “Rentable” was due on {due:%-d %B %Y}. The late fee is "
          "$0.50 a day ($1.00 so far) until you send it back. Please return it soon; you can't rent another book "
          "until it's on its way back.")
    overdue = last_email(db, user).body_text
    assert "Post it to:\n  Folio Books: Returns\n  12 Market Street\n" in overdue
    assert "write your order number on the back" in overdue


def test_hold_ready_expired_and_withdrawn(app, db, rented):
    _renter, book, rental = rented
    app.config["HOLD_NO_SHOW_FEE_CENTS"] = 300
    try:
        reader, other = shopper("reader"), shopper("other")
        holds.place(reader, book)
        holds.place(other, book)
        db.session.commit()
        rentals.mark_returned(rental, actor=shopper("clerk"))
        db.session.commit()
        hold = holds.open_hold(reader.id, book.id)
        check(last_email(db, reader), "“Rentable” is waiting for you",
              f"Hello {reader.display_name},\n\nGood news: a copy of “Rentable” is set aside for you until "
              f"{hold.expires_at:%A %-d %B %H:%M} UTC. Add it to your cart (to buy or to rent) and check out "
              "before then; after that it goes to the next reader in the queue.")
        with time_machine.travel(hold.expires_at + timedelta(minutes=1), tick=False):
            assert holds.expire_due() == 1
        check(last_email(db, reader), "Your hold on “Rentable” has expired",
              f"Hello {reader.display_name},\n\nThe copy of “Rentable” we set aside for you was not collected by "
              f"{hold.expires_at:%-d %B %H:%M} UTC, so it has gone to the next reader in the queue. A no-show fee "
              "of $3.00 applies. You can place a new hold from the book's page.")
    finally:
        app.config["HOLD_NO_SHOW_FEE_CENTS"] = 0
    holds.close_for_book(book, actor_id=None)
    db.session.commit()
    check(last_email(db, other), "Your hold on “Rentable” is cancelled",
          f"Hello {other.display_name},\n\nWe are sorry: “Rentable” is no longer sold at Folio, so your hold on "
          "it is cancelled. Nothing was charged.")


def test_hold_expired_without_a_fee_says_nothing_of_one(app, db, rented):
    _renter, book, rental = rented
    reader = shopper("reader")
    holds.place(reader, book)
    db.session.commit()
    rentals.mark_returned(rental, actor=shopper("clerk"))
    db.session.commit()
    hold = holds.open_hold(reader.id, book.id)
    with time_machine.travel(hold.expires_at + timedelta(minutes=1), tick=False):
        assert holds.expire_due() == 1
    check(last_email(db, reader), "Your hold on “Rentable” has expired",
          f"Hello {reader.display_name},\n\nThe copy of “Rentable” we set aside for you was not collected by "
          f"{hold.expires_at:%-d %B %H:%M} UTC, so it has gone to the next reader in the queue. You can place a "
          "new hold from the book's page.")


def test_subscription_renewed_changed_and_lapsed(app, db):
    user = shopper("member")
    wallet.credit(user.id, 1499 + 1499 + 799, "top_up", reference="opening")
    db.session.commit()
    t0 = utcnow()
    with time_machine.travel(t0, tick=False):
        subscriptions.change(user, "premium")
        db.session.commit()
    with time_machine.travel(t0 + timedelta(days=30, hours=1), tick=False):
        assert subscriptions.renew_due()["renewed"] == 1
    check(last_email(db, user), "Your Folio Premium plan is renewed",
          f"Hello {user.display_name},\n\nWe renewed your Premium plan for another 30 days and took $14.99 from "
          "your wallet.")
    with time_machine.travel(t0 + timedelta(days=31), tick=False):
        subscriptions.change(user, "plus")
        db.session.commit()
    changed = t0 + timedelta(days=60)
    with time_machine.travel(changed + timedelta(hours=1), tick=False):
        assert subscriptions.renew_due()["changed"] == 1
    check(last_email(db, user), "Your Folio plan is now Plus",
          f"Hello {user.display_name},\n\nAs you asked, your plan changed from Premium to Plus on "
          f"{changed:%-d %B %Y} and we took $7.99 from your wallet.")
    ended = t0 + timedelta(days=90)
    with time_machine.travel(ended + timedelta(hours=1), tick=False):
        assert subscriptions.renew_due()["lapsed"] == 1
    check(last_email(db, user), "Your Folio Plus plan has ended",
          f"Hello {user.display_name},\n\nYour Plus plan ended on {ended:%-d %B %Y}: your wallet did not hold "
          "$7.99 to renew it, so you are on the Free plan now. Top up your wallet and subscribe again from your "
          "account whenever you like.")


def test_cancelled_plan_changes_to_free_without_a_charge(app, db):
    user = shopper("leaver")
    wallet.credit(user.id, 799, "top_up", reference="opening")
    db.session.commit()
    t0 = utcnow()
    with time_machine.travel(t0, tick=False):
        subscriptions.change(user, "plus")
        subscriptions.change(user, "free")
        db.session.commit()
    with time_machine.travel(t0 + timedelta(days=30, hours=1), tick=False):
        assert subscriptions.renew_due()["changed"] == 1
    check(last_email(db, user), "Your Folio plan is now Free",
          f"Hello {user.display_name},\n\nAs you asked, your plan changed from Plus to Free on "
          f"{t0 + timedelta(days=30):%-d %B %Y}.")


def test_rental_received_on_time_and_late(app, db, rented):
    user, _book, rental = rented
    clerk = shopper("clerk")
    with time_machine.travel(rental.due_at + timedelta(days=2, hours=1), tick=False):
        assert rentals.mark_returned(rental, actor=clerk) == 150  # 3 started days x 50 cents, an empty wallet
    check(last_email(db, user), "We have received “Rentable”",
          f"Hello {user.display_name},\n\nThank you: “Rentable” is back with us and your rental has ended. It came "
          "back late, so the late fee is $1.50. $1.50 of it is still due: you can pay it on your rentals page. "
          "Until it is paid you can't rent another book.")


def test_rental_received_on_time_says_nothing_of_fees(app, db, make_book):
    book = make_book("On Time", on_hand=1)
    user = shopper("punctual")
    order = start(user, [(book, 1, "rent", 3)])
    settle(order, "pi_ontime", order.total_cents)
    db.session.commit()
    deliver(order)
    rental = db.session.scalars(select(Rental).where(Rental.user_id == user.id)).one()
    assert rentals.mark_returned(rental, actor=shopper("clerk")) == 0
    check(last_email(db, user), "We have received “On Time”",
          f"Hello {user.display_name},\n\nThank you: “On Time” is back with us and your rental has ended.")
