"""The sales rollups: full, incremental and idempotent refreshes, following new payments, cancellations and
refunds (derived genre days and all-time totals included)."""
from datetime import date

from sqlalchemy import select

from tests.services.insight.march_shop import paid
from webapp.models import (
    Order,
    SalesAuthorTotal,
    SalesBookTotal,
    SalesDaily,
    SalesDailyGenre,
    SalesDailyTotal,
)
from webapp.services.commerce import orders
from webapp.services.insight import rollups


def test_orders_total_as_expected(rolled, db):
    o1, o2, o3, o4 = rolled["orders"]
    rent = rolled["rent"]
    assert rent > 0
    assert (o1.total_cents, o2.total_cents, o4.total_cents) == (5000, rent + 1000 + 499, rent + 199)  # o4: rentals only
    db.session.refresh(o3)
    assert (o3.status, o3.total_cents) == ("refunded", 2499)


def test_rollup_refresh_is_idempotent_and_follows_new_payments_and_refunds(shop, db, make_book):
    def snapshot():
        db.session.expire_all()
        return (sorted(db.session.execute(select(SalesDaily.day, SalesDaily.book_id, SalesDaily.units_sold,
                                                 SalesDaily.units_rented, SalesDaily.revenue_cents)).all()),
                sorted(db.session.execute(select(SalesDailyTotal.day, SalesDailyTotal.orders,
                                                 SalesDailyTotal.revenue_cents, SalesDailyTotal.cancelled_orders)).all()))

    def derived():  # genre days and all-time totals (rows whose sales went away stay, at zero)
        db.session.expire_all()
        return (sorted(db.session.execute(select(SalesDailyGenre.day, SalesDailyGenre.genre_id,
                                                 SalesDailyGenre.units_sold, SalesDailyGenre.revenue_cents)).all()),
                sorted(db.session.execute(select(SalesBookTotal.book_id, SalesBookTotal.units,
                                                 SalesBookTotal.revenue_cents).where(SalesBookTotal.units > 0)).all()),
                sorted(db.session.execute(select(SalesAuthorTotal.author_id, SalesAuthorTotal.units,
                                                 SalesAuthorTotal.revenue_cents)
                                          .where(SalesAuthorTotal.units > 0)).all()))

    assert rollups.rollup_state() is None
    first = rollups.refresh_rollups()  # no state yet: a full build
    assert first["mode"] == "full" and first["days"] == 4
    built = snapshot()
    assert rollups.refresh_rollups()["mode"] == "incremental"
    assert snapshot() == built
    assert rollups.refresh_rollups(full=True) == first and snapshot() == built

    a = shop["books"][0]
    new = paid(shop["users"]["wanda"], [(a, 1, "buy", 0)])  # paid now, after the last refresh
    today = new.paid_at.date()
    assert rollups.refresh_rollups() == {"mode": "incremental", "days": 1}
    rows, totals = snapshot()
    assert (today, a.id, 1, 0, 1500) in rows
    assert (today, 1, new.total_cents, 0) in totals
    again = snapshot()
    rollups.refresh_rollups()
    assert snapshot() == again

    # Cancelling the 2 March order (refund to the wallet) moves it out of that day's revenue.
    o1 = db.session.get(Order, shop["orders"][0].id)
    orders.cancel(o1, actor=shop["users"]["ursula"], refund_to="wallet")
    db.session.commit()
    rollups.refresh_rollups()
    db.session.expire_all()
    march2 = db.session.get(SalesDailyTotal, date(2026, 3, 2))
    assert (march2.orders, march2.revenue_cents, march2.cancelled_orders, march2.cancelled_cents) == (0, 0, 1, 5000)
    assert db.session.scalars(select(SalesDaily).where(SalesDaily.day == date(2026, 3, 2))).all() == []
    # The incremental path kept the genre days and all-time totals as a full rebuild computes them.
    incremental = derived()
    a_total = db.session.get(SalesBookTotal, a.id)
    assert (a_total.units, a_total.revenue_cents) == (3, 1500 + 2 * shop["rent"])  # 2 bought on 2 March: gone
    rollups.refresh_rollups(full=True)
    assert derived() == incremental
    assert rollups.rollup_state().refreshed_at is not None
