"""Admin panel: the home dashboard (the shop at a glance; every figure links to its list)."""
from __future__ import annotations

from datetime import date
from functools import lru_cache

from flask import render_template
from markupsafe import Markup

from ..services.insight import charts, dashboard
from ..services.inventory import alerts
from . import bp


@lru_cache(maxsize=16)
def _revenue_chart(days: tuple[date, ...], revenue: tuple[int, ...]) -> Markup:
    """Same figures, same picture: drawn once per change of the 30-day series, not per page view."""
    return charts.time_chart(days, {"Revenue": revenue}, unit="day", title="Revenue, last 30 days", money=True,
                             empty="No sales in the last 30 days",
                             description=f"daily revenue from {days[0]:%-d %b} to {days[-1]:%-d %b}; "
                                         "the figures are in the table below the chart")


@bp.get("")
def home():
    view = dashboard.overview()
    chart = _revenue_chart(tuple(view.days), tuple(view.daily_revenue_cents))
    return render_template("admin/home.html", view=view, chart=chart, low_books=alerts.at_or_below(limit=8),
                           daily=list(zip(view.days, view.daily_revenue_cents,
                                                                       view.daily_orders, strict=True)))
