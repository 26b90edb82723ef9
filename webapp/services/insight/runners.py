"""The five reports as background tasks ("report:*" kinds, run by an RQ worker on the "reports" queue through
services.platform.background): which reports exist, queueing one, and the runner that builds each, storing its
figures (JSON), CSV and charts on the task row for the admin pages to show.

webapp/services/__init__.py imports this module, so every process registers these runners.
"""
from __future__ import annotations

from typing import Any

from ...models import BackgroundTask
from ..platform import background
from ..platform.money import money
from . import exports
from .periods import GRANULARITIES, Period, ReportError, limit_from_params, period_from_params
from .rollups import freshness
from .sales_figures import author_sales, best_sellers, genre_sales, least_sold, sales_over_time
from .stock_and_rentals import inventory_status, rentals_and_holds

KINDS = {
    "report:sales": "Sales over time",
    "report:books": "Best and least sold books",
    "report:genres": "Sales by genre and author",
    "report:inventory": "Inventory status",
    "report:rentals": "Rentals and holds demand",
}
PERIOD_KINDS = ("report:sales", "report:books", "report:genres", "report:rentals")


def start(kind: str, period: Period | None, *, granularity: str = "day", limit: int = 25,
          user_id: int | None = None) -> BackgroundTask:
    """Queue one report (runs on the "reports" queue once the caller commits)."""
    if kind not in KINDS:
        raise ReportError("Choose a report.")
    params: dict[str, Any] = {"limit": limit}
    title = KINDS[kind]
    if kind in PERIOD_KINDS:
        if period is None:
            raise ReportError("Choose a period.")
        params.update(period.as_params())
        title += f", {period.label()}"
    if kind == "report:sales":
        params["granularity"] = granularity
        title += f" ({GRANULARITIES[granularity].lower()})"
    return background.start(kind, title, params=params, user_id=user_id)


def recent(limit: int = 20) -> list[BackgroundTask]:
    """The latest reports, for the admin's list."""
    return background.recent("report:", limit)


def _params(task: BackgroundTask) -> dict[str, Any]:
    return task.params or {}


@background.runner("report:sales")
def _run_sales(task: BackgroundTask, progress: background.Progress) -> background.Outcome:
    period = period_from_params(_params(task))
    progress(0, 2, "Adding up sales…")
    data = sales_over_time(period, _params(task).get("granularity", "day"))
    fresh = freshness()
    progress(1, 2, "Drawing the charts…")
    out = exports.sales(data, period)
    t = data["totals"]
    return background.Outcome(f"{t['orders']:,} orders, {money(t['revenue_cents'])} revenue.",
                              result={**data, "freshness": fresh}, csv=out.csv, charts=out.charts)


@background.runner("report:books")
def _run_books(task: BackgroundTask, progress: background.Progress) -> background.Outcome:
    period, limit = period_from_params(_params(task)), limit_from_params(_params(task))
    progress(0, 3, "Ranking best sellers…")
    best = best_sellers(period, limit)
    progress(1, 3, "Finding the least sold books…")
    least = least_sold(period, limit)
    data = {"period": period.as_params(), "limit": limit, "best": best, "least": least, "freshness": freshness()}
    progress(2, 3, "Drawing the chart…")
    out = exports.books(best, least, period)
    zero = sum(1 for b in least if not b["units_sold"] and not b["units_rented"])
    return background.Outcome(f"Top {len(best)} best sellers; {zero} in-stock books listed with no sales.",
                              result=data, csv=out.csv, charts=out.charts)


@background.runner("report:genres")
def _run_genres(task: BackgroundTask, progress: background.Progress) -> background.Outcome:
    period, limit = period_from_params(_params(task)), limit_from_params(_params(task))
    progress(0, 3, "Adding up sales by genre…")
    genres = genre_sales(period)
    progress(1, 3, "Adding up sales by author…")
    authors = author_sales(period, limit)
    data = {"period": period.as_params(), "limit": limit, "genres": genres, "authors": authors,
            "freshness": freshness()}
    progress(2, 3, "Drawing the charts…")
    out = exports.genres(genres, authors, period)
    return background.Outcome(f"{sum(1 for g in genres if g['revenue_cents'])} genres and {len(authors)} authors "
                              "with sales.", result=data, csv=out.csv, charts=out.charts)


@background.runner("report:inventory")
def _run_inventory(task: BackgroundTask, progress: background.Progress) -> background.Outcome:
    limit = limit_from_params(_params(task))
    progress(0, 2, "Valuing the stock…")
    data = inventory_status(limit)
    fresh = freshness()
    progress(1, 2, "Drawing the chart…")
    out = exports.inventory(data)
    s = data["summary"]
    return background.Outcome(f"{s['titles']:,} titles, {money(s['value_cost_cents'])} at cost; "
                              f"{s['low_stock']:,} low, {s['out_of_stock']:,} out of stock.",
                              result={**data, "freshness": fresh}, csv=out.csv, charts=out.charts)


@background.runner("report:rentals")
def _run_rentals(task: BackgroundTask, progress: background.Progress) -> background.Outcome:
    period, limit = period_from_params(_params(task)), limit_from_params(_params(task))
    progress(0, 2, "Counting rentals and holds…")
    data = rentals_and_holds(period, limit)
    fresh = freshness()
    progress(1, 2, "Drawing the chart…")
    out = exports.rentals(data)
    r = data["rentals"]
    return background.Outcome(f"{r['active']:,} rentals out, {r['overdue']:,} overdue; "
                              f"{data['holds']['waiting']:,} holds waiting.",
                              result={**data, "freshness": fresh}, csv=out.csv, charts=out.charts)
