"""What a finished report keeps besides its figures: a CSV to download and its charts (inline SVG drawn by
services.insight.charts), one builder per report.

The charts are a mapping of name to SVG ({"revenue": "<svg ...>", "orders": ...}), stored as it is in the task
row's JSON column `output_charts`; the report's template asks for each by name. CSV amounts are bare numbers in
the shop's currency ("12.50", as platform.money.plain writes them), so a spreadsheet reads them as numbers.
"""
from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import date
from typing import NamedTuple

from markupsafe import Markup

from ..platform.money import plain
from ..platform.spreadsheet import safe_cell
from . import charts
from .periods import GRANULARITIES, Period
from .sales_figures import AuthorSales, BookSales, GenreSales, SalesOverTime
from .stock_and_rentals import InventoryStatus, RentalsAndHolds


class Exports(NamedTuple):
    csv: str
    charts: dict[str, str]  # name -> inline SVG


def sales(data: SalesOverTime, period: Period) -> Exports:
    granularity = GRANULARITIES[data["granularity"]]
    # bucket starts: "2026-03-02" (day, week) or "2026-03" (month); the chart labels the dates itself
    points = [date.fromisoformat(p["bucket"] if len(p["bucket"]) == 10 else p["bucket"] + "-01")
              for p in data["series"]]
    svgs = _charts(
        revenue=charts.time_chart(points, {"Revenue": [p["revenue_cents"] for p in data["series"]]},
                                  unit=data["granularity"], title=f"{granularity} revenue", money=True,
                                  empty="No sales in this period",
                                  description=f"{granularity.lower()} revenue, {period.label()}; figures in the table"),
        orders=charts.time_chart(points, {"Orders": [p["orders"] for p in data["series"]]},
                                 unit=data["granularity"], title=f"{granularity} orders",
                                 empty="No orders in this period",
                                 description=f"{granularity.lower()} orders, {period.label()}; figures in the table"))
    rows = [(p["bucket"], p["orders"], plain(p["revenue_cents"]), plain(p["aov_cents"]), p["units"],
             p["cancelled_orders"], plain(p["cancelled_cents"])) for p in data["series"]]
    return Exports(_csv(["period_start", "orders", "revenue", "average_order_value", "units",
                         "cancelled_or_refunded_orders", "cancelled_or_refunded_amount"], rows), svgs)


def books(best: list[BookSales], least: list[BookSales], period: Period) -> Exports:
    top = best[:10]
    svgs = _charts(best=charts.bar_chart([_short(b["title"], b["authors"]) for b in top],
                                         [b["units_sold"] + b["units_rented"] for b in top],
                                         title="Best sellers (units bought and rented)",
                                         description=f"top {len(top)} books, {period.label()}; figures in the table"))
    rows = [(section, b["rank"], b["book_id"], b["title"], b["authors"], b["units_sold"], b["units_rented"],
             plain(b["revenue_cents"]), b["on_hand"], b["available"], b["in_catalog_since"])
            for section, listed in (("best", best), ("least", least)) for b in listed]
    return Exports(_csv(["list", "rank", "book_id", "title", "authors", "units_sold", "units_rented", "revenue",
                         "on_hand", "available", "in_catalog_since"], rows), svgs)


def genres(genre_rows: list[GenreSales], authors: list[AuthorSales], period: Period) -> Exports:
    svgs = _charts(
        genres=charts.bar_chart([g["genre"] for g in genre_rows], [g["revenue_cents"] for g in genre_rows],
                                title="Revenue by genre", money=True,
                                description=f"{len(genre_rows)} genres, {period.label()}; figures in the table"),
        authors=charts.bar_chart([a["author"] for a in authors[:10]], [a["revenue_cents"] for a in authors[:10]],
                                 title="Top authors by revenue", money=True,
                                 description=f"top {min(10, len(authors))} authors, {period.label()}; "
                                             "figures in the table"))
    rows: list[tuple[object, ...]] = [
        ("genre", g["genre"], g["units_sold"], g["units_rented"], plain(g["revenue_cents"]), "") for g in genre_rows]
    rows += [("author", a["author"], a["units_sold"], a["units_rented"], plain(a["revenue_cents"]),
              a["titles_sold"]) for a in authors]
    return Exports(_csv(["group", "name", "units_sold", "units_rented", "revenue", "titles_sold"], rows), svgs)


def inventory(data: InventoryStatus) -> Exports:
    s = data["summary"]
    svgs = _charts(stock=charts.bar_chart(["In stock", "Low stock", "Out of stock"],
                                          [s["in_stock_ok"], s["low_stock"], s["out_of_stock"]],
                                          title="Active titles by stock level", empty="No books on sale",
                                          description="titles in stock, low and out; figures in the table"))
    rows: list[tuple[object, ...]] = [("summary", "", key, value) for key, value in s.items()]
    rows += [(section, b["book_id"], b["title"], f"on_hand={b['on_hand']} available={b['available']} "
              f"threshold={b['threshold']} sold_{s['turnover_days']}d={b['units_sold_window']}")
             for section, listed in (("low_stock", data["low"]), ("out_of_stock", data["out"])) for b in listed]
    return Exports(_csv(["section", "book_id", "name", "value"], rows), svgs)


def rentals(data: RentalsAndHolds) -> Exports:
    top = data["most_held"][:10]
    svgs = _charts(holds=charts.bar_chart([_short(b["title"], b["authors"]) for b in top], [b["waiting"] for b in top],
                                          title="Most-held books (waiting holds)", empty="Nobody is waiting",
                                          description=f"top {len(top)} books by waiting holds; figures in the table"))
    rows: list[tuple[object, ...]] = [("rentals", "", key, value) for key, value in data["rentals"].items()]
    rows += [("holds", "", key, value) for key, value in data["holds"].items()]
    rows += [("most_held", b["book_id"], b["title"], f"waiting={b['waiting']} on_hand={b['on_hand']} "
              f"available={b['available']} suggested_restock={b['suggested_restock']}") for b in data["most_held"]]
    return Exports(_csv(["section", "book_id", "name", "value"], rows), svgs)


def _csv(header: list[str], rows: Iterable[Sequence[object]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows([safe_cell(v) for v in row] for row in rows)  # names typed by people: no formulas
    return buffer.getvalue()


def _charts(**svgs: Markup) -> dict[str, str]:
    """A report's charts by name, as the task row stores them (JSON: plain strings)."""
    return {name: str(svg) for name, svg in svgs.items()}


def _short(title: str, authors: str) -> str:
    return f"{title} ({authors.split(',')[0]})" if authors else title
