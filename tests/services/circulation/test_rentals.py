import re
from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import func, select

from tests.checkout_helpers import deliver, settle, shopper, start
from webapp.models import Inventory, Rental, StockMovement
from webapp.models.orders import RENTAL_TRANSITIONS, RentalStatus
from webapp.services.circulation import rental_status, rentals, wallet
from webapp.services.commerce.checkout import CheckoutError


@pytest.fixture
def rented(app, db, make_book, run_jobs):
    """A paid 3-day rental of one copy (3 on hand before), delivered: its loan runs from the delivery."""
    book = make_book("Rentable", on_hand=3, price_cents=2000)
    user = shopper("renter")
    order = start(user, [(book, 1, "rent", 3)])
    settle(order, "pi_r", order.total_cents)
    db.session.commit()
    rental = db.session.scalars(select(Rental)).one()
    assert (rental.starts_at, rental.due_at) == (None, None)  # paid, on its way: the loan has not started
    deliver(order)
    db.session.refresh(rental)
    assert rental.starts_at == order.delivered_at and rental.due_at == order.delivered_at + timedelta(days=3)
    return user, book, rental


def test_return_restores_stock_through_the_ledger(app, db, rented):
    user, book, rental = rented
    admin = shopper("clerk")
    assert db.session.get(Inventory, book.id).on_hand == 2
    assert rentals.mark_returned(rental, actor=admin) == 0
    db.session.commit()
    db.session.expire_all()
    assert db.session.get(Inventory, book.id).on_hand == 3
    moves = db.session.scalars(select(StockMovement.reason).where(StockMovement.book_id == book.id)
                               .order_by(StockMovement.id)).all()
    assert moves == ["initial", "reserve", "rental_out", "return"]
    with pytest.raises(rentals.RentalError):
        rentals.mark_returned(db.session.get(Rental, rental.id), actor=admin)  # only once


def test_late_return_charges_the_wallet_then_records_the_rest(app, db, rented):
    user, book, rental = rented
    admin = shopper("clerk")
    wallet.credit(user.id, 100, "top_up", reference="t1")
    db.session.commit()
    with time_machine.travel(rental.due_at + timedelta(days=3, hours=2), tick=False):
        assert rentals.overdue_days(rental) == 4
        assert rentals.accrued_fee_cents(rental) == 200
        assert rentals.rental_block_reason(user) == "Please return your overdue rental before renting another book."
        fee = rentals.mark_returned(rental, actor=admin)
        db.session.commit()
    assert fee == 200
    rental = db.session.get(Rental, rental.id)
    assert (rental.fee_cents, rental.fee_paid_cents, rental.fee_due_cents) == (200, 100, 100)
    assert wallet.balance(user.id) == 0
    assert "settle your late fees ($1.00)" in rentals.rental_block_reason(user)


def test_renew_once_and_not_when_overdue(app, db, rented):
    user, _book, rental = rented
    due = rental.due_at
    rentals.renew(rental, user)
    db.session.commit()
    assert rental.due_at == due + timedelta(days=3) and rental.renewed
    with pytest.raises(rentals.RentalError, match="once"):
        rentals.renew(rental, user)
    with pytest.raises(PermissionError):
        rentals.renew(rental, shopper("other"))


def test_overdue_customers_cannot_check_out_a_rental(app, db, rented, make_book):
    user, _book, rental = rented
    other = make_book("Another", on_hand=2)
    with time_machine.travel(rental.due_at + timedelta(days=1), tick=False):
        with pytest.raises(CheckoutError, match="overdue"):
            start(user, [(other, 1, "rent", 1)])
        db.session.rollback()
        assert start(user, [(other, 1, "buy", 1)]).status == "pending_payment"  # buying is fine


