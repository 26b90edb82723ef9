"""Customers' dates on waiting holds (services.circulation.hold_dates), through time: a suspended hold keeps its
place but is skipped when copies are set aside, and is served after it resumes (by the customer, or by itself at
its date); a hold past its "not needed after" day closes itself (cancelled, audited, emailed)."""
from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import inspect, select
from sqlalchemy.orm.attributes import set_committed_value

from jobs.membership import hold_dates as hold_dates_job
from tests.checkout_helpers import shopper
from webapp.models import AuditLog, Hold, Inventory, OutboundEmail, utcnow
from webapp.services.circulation import hold_dates, holds
from webapp.services.circulation.holds import HoldError
from webapp.services.inventory import stock
from webapp.services.platform.errors import RuleError

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)  # a Monday morning


@pytest.fixture
def queue(app, db, make_book):
    """A sold-out book with two Free readers: first (number 1) and second (number 2)."""
    book = make_book("Paused Book", on_hand=0)
    first, second = shopper("first"), shopper("second")
    with time_machine.travel(T0, tick=False):
        holds.place(first, book)
        db.session.commit()
    with time_machine.travel(T0 + timedelta(minutes=5), tick=False):
        holds.place(second, book)
        db.session.commit()
    return book, first, second


def hold_of(db, user, book):
    """The user's latest hold on the book, read afresh (ids only: a job hands the test's objects back)."""
    db.session.expire_all()
    user_id, book_id = inspect(user).identity[0], inspect(book).identity[0]
    return db.session.scalar(select(Hold).where(Hold.user_id == user_id, Hold.book_id == book_id)
                             .order_by(Hold.id.desc()))


def copy_back(db, book):
    stock.adjust(inspect(book).identity[0], 1, "restock")
    db.session.commit()


def test_a_suspended_hold_keeps_its_place_but_is_skipped(app, db, queue):
    book, first, second = queue
    with time_machine.travel(T0 + timedelta(hours=1), tick=False):
        hold_dates.suspend(hold_of(db, first, book), first, None)
        db.session.commit()
        hold = hold_of(db, first, book)
        assert hold.is_suspended and hold.suspended_until is None
        assert holds.position(hold) == 1 and holds.position(hold_of(db, second, book)) == 2  # keeps its place
        copy_back(db, book)
    assert hold_of(db, first, book).status == "waiting"
    assert hold_of(db, second, book).status == "ready"  # the copy went past the paused hold
    assert db.session.scalars(select(AuditLog.action).where(AuditLog.object_id == str(hold.id))
                              .order_by(AuditLog.id)).all()[-1] == "hold.suspended"  # PostgreSQL: no order unasked


def test_resuming_serves_a_free_copy_at_once(app, db, queue):
    book, first, second = queue
    with time_machine.travel(T0 + timedelta(hours=1), tick=False):
        hold_dates.suspend(hold_of(db, first, book), first, None)
        db.session.commit()
        holds.cancel(hold_of(db, second, book), second)  # nobody else waits: a returned copy goes on the shelf
        db.session.commit()
        copy_back(db, book)
        assert stock.state(book.id).available == 1 and hold_of(db, first, book).status == "waiting"
        hold_dates.resume(hold_of(db, first, book), first)
        db.session.commit()
    hold = hold_of(db, first, book)
    assert hold.status == "ready" and not hold.is_suspended
    inv = db.session.get(Inventory, book.id)
    assert (inv.on_hand, inv.reserved) == (1, 1)
    with pytest.raises(HoldError, match="already set aside"):
        hold_dates.suspend(hold, first, None)


def test_a_paused_hold_resumes_by_itself_on_its_date_and_is_served(app, db, queue):
    book, first, second = queue
    first_email = first.email
    with time_machine.travel(T0 + timedelta(hours=1), tick=False):
        hold_dates.suspend(hold_of(db, first, book), first, date(2026, 3, 5))
        db.session.commit()
        assert hold_of(db, first, book).suspended_until == datetime(2026, 3, 5, tzinfo=UTC)
        copy_back(db, book)  # goes to second
    assert hold_of(db, second, book).status == "ready"
    with time_machine.travel(datetime(2026, 3, 4, 12, tzinfo=UTC), tick=False):
        copy_back(db, book)  # first is still paused: this copy waits on the shelf
        assert hold_dates_job() == {"resumed": 0, "closed": 0}
    assert hold_of(db, first, book).status == "waiting" and stock.state(inspect(book).identity[0]).available == 1
    with time_machine.travel(datetime(2026, 3, 5, 0, 4, tzinfo=UTC), tick=False):
        assert hold_dates_job() == {"resumed": 1, "closed": 0}
    hold = hold_of(db, first, book)
    assert hold.status == "ready" and not hold.is_suspended and hold.ready_at == datetime(2026, 3, 5, 0, 4, tzinfo=UTC)
    entry = db.session.scalars(select(AuditLog).where(AuditLog.action == "hold.resumed")).one()
    assert entry.actor_id is None and "by itself" in entry.note
    assert db.session.scalar(select(OutboundEmail.subject).where(OutboundEmail.recipient == first_email)) \
        == "“Paused Book” is waiting for you"


