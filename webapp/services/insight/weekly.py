"""The weekly summary email: on Mondays (jobs/cron.py), last week's sales, best sellers, stock, rentals and holds
to every active admin, once per admin and week. The figures are the reports' own; the wording is the template
webapp/templates/email/weekly_summary.txt.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import TypedDict

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ...extensions import db
from ...models import User, WeeklySummarySend, utcnow
from ..platform import mail
from .periods import Period
from .rollups import REVENUE_DEFINITION, Freshness, freshness, refresh_rollups
from .sales_figures import BookSales, SalesTotals, best_sellers, sales_over_time
from .stock_and_rentals import HoldFigures, MostHeld, RentalFigures, StockSummary, inventory_status, rentals_and_holds


class WeeklyFigures(TypedDict):
    week: dict[str, str]
    sales: SalesTotals
    previous: SalesTotals  # the week before, to compare with
    best: list[BookSales]
    inventory: StockSummary
    rentals: RentalFigures
    holds: HoldFigures
    most_held: list[MostHeld]
    freshness: Freshness


class WeeklySent(TypedDict):
    week: str
    sent: int
    already: int  # admins who had this week's summary before this run


def week_summarised(today: date) -> date:
    """The Monday of the last complete week (Monday to Sunday, UTC) before `today`."""
    this_monday = today - timedelta(days=today.weekday())
    return this_monday - timedelta(days=7)


def weekly_figures(week_start: date) -> WeeklyFigures:
    week = Period(week_start, week_start + timedelta(days=6))
    before = Period(week_start - timedelta(days=7), week_start - timedelta(days=1))
    this, last = sales_over_time(week, "week")["totals"], sales_over_time(before, "week")["totals"]
    inventory = inventory_status(limit=5)["summary"]
    rentals = rentals_and_holds(week, limit=5)
    return {"week": week.as_params(), "sales": this, "previous": last, "best": best_sellers(week, 5),
            "inventory": inventory, "rentals": rentals["rentals"], "holds": rentals["holds"],
            "most_held": rentals["most_held"], "freshness": freshness()}


def change(now: int, before: int) -> str:
    """A figure against the week before, as the email words it."""
    if not before:
        return "no sales the week before" if now else "no change"
    pct = (now - before) * 100 / before
    return f"{'+' if pct >= 0 else ''}{pct:.0f}% on the week before"


def send_weekly_summary(now: datetime | None = None) -> WeeklySent:
    """Email the last complete week's summary to every active admin, once per admin and week (a second run in
    the same week sends nothing; an admin added since gets theirs). Commits."""
    now = now or utcnow()
    refresh_rollups()
    week_start = week_summarised(now.date())
    admins = db.session.scalars(select(User).where(User.role == "admin", User.is_active_account.is_(True),
                                                   User.deleted_at.is_(None)).order_by(User.id)).all()
    already = set(db.session.scalars(select(WeeklySummarySend.user_id)
                                     .where(WeeklySummarySend.week_start == week_start)))
    todo = [a for a in admins if a.id not in already]
    if not todo:
        return {"week": week_start.isoformat(), "sent": 0, "already": len(already)}
    figures = weekly_figures(week_start)
    sent = 0
    for admin in todo:
        try:
            with db.session.begin_nested():
                record = WeeklySummarySend(week_start=week_start, user_id=admin.id, sent_at=now)
                db.session.add(record)
                db.session.flush()  # the primary key claims (week, admin): a concurrent run stops here
        except IntegrityError:
            continue
        record.email_id = mail.send_template(admin.email, "weekly_summary", name=admin.display_name,
                                             week_start=week_start, f=figures, change=change,
                                             revenue_definition=REVENUE_DEFINITION).id
        sent += 1
    db.session.commit()
    return {"week": week_start.isoformat(), "sent": sent, "already": len(already)}
