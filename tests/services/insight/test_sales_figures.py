"""Sales figures from the rollups: over time, best and least sold, by genre and author, and rankings read from
candidates matching the full ranking."""
from datetime import date

from tests.services.insight.march_shop import MARCH
from webapp.models import SalesDaily
from webapp.services.insight import periods, rollups, sales_figures


def test_sales_over_time_daily_weekly_monthly(rolled):
    rent = rolled["rent"]
    day = sales_figures.sales_over_time(MARCH, "day")
    assert len(day["series"]) == 31
    by_day = {p["bucket"]: p for p in day["series"]}
    assert by_day["2026-03-02"] == {"bucket": "2026-03-02", "orders": 1, "revenue_cents": 5000, "aov_cents": 5000,
                                    "units": 3, "cancelled_orders": 0, "cancelled_cents": 0}
    assert (by_day["2026-03-04"]["orders"], by_day["2026-03-04"]["revenue_cents"]) == (1, rent + 1499)
    assert (by_day["2026-03-16"]["orders"], by_day["2026-03-16"]["cancelled_orders"],
            by_day["2026-03-16"]["cancelled_cents"]) == (0, 1, 2499)
    assert by_day["2026-03-03"]["orders"] == 0
    revenue = 5000 + (rent + 1499) + (rent + 199)  # Xavier rents only: rental shipping ($1.99)
    assert day["totals"] == {"orders": 3, "revenue_cents": revenue, "aov_cents": round(revenue / 3), "units": 6,
                             "cancelled_orders": 1, "cancelled_cents": 2499}
    week = sales_figures.sales_over_time(MARCH, "week")
    assert [p["bucket"] for p in week["series"]] == ["2026-02-23", "2026-03-02", "2026-03-09", "2026-03-16",
                                                     "2026-03-23", "2026-03-30"]
    assert [p["orders"] for p in week["series"]] == [0, 3, 0, 0, 0, 0]
    assert week["series"][1]["revenue_cents"] == revenue
    month = sales_figures.sales_over_time(periods.Period(date(2026, 2, 1), date(2026, 4, 30)), "month")
    assert [(p["bucket"], p["orders"], p["revenue_cents"]) for p in month["series"]] == [
        ("2026-02", 0, 0), ("2026-03", 3, revenue), ("2026-04", 0, 0)]
    assert sales_figures.sales_over_time(periods.Period(date(2026, 3, 7), date(2026, 3, 8)))["totals"]["orders"] == 0


def test_best_and_least_sold_include_books_never_sold(rolled):
    a, b, c, d, e, f = rolled["books"]
    rent = rolled["rent"]
    best = sales_figures.best_sellers(MARCH, 10)
    assert [(x["title"], x["units_sold"], x["units_rented"], x["revenue_cents"]) for x in best] == [
        ("Alpha", 2, 2, 3000 + 2 * rent), ("Beta", 1, 0, 2000), ("Gamma", 1, 0, 1000)]
    assert best[0]["authors"] == "Ann Author" and best[1]["authors"] == "Bob Writer, Ann Author"
    least = sales_figures.least_sold(MARCH, 10)
    # In stock and active: Epsilon never sold (first); then fewest units, longest in the catalog first.
    # Delta has no copies and Zeta is inactive: neither is listed.
    assert [(x["title"], x["units_sold"] + x["units_rented"], x["on_hand"]) for x in least] == [
        ("Epsilon", 0, 4), ("Beta", 1, 5), ("Gamma", 1, 1), ("Alpha", 4, 7)]
    assert least[0]["in_catalog_since"] == "2025-01-05"
    assert [x["title"] for x in sales_figures.least_sold(MARCH, 2)] == ["Epsilon", "Beta"]
    # A period without sales: every in-stock active book has zero, oldest first.
    quiet = periods.Period(date(2026, 4, 1), date(2026, 4, 30))
    assert [x["title"] for x in sales_figures.least_sold(quiet, 10)] == ["Alpha", "Beta", "Gamma", "Epsilon"]
    assert sales_figures.best_sellers(quiet, 10) == []