def test_pause_dates_are_validated(app, db, queue):
    book, first, _second = queue
    hold = hold_of(db, first, book)
    with time_machine.travel(T0, tick=False):
        for bad, message in [(date(2026, 3, 2), "after today"), (date(2026, 3, 1), "after today"),
                             (date(2026, 8, 30), "at most 180 days ahead")]:
            with pytest.raises(RuleError, match=message) as caught:
                hold_dates.suspend(hold, first, bad)
            assert list(caught.value.errors) == ["suspended_until"]
        hold_dates.suspend(hold, first, date(2026, 8, 29))  # 180 days: the last allowed
        hold_dates.suspend(hold, first, date(2026, 3, 3))  # a paused hold's date can change
        db.session.commit()
        assert hold_of(db, first, book).suspended_until.date() == date(2026, 3, 3)
        with pytest.raises(RuleError, match="paused until 3 March 2026"):
            hold_dates.set_not_needed_after(hold, first, date(2026, 3, 2))
        hold_dates.resume(hold, first)
        with pytest.raises(HoldError, match="not paused"):
            hold_dates.resume(hold, first)
        hold_dates.set_not_needed_after(hold, first, date(2026, 3, 10))
        with pytest.raises(RuleError, match="do not need it after 10 March 2026"):
            hold_dates.suspend(hold, first, date(2026, 3, 11))
        with pytest.raises(RuleError, match="today or a later date"):
            hold_dates.set_not_needed_after(hold, first, date(2026, 3, 1))
        with pytest.raises(RuleError, match="at most 365 days"):
            hold_dates.set_not_needed_after(hold, first, date(2027, 3, 3))
        hold_dates.set_not_needed_after(hold, first, None)
        db.session.commit()
    assert hold_of(db, first, book).not_needed_after is None
    other = shopper("other")
    with pytest.raises(PermissionError):
        hold_dates.suspend(hold, other, None)


def test_not_needed_after_closes_the_hold_by_itself(app, db, queue):
    book, first, second = queue
    first_email = first.email
    with time_machine.travel(T0, tick=False):
        hold_dates.set_not_needed_after(hold_of(db, first, book), first, date(2026, 3, 4))
        db.session.commit()
    with time_machine.travel(datetime(2026, 3, 4, 23, 50, tzinfo=UTC), tick=False):
        assert hold_dates_job() == {"resumed": 0, "closed": 0}  # the whole day is still wanted
    with time_machine.travel(datetime(2026, 3, 5, 0, 1, tzinfo=UTC), tick=False):
        copy_back(db, book)  # before the job runs: the copy skips the expired hold anyway
        assert hold_of(db, second, book).status == "ready"
        assert hold_dates_job() == {"resumed": 0, "closed": 1}
    hold = hold_of(db, first, book)
    assert hold.status == "cancelled" and hold.closed_at == datetime(2026, 3, 5, 0, 1, tzinfo=UTC)
    entry = db.session.scalars(select(AuditLog).where(AuditLog.action == "hold.cancelled",
                                                      AuditLog.object_id == str(hold.id))).one()
    assert entry.actor_id is None and entry.after["reason"] == "Not needed after 2026-03-04 (the customer's date)."
    email = db.session.scalars(select(OutboundEmail).where(OutboundEmail.recipient == first_email)).one()
    assert email.subject == "Your hold on “Paused Book” has ended"
    assert "would not need “Paused Book” after 4 March 2026" in email.body_text
    with time_machine.travel(datetime(2026, 3, 6, tzinfo=UTC), tick=False):
        assert hold_dates_job() == {"resumed": 0, "closed": 0}  # once


def test_a_copy_set_aside_meanwhile_wins_over_a_pause(app, db, queue):
    book, first, _second = queue
    hold = hold_of(db, first, book)  # the customer opened the form while waiting ...
    copy_back(db, book)  # ... and a copy was set aside before they pressed "Pause"
    set_committed_value(hold, "status", "waiting")  # what the request loaded before that
    with pytest.raises(HoldError, match="just been set aside"):
        hold_dates.suspend(hold, first, None)
    db.session.rollback()
    assert hold_of(db, first, book).status == "ready" and not hold_of(db, first, book).is_suspended


def test_limits_follow_the_settings(app, db):
    with time_machine.travel(T0, tick=False):
        bounds = hold_dates.limits(utcnow())
    assert (bounds.until_min, bounds.until_max) == (date(2026, 3, 3), date(2026, 8, 29))
    assert (bounds.after_min, bounds.after_max) == (date(2026, 3, 2), date(2027, 3, 2))
