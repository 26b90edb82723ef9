"""Reports: exact figures from a small shop built through the real checkout, the rollups (full, incremental,
idempotent), the CSV each report stores, and the weekly summary (one email per admin and week)."""
from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import select, update

from tests.checkout_helpers import settle, shopper, start
from webapp.models import (
    BackgroundTask,
    Book,
    Hold,
    Inventory,
    Order,
    OrderLine,
    OutboundEmail,
    Rental,
    SalesAuthorTotal,
    SalesBookTotal,
    SalesDaily,
    SalesDailyGenre,
    SalesDailyTotal,
    WeeklySummarySend,
)
from webapp.services.circulation import rentals
from webapp.services.commerce import orders
from webapp.services.insight import reports
from webapp.services.people import accounts
from webapp.services.platform import background

MARCH = reports.Period(date(2026, 3, 1), date(2026, 3, 31))


def at(*args):
    return time_machine.travel(datetime(*args, tzinfo=UTC), tick=False)


def paid(user, lines):
    order = start(user, lines)
    settle(order, f"pi_{order.number}", order.card_cents)
    from webapp.extensions import db

    db.session.commit()
    db.session.refresh(order)
    return order


@pytest.fixture
def shop(app, db, make_book):
    """Six books, four paid orders in March 2026 (one later cancelled and refunded), two rentals (one returned
    late, one overdue), holds on an out-of-stock book."""
    a = make_book("Alpha", authors=("Ann Author",), genres=("Fiction",), price_cents=1500, on_hand=10)
    b = make_book("Beta", authors=("Bob Writer", "Ann Author"), genres=("Crime", "Fiction"), price_cents=2000,
                  on_hand=6)
    c = make_book("Gamma", authors=("Cy Poet",), genres=("Poetry",), price_cents=1000, on_hand=2)
    d = make_book("Delta", authors=("Cy Poet",), genres=("Crime",), price_cents=1200, on_hand=0)
    e = make_book("Epsilon", authors=("Eve Quiet",), genres=("Poetry",), price_cents=800, on_hand=4)
    f = make_book("Zeta", authors=("Ann Author",), genres=("Fiction",), price_cents=900, on_hand=3, active=False)
    for n, (book, cost) in enumerate([(a, 900), (b, 1000), (c, None), (d, 700), (e, 500), (f, 100)]):
        db.session.execute(update(Book).where(Book.id == book.id).values(
            cost_cents=cost, created_at=datetime(2025, 1, 1 + n, tzinfo=UTC)))
    db.session.execute(update(Inventory).where(Inventory.book_id == e.id).values(low_stock_threshold=5))
    db.session.commit()
    users = {name: shopper(name) for name in ("ursula", "victor", "wanda", "xavier")}
    with at(2026, 3, 2, 10):
        o1 = paid(users["ursula"], [(a, 2, "buy", 0), (b, 1, "buy", 0)])
    with at(2026, 3, 4, 15):
        o2 = paid(users["victor"], [(a, 1, "rent", 3), (c, 1, "buy", 0)])
    with at(2026, 3, 6, 10):
        o4 = paid(users["xavier"], [(a, 1, "rent", 3)])
    with at(2026, 3, 16, 9):
        o3 = paid(users["wanda"], [(b, 1, "buy", 0)])
        orders.cancel(o3, actor=users["wanda"], refund_to="wallet")
        db.session.commit()
    with at(2026, 3, 10, 15):  # three days late: 150 cents, nothing in the wallet to pay it with
        rental = db.session.scalar(select(Rental).where(Rental.order_id == o2.id))
        rentals.mark_returned(rental, actor=users["wanda"])
        db.session.commit()
    start(users["ursula"], [(e, 1, "buy", 0)])  # never paid: not a sale
    for n, user in enumerate(("victor", "wanda", "xavier")):
        db.session.add(Hold(user_id=users[user].id, book_id=d.id, status="waiting", priority=2,
                            queued_at=datetime(2026, 3, 10 + n, tzinfo=UTC)))
    db.session.add(Hold(user_id=users["ursula"].id, book_id=b.id, status="waiting", priority=2,
                        queued_at=datetime(2026, 3, 12, tzinfo=UTC)))
    db.session.commit()
    rent = db.session.scalar(select(OrderLine.line_cents).where(OrderLine.order_id == o4.id))
    return {"books": (a, b, c, d, e, f), "orders": (o1, o2, o3, o4), "rent": rent, "users": users}


@pytest.fixture
def rolled(shop):
    reports.refresh_rollups(full=True)
    return shop


