"""Admin panel: the home dashboard (the shop at a glance; every figure links to its list)."""
from __future__ import annotations

from functools import lru_cache

from flask import render_template
from markupsafe import Markup

from ..services.insight import charts, dashboard
from ..services.inventory import alerts
from . import bp


@lru_cache(maxsize=16)
def _revenue_chart(labels: tuple[str, ...], revenue: tuple[int, ...]) -> Markup:
    """Same figures, same picture: drawn once per change of the 30-day series, not per page view."""
    return charts.line_chart(labels, {"Revenue": revenue}, title="Revenue, last 30 days", money=True,
                             description=f"daily revenue from {labels[0]} to {labels[-1]}; "
                                         "the figures are in the table below the chart")


@bp.get("")
def home():
    view = dashboard.overview()
    labels = tuple(d.strftime("%-d %b") for d in view.days)
    chart = _revenue_chart(labels, tuple(view.daily_revenue_cents))
    return render_template("admin/home.html", view=view, chart=chart, low_books=alerts.at_or_below(limit=8),
                           daily=list(zip(view.days, view.daily_revenue_cents,
                                                                       view.daily_orders, strict=True)))
