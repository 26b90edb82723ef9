"""Live figures: the inventory report and the rentals and holds report."""
from datetime import UTC, date, datetime

from tests.services.insight.march_shop import MARCH
from webapp.services.insight import periods, stock_and_rentals


def test_inventory_status(rolled, db):
    data = stock_and_rentals.inventory_status(10, today=date(2026, 3, 31))
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
    later = stock_and_rentals.inventory_status(10, today=date(2026, 12, 31))["summary"]
    assert (later["units_sold_window"], later["turnover"], later["days_of_cover"]) == (0, 0.0, None)


def test_rentals_and_holds(rolled):
    now = datetime(2026, 3, 20, 12, tzinfo=UTC)
    data = stock_and_rentals.rentals_and_holds(MARCH, 10, now=now)
    # Xavier's rental (paid 6 March 10:00, 3 days) is out and overdue by 11 days 2 hours: 12 started days.
    assert data["rentals"] == {"active": 1, "overdue": 1, "accruing_cents": 12 * 50, "started": 2, "returned": 1,
                               "fees_charged_cents": 150, "fees_collected_cents": 0, "outstanding_cents": 150,
                               "rentals_with_balance": 1}
    assert data["holds"] == {"waiting": 4, "ready": 0, "books_waited_for": 2}
    assert [(b["title"], b["waiting"], b["available"], b["suggested_restock"], b["waiting_since"])
            for b in data["most_held"]] == [("Delta", 3, 0, 3, "2026-03-10"), ("Beta", 1, 5, 0, "2026-03-12")]
    april = stock_and_rentals.rentals_and_holds(periods.Period(date(2026, 4, 1), date(2026, 4, 30)), 10, now=now)["rentals"]
    assert (april["started"], april["fees_charged_cents"], april["outstanding_cents"]) == (0, 0, 150)