def test_orders_total_as_expected(rolled, db):
    o1, o2, o3, o4 = rolled["orders"]
    rent = rolled["rent"]
    assert rent > 0
    assert (o1.total_cents, o2.total_cents, o4.total_cents) == (5000, rent + 1000 + 499, rent + 499)
    db.session.refresh(o3)
    assert (o3.status, o3.total_cents) == ("refunded", 2499)


def test_sales_over_time_daily_weekly_monthly(rolled):
    rent = rolled["rent"]
    day = reports.sales_over_time(MARCH, "day")
    assert len(day["series"]) == 31
    by_day = {p["bucket"]: p for p in day["series"]}
    assert by_day["2026-03-02"] == {"bucket": "2026-03-02", "orders": 1, "revenue_cents": 5000, "aov_cents": 5000,
                                    "units": 3, "cancelled_orders": 0, "cancelled_cents": 0}
    assert (by_day["2026-03-04"]["orders"], by_day["2026-03-04"]["revenue_cents"]) == (1, rent + 1499)
    assert (by_day["2026-03-16"]["orders"], by_day["2026-03-16"]["cancelled_orders"],
            by_day["2026-03-16"]["cancelled_cents"]) == (0, 1, 2499)
    assert by_day["2026-03-03"]["orders"] == 0
    revenue = 5000 + (rent + 1499) + (rent + 499)
    assert day["totals"] == {"orders": 3, "revenue_cents": revenue, "aov_cents": round(revenue / 3), "units": 6,
                             "cancelled_orders": 1, "cancelled_cents": 2499}
    week = reports.sales_over_time(MARCH, "week")
    assert [p["bucket"] for p in week["series"]] == ["2026-02-23", "2026-03-02", "2026-03-09", "2026-03-16",
                                                     "2026-03-23", "2026-03-30"]
    assert [p["orders"] for p in week["series"]] == [0, 3, 0, 0, 0, 0]
    assert week["series"][1]["revenue_cents"] == revenue
    month = reports.sales_over_time(reports.Period(date(2026, 2, 1), date(2026, 4, 30)), "month")
    assert [(p["bucket"], p["orders"], p["revenue_cents"]) for p in month["series"]] == [
        ("2026-02", 0, 0), ("2026-03", 3, revenue), ("2026-04", 0, 0)]
    assert reports.sales_over_time(reports.Period(date(2026, 3, 7), date(2026, 3, 8)))["totals"]["orders"] == 0


def test_best_and_least_sold_include_books_never_sold(rolled):
    a, b, c, d, e, f = rolled["books"]
    rent = rolled["rent"]
    best = reports.best_sellers(MARCH, 10)
    assert [(x["title"], x["units_sold"], x["units_rented"], x["revenue_cents"]) for x in best] == [
        ("Alpha", 2, 2, 3000 + 2 * rent), ("Beta", 1, 0, 2000), ("Gamma", 1, 0, 1000)]
    assert best[0]["authors"] == "Ann Author" and best[1]["authors"] == "Bob Writer, Ann Author"
    least = reports.least_sold(MARCH, 10)
    # In stock and active: Epsilon never sold (first); then fewest units, longest in the catalog first.
    # Delta has no copies and Zeta is inactive: neither is listed.
    assert [(x["title"], x["units_sold"] + x["units_rented"], x["on_hand"]) for x in least] == [
        ("Epsilon", 0, 4), ("Beta", 1, 5), ("Gamma", 1, 1), ("Alpha", 4, 7)]
    assert least[0]["in_catalog_since"] == "2025-01-05"
    assert [x["title"] for x in reports.least_sold(MARCH, 2)] == ["Epsilon", "Beta"]
    # A period without sales: every in-stock active book has zero, oldest first.
    quiet = reports.Period(date(2026, 4, 1), date(2026, 4, 30))
    assert [x["title"] for x in reports.least_sold(quiet, 10)] == ["Alpha", "Beta", "Gamma", "Epsilon"]
    assert reports.best_sellers(quiet, 10) == []


def test_sales_by_genre_and_author(rolled):
    rent = rolled["rent"]
    genres = reports.genre_sales(MARCH)
    assert [(g["genre"], g["units_sold"], g["units_rented"], g["revenue_cents"]) for g in genres] == [
        ("Fiction", 3, 2, 5000 + 2 * rent), ("Crime", 1, 0, 2000), ("Poetry", 1, 0, 1000)]
    authors = reports.author_sales(MARCH, 10)
    assert [(x["author"], x["units_sold"], x["units_rented"], x["revenue_cents"], x["titles_sold"])
            for x in authors] == [("Ann Author", 3, 2, 5000 + 2 * rent, 2), ("Bob Writer", 1, 0, 2000, 1),
                                  ("Cy Poet", 1, 0, 1000, 1)]
    assert [x["author"] for x in reports.author_sales(MARCH, 1)] == ["Ann Author"]