def test_sales_by_genre_and_author(rolled):
    rent = rolled["rent"]
    genres = sales_figures.genre_sales(MARCH)
    assert [(g["genre"], g["units_sold"], g["units_rented"], g["revenue_cents"]) for g in genres] == [
        ("Fiction", 3, 2, 5000 + 2 * rent), ("Crime", 1, 0, 2000), ("Poetry", 1, 0, 1000)]
    authors = sales_figures.author_sales(MARCH, 10)
    assert [(x["author"], x["units_sold"], x["units_rented"], x["revenue_cents"], x["titles_sold"])
            for x in authors] == [("Ann Author", 3, 2, 5000 + 2 * rent, 2), ("Bob Writer", 1, 0, 2000, 1),
                                  ("Cy Poet", 1, 0, 1000, 1)]
    assert [x["author"] for x in sales_figures.author_sales(MARCH, 1)] == ["Ann Author"]


def test_rankings_read_from_candidates_match_the_full_ranking(app, db, make_book, monkeypatch):
    """Best sellers and top authors come from the books/authors with the largest all-time figures when that is
    provably exact, else from everything: both ways give the same list."""

    books = [make_book(f"Book {i:02d}", authors=(f"Author {i % 9}",), on_hand=1) for i in range(26)]
    rows = []
    for i, book in enumerate(books):
        # 2025: old sales, bigger for later books; 2026: small sales, bigger for earlier books.
        rows.append({"day": date(2025, 6, 1 + i), "book_id": book.id, "units_sold": 10 + 3 * i, "units_rented": 0,
                     "revenue_cents": 1000 * (10 + 3 * i)})
        rows.append({"day": date(2026, 1, 1 + i), "book_id": book.id, "units_sold": 30 - i, "units_rented": i % 2,
                     "revenue_cents": 700 * (30 - i)})
    db.session.execute(SalesDaily.__table__.insert(), rows)
    rollups._write_totals()
    db.session.commit()

    calls = []
    rank_books, rank_authors = sales_figures._rank_books, sales_figures._rank_authors
    monkeypatch.setattr(sales_figures, "_rank_books", lambda p, n, ids: calls.append(ids is None) or rank_books(p, n, ids))
    monkeypatch.setattr(sales_figures, "_rank_authors",
                        lambda p, n, ids: calls.append(ids is None) or rank_authors(p, n, ids))
    for period in (periods.Period(date(2025, 1, 1), date(2025, 12, 31)),  # old books lead: candidates suffice
                   periods.Period(date(2025, 7, 1), date(2026, 6, 30)),  # new leaders: the full ranking
                   periods.Period(date(2026, 1, 1), date(2026, 1, 31)),  # short: always ranked whole
                   periods.Period(date(2025, 1, 1), date(2026, 12, 31))):
        for limit in (1, 2, 5):
            calls.clear()
            expected = [sales_figures._book_row(r, i) for i, r in enumerate(rank_books(period, limit, None), start=1)]
            assert sales_figures.best_sellers(period, limit) == expected
            assert sales_figures.author_sales(period, limit)[:limit] == [
                {"rank": i, "author_id": r.id, "author": r.name, "units_sold": r.sold, "units_rented": r.rented,
                 "revenue_cents": r.revenue, "titles_sold": r.titles}
                for i, r in enumerate(rank_authors(period, limit, None), start=1)]
    calls.clear()
    sales_figures.best_sellers(periods.Period(date(2025, 1, 1), date(2025, 12, 31)), 1)
    assert calls == [False]  # exact from the first 4 candidates
    calls.clear()
    sales_figures.best_sellers(periods.Period(date(2025, 7, 1), date(2026, 6, 30)), 1)
    assert calls == [False, False, True]  # 4, then 20 candidates could not prove it: everything
    calls.clear()
    sales_figures.best_sellers(periods.Period(date(2026, 1, 1), date(2026, 1, 31)), 1)
    assert calls == [True]
