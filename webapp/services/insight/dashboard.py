"""The admin home: the shop at a glance. A handful of indexed aggregate queries, no loops over rows.

Revenue is counted as in the reports (services.insight.rollups): orders paid and not cancelled or refunded since
(PAID_STATUSES), on the UTC day they were paid, at their total less any partial refund. Integer cents.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, select

from ...extensions import db
from ...models import PAID_STATUSES, Hold, Order, Rental, utcnow
from ...models.membership import HoldStatus
from ..circulation import rental_status
from ..commerce import payment_issues
from ..inventory import alerts
from .sql import utc_day


@dataclass(frozen=True)
class Period:
    key: str  # "today", "7d", "30d"
    label: str
    since: datetime
    revenue_cents: int
    orders: int

    @property
    def average_cents(self) -> int:
        return self.revenue_cents // self.orders if self.orders else 0


@dataclass(frozen=True)
class Overview:
    periods: list[Period]
    low_stock: int
    out_of_stock: int
    overdue_rentals: int
    holds_waiting: int
    holds_ready: int
    payment_issues: int  # payments the shop could not settle by itself (services.commerce.payment_issues)
    days: list[date]
    daily_revenue_cents: list[int]
    daily_orders: list[int]
    generated_at: datetime


def overview(now: datetime | None = None) -> Overview:
    now = now or utcnow()
    today = datetime(now.year, now.month, now.day, tzinfo=now.tzinfo)
    since = today - timedelta(days=29)
    days, revenue, orders = _daily(since, now)
    periods = []
    for key, label, first in (("today", "Today", 29), ("7d", "Last 7 days", 23), ("30d", "Last 30 days", 0)):
        # adding up at most 30 daily figures already aggregated by the database
        periods.append(Period(key, label, today - timedelta(days=29 - first), sum(revenue[first:]),
                              sum(orders[first:])))
    low, out = alerts.stock_counts()  # the same definition as the home's list (alerts.at_or_below)
    # one definition of overdue (not sent back), as the Overdue rentals list it links to
    overdue = db.session.scalar(select(func.count()).select_from(Rental).where(rental_status.overdue_clause(now))) or 0
    holds = dict(db.session.execute(select(Hold.status, func.count()).where(Hold.status.in_((HoldStatus.WAITING, HoldStatus.READY)))
                                    .group_by(Hold.status)).all())
    return Overview(periods=periods, low_stock=low, out_of_stock=out, overdue_rentals=overdue,
                    holds_waiting=holds.get(HoldStatus.WAITING, 0), holds_ready=holds.get(HoldStatus.READY, 0),
                    payment_issues=payment_issues.open_count(),
                    days=days, daily_revenue_cents=revenue, daily_orders=orders, generated_at=now)


def _daily(since: datetime, now: datetime) -> tuple[list[date], list[int], list[int]]:
    """Net revenue (total less refunds) and paid orders per UTC day since `since`, zero-filled. One query,
    read from the covering index ix_orders_paid_at (paid_at, status, total_cents, refunded_cents)."""
    day = utc_day(Order.paid_at)  # the UTC day whatever the database session's time zone
    rows = db.session.execute(
        select(day, func.sum(Order.total_cents - Order.refunded_cents), func.count())
        .where(Order.paid_at >= since, Order.status.in_(PAID_STATUSES)).group_by(day)).all()
    found = {(d if isinstance(d, date) else date.fromisoformat(str(d))): (int(r), int(n)) for d, r, n in rows}
    days = [since.date() + timedelta(days=i) for i in range((now.date() - since.date()).days + 1)]
    return days, [found.get(d, (0, 0))[0] for d in days], [found.get(d, (0, 0))[1] for d in days]