def test_inventory_status(rolled, db):
    data = reports.inventory_status(10, today=date(2026, 3, 31))
    s = data["summary"]
    # Active: Alpha 7 on hand (10 - 2 sold - 2 rented + 1 returned), Beta 5 (6 - 1; the refunded copy came back),
    # Gamma 1 (no cost price), Delta 0, Epsilon 4 (its own threshold: 5).
    assert (s["titles"], s["copies_on_hand"]) == (5, 17)
    assert s["value_cost_cents"] == 7 * 900 + 5 * 1000 + 4 * 500
    assert s["value_price_cents"] == 7 * 1500 + 5 * 2000 + 1 * 1000 + 4 * 800
    assert (s["titles_without_cost"], s["low_stock"], s["out_of_stock"], s["in_stock_ok"]) == (1, 2, 1, 2)
    assert (s["units_sold_window"], s["turnover"], s["days_of_cover"]) == (4, round(4 / 17, 3), round(17 / (4 / 90)))
    assert [(b["title"], b["available"], b["threshold"], b["units_sold_window"]) for b in data["low"]] == [
        ("Gamma", 1, 3, 1), ("Epsilon", 3, 5, 0)]  # one Epsilon is reserved by the unpaid checkout
    assert [(b["title"], b["available"]) for b in data["out"]] == [("Delta", 0)]
    later = reports.inventory_status(10, today=date(2026, 12, 31))["summary"]
    assert (later["units_sold_window"], later["turnover"], later["days_of_cover"]) == (0, 0.0, None)


def test_rentals_and_holds(rolled):
    now = datetime(2026, 3, 20, 12, tzinfo=UTC)
    data = reports.rentals_and_holds(MARCH, 10, now=now)
    # Xavier's rental (paid 6 March 10:00, 3 days) is out and overdue by 11 days 2 hours: 12 started days.
    assert data["rentals"] == {"active": 1, "overdue": 1, "accruing_cents": 12 * 50, "started": 2, "returned": 1,
                               "fees_charged_cents": 150, "fees_collected_cents": 0, "outstanding_cents": 150,
                               "rentals_with_balance": 1}
    assert data["holds"] == {"waiting": 4, "ready": 0, "books_waited_for": 2}
    assert [(b["title"], b["waiting"], b["available"], b["suggested_restock"], b["waiting_since"])
            for b in data["most_held"]] == [("Delta", 3, 0, 3, "2026-03-10"), ("Beta", 1, 5, 0, "2026-03-12")]
    april = reports.rentals_and_holds(reports.Period(date(2026, 4, 1), date(2026, 4, 30)), 10, now=now)["rentals"]
    assert (april["started"], april["fees_charged_cents"], april["outstanding_cents"]) == (0, 0, 150)


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

    assert reports.rollup_state() is None
    first = reports.refresh_rollups()  # no state yet: a full build
    assert first["mode"] == "full" and first["days"] == 4
    built = snapshot()
    assert reports.refresh_rollups()["mode"] == "incremental"
    assert snapshot() == built
    assert reports.refresh_rollups(full=True) == first and snapshot() == built

    a = shop["books"][0]
    new = paid(shop["users"]["wanda"], [(a, 1, "buy", 0)])  # paid now, after the last refresh
    today = new.paid_at.date()
    assert reports.refresh_rollups() == {"mode": "incremental", "days": 1}
    rows, totals = snapshot()
    assert (today, a.id, 1, 0, 1500) in rows
    assert (today, 1, new.total_cents, 0) in totals
    again = snapshot()
    reports.refresh_rollups()
    assert snapshot() == again

    # Cancelling the 2 March order (refund to the wallet) moves it out of that day's revenue.
    o1 = db.session.get(Order, shop["orders"][0].id)
    orders.cancel(o1, actor=shop["users"]["ursula"], refund_to="wallet")
    db.session.commit()
    reports.refresh_rollups()
    db.session.expire_all()
    march2 = db.session.get(SalesDailyTotal, date(2026, 3, 2))
    assert (march2.orders, march2.revenue_cents, march2.cancelled_orders, march2.cancelled_cents) == (0, 0, 1, 5000)
    assert db.session.scalars(select(SalesDaily).where(SalesDaily.day == date(2026, 3, 2))).all() == []
    # The incremental path kept the genre days and all-time totals as a full rebuild computes them.
    incremental = derived()
    a_total = db.session.get(SalesBookTotal, a.id)
    assert (a_total.units, a_total.revenue_cents) == (3, 1500 + 2 * shop["rent"])  # 2 bought on 2 March: gone
    reports.refresh_rollups(full=True)
    assert derived() == incremental
    assert reports.rollup_state().refreshed_at is not None


