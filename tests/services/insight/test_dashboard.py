"""The admin home figures: revenue, orders and averages per period, stock counts, overdue rentals, holds."""
from datetime import timedelta

import time_machine

from tests.checkout_helpers import deliver, settle, shopper, start
from webapp.models import Inventory, Rental, utcnow
from webapp.services.circulation import holds, loans, rentals
from webapp.services.insight import dashboard


def _paid(user, book):
    order = start(user, [(book, 1, "buy", 0)])
    assert settle(order, f"pi_{order.id}", order.card_cents) == "paid"
    return order


def test_periods_count_paid_orders_by_the_day_they_were_paid(app, db, make_book):
    book = make_book("Figures", price_cents=2000, on_hand=50)
    user = shopper()
    now = utcnow().replace(hour=12, minute=0, second=0, microsecond=0)
    for days_ago in (0, 0, 3, 20, 40):  # two today, one this week, one this month, one older
        with time_machine.travel(now - timedelta(days=days_ago), tick=False):
            _paid(user, book)
    start(user, [(book, 1, "buy", 0)])  # unpaid: not revenue
    with time_machine.travel(now, tick=False):
        view = dashboard.overview()
    each = view.periods[0].revenue_cents // 2
    assert each > 0
    figures = {p.key: (p.orders, p.revenue_cents, p.average_cents) for p in view.periods}
    assert figures == {"today": (2, 2 * each, each), "7d": (3, 3 * each, each), "30d": (4, 4 * each, each)}
    assert len(view.days) == 30 and view.days[-1] == now.date()
    assert view.daily_orders[-1] == 2 and view.daily_orders[-4] == 1 and sum(view.daily_orders) == 4
    assert sum(view.daily_revenue_cents) == 4 * each


def test_stock_rentals_and_holds_counts(app, db, make_book):
    make_book("Plenty", on_hand=40)
    make_book("Two Left", on_hand=2)
    make_book("Gone", on_hand=0)
    make_book("Archived And Gone", on_hand=0, active=False)  # not on sale: not counted
    watched = make_book("Watched", on_hand=8)
    db.session.get(Inventory, watched.id).low_stock_threshold = 10
    user = shopper()
    gone = make_book("Held", on_hand=0)
    holds.place(user, gone)
    db.session.commit()
    view = dashboard.overview()
    assert (view.low_stock, view.out_of_stock) == (2, 2)
    assert (view.holds_waiting, view.holds_ready, view.overdue_rentals) == (1, 0, 0)


def test_overdue_rentals_leave_out_books_on_their_way_and_books_sent_back(app, db, make_book):
    """One definition of overdue (rental_status.overdue_clause): the home's figure matches the Overdue list."""
    book = make_book("Rentable", on_hand=3)
    user = shopper("late")
    order = start(user, [(book, 1, "rent", 3)])
    settle(order, "pi_late", order.total_cents)
    db.session.commit()
    rental = db.session.query(Rental).one()
    later = utcnow() + timedelta(days=10)
    assert dashboard.overview(now=later).overdue_rentals == 0  # on its way: the loan has not started
    deliver(order)
    db.session.commit()
    assert dashboard.overview(now=later).overdue_rentals == 1
    assert rentals.admin_list("overdue", now=later).total == 1
    loans.mark_sent_back(rental, user, now=utcnow() + timedelta(days=5))
    db.session.commit()
    assert dashboard.overview(now=later).overdue_rentals == 0
    assert rentals.admin_list("overdue", now=later).total == 0