def test_admin_lists(app, db, rented):
    _user, _book, rental = rented
    assert rentals.admin_list("active").total == 1
    assert rentals.admin_list("overdue").total == 0
    with time_machine.travel(rental.due_at - timedelta(days=1), tick=False):
        assert rentals.admin_list("due_soon").total == 1
    with time_machine.travel(rental.due_at + timedelta(days=1), tick=False):
        assert rentals.admin_list("overdue").total == 1
    assert db.session.scalar(select(func.count()).select_from(Rental)) == 1


def test_reminder_and_overdue_notice_are_sent_once_each(app, db, rented, runner):
    from webapp.models import OutboundEmail

    _user, _book, rental = rented
    with time_machine.travel(rental.due_at - timedelta(days=3), tick=False):
        assert rentals.send_due_reminders() == 0  # not yet
    with time_machine.travel(rental.due_at - timedelta(days=1), tick=False):
        assert rentals.send_due_reminders() == 1
        assert rentals.send_due_reminders() == 0  # running twice sends one email
    with time_machine.travel(rental.due_at + timedelta(days=2, hours=1), tick=False):
        result = runner.invoke(args=["jobs", "run", "rental-reminders"])
        assert result.exit_code == 0 and "'overdue_notices': 1" in result.output
        assert runner.invoke(args=["jobs", "run", "rental-reminders"]).output.count("'overdue_notices': 0") == 1
    subjects = db.session.scalars(select(OutboundEmail.subject).order_by(OutboundEmail.id)).all()
    reminders = [s for s in subjects if "due back" in s]
    overdue = [s for s in subjects if "overdue" in s]
    assert len(reminders) == 1 and len(overdue) == 1
    body = db.session.scalars(select(OutboundEmail.body_text).where(OutboundEmail.subject.contains("overdue"))).one()
    assert "$1.50 so far" in body  # 3 started days at $0.50


def test_every_scheduled_job_can_be_run_by_name(runner):
    import re
    from pathlib import Path

    from webapp.cli import SCHEDULED_JOBS

    cron = (Path(__file__).resolve().parents[3] / "webapp" / "schedule.py").read_text()
    assert sorted(re.findall(r'[^_]name="([a-z-]+)"', cron)) == sorted(SCHEDULED_JOBS)  # every cron job runs by name
    for name in SCHEDULED_JOBS:
        result = runner.invoke(args=["jobs", "run", name])
        assert result.exit_code == 0, (name, result.output)


def test_a_move_the_transition_table_forbids_is_refused_and_changes_nothing(app, db, rented):
    _user, _book, rental = rented
    rentals.mark_returned(rental, actor=shopper("clerk"))
    db.session.commit()
    before = (rental.status, rental.returned_at, rental.fee_cents)
    assert RentalStatus.ACTIVE not in RENTAL_TRANSITIONS[RentalStatus.RETURNED]
    with pytest.raises(ValueError, match="cannot go from returned to active"):
        rental_status.move(Rental.id == rental.id, RentalStatus.RETURNED, RentalStatus.ACTIVE)
    db.session.rollback()
    db.session.expire_all()
    again = db.session.get(Rental, rental.id)
    assert (again.status, again.returned_at, again.fee_cents) == before == ("returned", before[1], 0)


def test_the_rental_statuses_are_the_ones_the_database_allows(app):
    check = next(c for c in Rental.__table__.constraints if getattr(c, "name", "").endswith("status_valid"))
    assert set(re.findall(r"'([a-z_]+)'", str(check.sqltext))) == set(RentalStatus) == set(RENTAL_TRANSITIONS)
    assert all(moves <= set(RentalStatus) for moves in RENTAL_TRANSITIONS.values())


def test_an_order_called_off_ends_its_rentals_without_a_fee(app, db, rented):
    _user, _book, rental = rented
    assert rentals.end_for_order(rental.order_id) == 1
    assert rentals.end_for_order(rental.order_id) == 0  # once
    db.session.commit()
    db.session.refresh(rental)
    assert rental.is_returned and rental.returned_at is not None and rental.fee_cents == 0