def _run(db, run_jobs, kind, **params):
    period = reports.Period(date(2026, 3, 1), date(2026, 3, 31)) if kind in reports.PERIOD_KINDS else None
    task = reports.start(kind, period, **params)
    db.session.commit()
    run_jobs()
    db.session.expire_all()
    task = db.session.get(BackgroundTask, task.id)
    assert task.status == "finished", task.message
    return task


def test_each_report_task_stores_figures_chart_and_csv(rolled, db, run_jobs):
    rent = rolled["rent"]
    sales = _run(db, run_jobs, "report:sales", granularity="week")
    assert sales.title == "Sales over time, 2026-03-01 to 2026-03-31 (weekly)"
    assert sales.output_csv.splitlines()[:3] == [
        "period_start,orders,revenue,average_order_value,units,cancelled_or_refunded_orders,"
        "cancelled_or_refunded_amount",
        "2026-02-23,0,0.00,0.00,0,0,0.00",
        f"2026-03-02,3,{(6998 + 2 * rent) / 100:.2f},{round((6998 + 2 * rent) / 3) / 100:.2f},6,0,0.00"]
    assert reports.chart_from(sales.output_svg, "revenue").startswith("<svg")
    assert reports.chart_from(sales.output_svg, "orders").startswith("<svg")
    assert sales.result["freshness"]["rollups_refreshed_at"]

    books = _run(db, run_jobs, "report:books", limit=10)
    lines = books.output_csv.splitlines()
    assert lines[0] == "list,rank,book_id,title,authors,units_sold,units_rented,revenue,on_hand,available,in_catalog_since"
    assert lines[1].startswith("best,1,") and ",Alpha,Ann Author,2,2," in lines[1]
    assert [line.split(",")[3] for line in lines if line.startswith("least,")] == ["Epsilon", "Beta", "Gamma", "Alpha"]
    assert "Alpha" in reports.chart_from(books.output_svg, "best")

    genres = _run(db, run_jobs, "report:genres", limit=10)
    assert "genre,Fiction,3,2," in genres.output_csv and "author,Cy Poet,1,0,10.00,1" in genres.output_csv
    inventory = _run(db, run_jobs, "report:inventory", limit=10)
    assert inventory.result["summary"]["value_cost_cents"] == 13300
    assert "summary,,low_stock,2" in inventory.output_csv and "out_of_stock," in inventory.output_csv
    holds = _run(db, run_jobs, "report:rentals", limit=10)
    assert holds.result["holds"]["waiting"] == 4 and "most_held," in holds.output_csv
    assert "Delta" in reports.chart_from(holds.output_svg, "holds")
    assert [t.id for t in reports.recent()] == [holds.id, inventory.id, genres.id, books.id, sales.id]


def test_period_validation(app):
    today = date(2026, 6, 30)
    assert reports.validate_period(date(2026, 1, 1), date(2026, 1, 1), today).days == 1
    for start_day, end_day, message in [
        (None, date(2026, 1, 1), "both"), (date(2026, 2, 1), date(2026, 1, 1), "before the start"),
        (date(2026, 6, 1), date(2026, 7, 1), "after today"), (date(2024, 1, 1), date(2026, 6, 1), "at most 731 days"),
    ]:
        with pytest.raises(reports.ReportError, match=message):
            reports.validate_period(start_day, end_day, today)
    assert reports.validate_period(date(2024, 6, 30), date(2026, 6, 29), today).days == 730
    with pytest.raises(ValueError):
        background.start("report:nope", "x")


def test_weekly_summary_emails_each_admin_once_per_week(rolled, db):
    boss = accounts.create_user("boss_one", "boss1@example.com", "correct horse battery staple 42", role="admin",
                                verified=True, check_strength=False)
    accounts.create_user("boss_two", "boss2@example.com", "correct horse battery staple 42", role="admin",
                         verified=True, check_strength=False)
    gone = accounts.create_user("boss_gone", "boss3@example.com", "correct horse battery staple 42", role="admin",
                                verified=True, check_strength=False)
    gone.is_active_account = False
    db.session.commit()
    monday = datetime(2026, 3, 9, 7, tzinfo=UTC)
    assert reports.send_weekly_summary(now=monday) == {"week": "2026-03-02", "sent": 2, "already": 0}
    assert reports.send_weekly_summary(now=monday + timedelta(hours=5)) == {"week": "2026-03-02", "sent": 0,
                                                                             "already": 2}
    emails = db.session.scalars(select(OutboundEmail).order_by(OutboundEmail.recipient)).all()
    summaries = [m for m in emails if "weekly summary" in m.subject]
    assert [m.recipient for m in summaries] == ["boss1@example.com", "boss2@example.com"]
    rent = rolled["rent"]
    body = summaries[0].body_text
    assert f"Revenue: ${(6998 + 2 * rent) / 100:,.2f} (no sales the week before)" in body
    assert "Orders: 3 " in body and "1. Alpha — 4 units" in body and "Delta — 3 waiting, 0 available" in body
    assert db.session.scalar(select(WeeklySummarySend.email_id).where(WeeklySummarySend.user_id == boss.id))
    # The next week is a new week: one more email each.
    assert reports.send_weekly_summary(now=monday + timedelta(days=7))["sent"] == 2


