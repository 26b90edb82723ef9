"""The author area's pages: the sales dashboard (charts cached per figures) and the author's own profile."""
from __future__ import annotations

from datetime import date
from functools import lru_cache

from flask import flash, g, redirect, render_template, request, url_for
from flask_login import current_user

from ..actions import FAILED, attempt
from ..clients import client_ip
from ..extensions import db
from ..htmx import render_page_or_partial
from ..services.insight import author_figures, charts
from ..services.people import authors
from ..services.platform import uploads
from ..utils import uploaded_file
from . import bp
from .forms import ActionForm, PeriodForm, ProfileForm


@lru_cache(maxsize=64)
def _charts(period: str, points: tuple[date, ...], sold: tuple[int, ...], rented: tuple[int, ...],
            revenue: tuple[int, ...]):
    """Same figures, same pictures: drawn once per change, not per page view."""
    span = author_figures.PERIODS[period].lower()
    unit = "month" if period == "12m" else "day"
    first, last = (f"{p:%B %Y}" if unit == "month" else f"{p:%-d %b}" for p in (points[0], points[-1]))
    about = f"from {first} to {last}; the figures are in the table below"
    units = charts.time_chart(points, {"Sold": sold, "Rented": rented}, unit=unit,
                              title=f"Copies sold and rented, {span}", description=about,
                              empty="No copies sold or rented in this period")
    money = charts.time_chart(points, {"Revenue": revenue}, unit=unit, title=f"Your revenue, {span}", money=True,
                              description=about, empty="No revenue in this period")
    return units, money


@bp.get("")
def dashboard():
    form = PeriodForm(request.args)
    period = form.period.data if form.validate() and form.period.data in author_figures.PERIODS else "12m"
    form.period.data = period
    view = author_figures.figures(g.author, period)
    units_chart, revenue_chart = _charts(period, tuple(view.points), tuple(view.sold), tuple(view.rented),
                                         tuple(view.revenue_cents))
    return render_page_or_partial("author/dashboard.html", "author/_figures.html", form=form, view=view,
                                  author=g.author, units_chart=units_chart, revenue_chart=revenue_chart)


@bp.route("/profile", methods=["GET", "POST"])
def profile():
    author = g.author
    form = ProfileForm(obj=author)
    if request.method == "GET":
        form.bank_account.data = ""  # never pre-filled
    if form.validate_on_submit():
        result = attempt(form, lambda: authors.update_profile(
            author, actor=current_user, bio=form.bio.data, city=form.city.data,
            goodreads_url=form.goodreads_url.data, photo=uploaded_file(form.photo), remove_photo=form.remove_photo.data,
            bank_account=form.bank_account.data, ip=client_ip()))
        if result is not FAILED:
            for stored in result:
                uploads.delete(stored)
            flash("Your author profile is saved.", "success")
            return redirect(url_for("author.profile"), 303)
    return render_template("author/profile.html", form=form, author=author, action_form=ActionForm(),
                           bank_mask=authors.masked_bank_account(author))


@bp.post("/profile/bank/remove")
def remove_bank():
    if not ActionForm().validate_on_submit():
        flash("Your session expired. Please try again.", "error")
        return redirect(url_for("author.profile"), 303)
    removed = authors.remove_bank_account(g.author, actor=current_user, ip=client_ip())
    db.session.commit()
    flash("Your bank details are removed." if removed else "There were no bank details to remove.", "info")
    return redirect(url_for("author.profile"), 303)
