"""Admin panel: reports. Each report is a background task (RQ, "reports" queue): the page queues it, its status
partial polls until it is done, and the stored result (figures, charts, CSV) can be re-opened from the list."""
from __future__ import annotations

from datetime import timedelta

from flask import abort, make_response, redirect, render_template, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from markupsafe import Markup
from wtforms import DateField, SelectChoice, SelectField
from wtforms.validators import InputRequired, Optional

from ..extensions import db
from ..htmx import is_htmx, render_page_or_partial, trigger
from ..models import utcnow
from ..services.insight import rollups, runners
from ..services.insight.periods import GRANULARITIES, LIMITS, Period, ReportError, validate_period
from ..services.platform import background
from . import bp
from .tasks import task_context

REPORTS_CHANGED = "reportsChanged"  # HX-Trigger event: the recent reports list is out of date


class ReportForm(FlaskForm):
    report = SelectField("Report", validators=[InputRequired()],
                         choices=[SelectChoice(k, v) for k, v in runners.KINDS.items()])
    date_from = DateField("From (UTC)", validators=[Optional()])
    date_to = DateField("To (UTC)", validators=[Optional()])
    granularity = SelectField("Figures per", choices=[SelectChoice(k, v) for k, v in GRANULARITIES.items()])
    limit = SelectField("Rows in ranked lists", coerce=int, default=25,
                        choices=[SelectChoice(n, str(n)) for n in LIMITS])

    def validate(self, extra_validators=None) -> bool:
        if not super().validate(extra_validators):
            return False
        if self.report.data not in runners.PERIOD_KINDS:
            return True
        try:
            validate_period(self.date_from.data, self.date_to.data)
        except ReportError as exc:
            self.date_to.errors = [*self.date_to.errors, str(exc)]
            return False
        return True


def _new_form(submitted: bool) -> ReportForm:
    """The form with the last 30 days filled in; `submitted` reads the posted fields over those defaults."""
    today = utcnow().date()
    return ReportForm(date_from=today - timedelta(days=29), date_to=today, **({} if submitted else {"formdata": None}))


def _page(form: ReportForm, task=None, status: int = 200):
    context = task_context(task) if task is not None else {}
    return render_page_or_partial("admin/reports.html", "admin/_report_form.html", status=status, form=form,
                                  recent=runners.recent(), rollups=rollups.rollup_state(),
                                  revenue_definition=rollups.REVENUE_DEFINITION, **context)


@bp.get("/reports")
def reports():
    return _page(_new_form(False))


@bp.post("/reports")
def start_report():
    form = _new_form(True)
    if not form.validate_on_submit():
        return _page(form)  # 200 with the errors (htmx 2 does not swap 4xx answers)
    period = None
    if form.report.data in runners.PERIOD_KINDS:
        period = Period(form.date_from.data, form.date_to.data)
    task = runners.start(form.report.data, period, granularity=form.granularity.data,
                                limit=form.limit.data, user_id=current_user.id)
    db.session.commit()
    if not is_htmx():
        return redirect(url_for("admin.report", task_id=task.id), 303)
    return trigger(_page(_new_form(False), task=task), REPORTS_CHANGED)  # the list shows the new report


@bp.get("/reports/list")
def report_list():
    """The recent reports list alone (htmx refreshes it on "reportsChanged"); the reports page otherwise."""
    if not is_htmx():
        return redirect(url_for("admin.reports"), 303)
    response = make_response(render_template("admin/_report_list.html", recent=runners.recent()))
    response.vary.add("HX-Request")
    return response


@bp.get("/reports/<int:task_id>")
def report(task_id: int):
    task = background.get(task_id)
    if task is None or not task.kind.startswith("report:"):
        abort(404)
    return render_template("admin/report.html", **task_context(task))


@bp.app_template_global()
def report_chart(task, name: str) -> Markup | None:
    """One chart of a finished report by name, as inline SVG (None when the task has no chart by that name). The SVG
    was drawn by services.insight.charts (matplotlib escapes every text in it, book titles included) and stored in
    the task row's `output_charts` by the report's runner."""
    svg = (task.output_charts or {}).get(name)
    return Markup(svg) if svg and svg.lstrip().startswith("<svg") else None