def test_weekly_summary_job_runs_from_the_cli_once(app, db, runner):
    accounts.create_user("boss_cli", "bosscli@example.com", "correct horse battery staple 42", role="admin",
                         verified=True, check_strength=False)
    db.session.commit()
    for _ in range(2):
        result = runner.invoke(args=["jobs", "run", "weekly-summary"])
        assert result.exit_code == 0, result.output
    db.session.expire_all()
    assert len(db.session.scalars(select(OutboundEmail).where(OutboundEmail.recipient == "bosscli@example.com"))
               .all()) == 1
    assert "'mode': 'incremental'" in runner.invoke(args=["jobs", "run", "refresh-report-rollups"]).output
    assert "'mode': 'full'" in runner.invoke(args=["jobs", "run", "rebuild-report-rollups"]).output


def test_rankings_read_from_candidates_match_the_full_ranking(app, db, make_book, monkeypatch):
    """Best sellers and top authors come from the books/authors with the largest all-time figures when that is
    provably exact, else from everything: both ways give the same list."""
    from webapp.models import SalesDaily

    books = [make_book(f"Book {i:02d}", authors=(f"Author {i % 9}",), on_hand=1) for i in range(26)]
    rows = []
    for i, book in enumerate(books):
        # 2025: old sales, bigger for later books; 2026: small sales, bigger for earlier books.
        rows.append({"day": date(2025, 6, 1 + i), "book_id": book.id, "units_sold": 10 + 3 * i, "units_rented": 0,
                     "revenue_cents": 1000 * (10 + 3 * i)})
        rows.append({"day": date(2026, 1, 1 + i), "book_id": book.id, "units_sold": 30 - i, "units_rented": i % 2,
                     "revenue_cents": 700 * (30 - i)})
    db.session.execute(SalesDaily.__table__.insert(), rows)
    reports._write_totals()
    db.session.commit()

    calls = []
    rank_books, rank_authors = reports._rank_books, reports._rank_authors
    monkeypatch.setattr(reports, "_rank_books", lambda p, n, ids: calls.append(ids is None) or rank_books(p, n, ids))
    monkeypatch.setattr(reports, "_rank_authors",
                        lambda p, n, ids: calls.append(ids is None) or rank_authors(p, n, ids))
    for period in (reports.Period(date(2025, 1, 1), date(2025, 12, 31)),  # old books lead: candidates suffice
                   reports.Period(date(2025, 7, 1), date(2026, 6, 30)),  # new leaders: the full ranking
                   reports.Period(date(2026, 1, 1), date(2026, 1, 31)),  # short: always ranked whole
                   reports.Period(date(2025, 1, 1), date(2026, 12, 31))):
        for limit in (1, 2, 5):
            calls.clear()
            expected = [reports._book_row(r, i) for i, r in enumerate(rank_books(period, limit, None), start=1)]
            assert reports.best_sellers(period, limit) == expected
            assert reports.author_sales(period, limit)[:limit] == [
                {"rank": i, "author_id": r.id, "author": r.name, "units_sold": r.sold, "units_rented": r.rented,
                 "revenue_cents": r.revenue, "titles_sold": r.titles}
                for i, r in enumerate(rank_authors(period, limit, None), start=1)]
    calls.clear()
    reports.best_sellers(reports.Period(date(2025, 1, 1), date(2025, 12, 31)), 1)
    assert calls == [False]  # exact from the first 4 candidates
    calls.clear()
    reports.best_sellers(reports.Period(date(2025, 7, 1), date(2026, 6, 30)), 1)
    assert calls == [False, False, True]  # 4, then 20 candidates could not prove it: everything
    calls.clear()
    reports.best_sellers(reports.Period(date(2026, 1, 1), date(2026, 1, 31)), 1)
    assert calls == [True]
