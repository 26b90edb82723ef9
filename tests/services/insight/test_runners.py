"""Report tasks: each kind stores its figures, charts and CSV on the task row; the period an admin may ask for."""
from datetime import date

import pytest

from webapp.models import BackgroundTask
from webapp.services.insight import periods, runners
from webapp.services.platform import background


def _run(db, run_jobs, kind, **params):
    period = periods.Period(date(2026, 3, 1), date(2026, 3, 31)) if kind in runners.PERIOD_KINDS else None
    task = runners.start(kind, period, **params)
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
        f"2026-03-02,3,{(6698 + 2 * rent) / 100:.2f},{round((6698 + 2 * rent) / 3) / 100:.2f},6,0,0.00"]
    assert set(sales.output_charts) == {"revenue", "orders"}  # the charts by name, in the row's JSON column
    assert all(svg.startswith("<svg") and svg.rstrip().endswith("</svg>") for svg in sales.output_charts.values())
    assert "<!--chart:" not in "".join(sales.output_charts.values())
    assert sales.result["freshness"]["rollups_refreshed_at"]

    books = _run(db, run_jobs, "report:books", limit=10)
    lines = books.output_csv.splitlines()
    assert lines[0] == "list,rank,book_id,title,authors,units_sold,units_rented,revenue,on_hand,available,in_catalog_since"
    assert lines[1].startswith("best,1,") and ",Alpha,Ann Author,2,2," in lines[1]
    assert [line.split(",")[3] for line in lines if line.startswith("least,")] == ["Epsilon", "Beta", "Gamma", "Alpha"]
    assert list(books.output_charts) == ["best"] and "Alpha" in books.output_charts["best"]

    genres = _run(db, run_jobs, "report:genres", limit=10)
    assert "genre,Fiction,3,2," in genres.output_csv and "author,Cy Poet,1,0,10.00,1" in genres.output_csv
    assert list(genres.output_charts) == ["genres", "authors"] and "Cy Poet" in genres.output_charts["authors"]
    inventory = _run(db, run_jobs, "report:inventory", limit=10)
    assert inventory.result["summary"]["value_cost_cents"] == 13300
    assert "summary,,low_stock,2" in inventory.output_csv and "out_of_stock," in inventory.output_csv
    assert list(inventory.output_charts) == ["stock"] and inventory.output_charts["stock"].startswith("<svg")
    holds = _run(db, run_jobs, "report:rentals", limit=10)
    assert holds.result["holds"]["waiting"] == 4 and "most_held," in holds.output_csv
    assert list(holds.output_charts) == ["holds"] and "Delta" in holds.output_charts["holds"]
    assert [t.id for t in runners.recent()] == [holds.id, inventory.id, genres.id, books.id, sales.id]


def test_period_validation(app):
    today = date(2026, 6, 30)
    assert periods.validate_period(date(2026, 1, 1), date(2026, 1, 1), today).days == 1
    for start_day, end_day, message in [
        (None, date(2026, 1, 1), "both"), (date(2026, 2, 1), date(2026, 1, 1), "before the start"),
        (date(2026, 6, 1), date(2026, 7, 1), "after today"), (date(2024, 1, 1), date(2026, 6, 1), "at most 731 days"),
    ]:
        with pytest.raises(periods.ReportError, match=message):
            periods.validate_period(start_day, end_day, today)
    assert periods.validate_period(date(2024, 6, 30), date(2026, 6, 29), today).days == 730
    with pytest.raises(ValueError):
        background.start("report:nope", "x")
