"""Admin panel: staff background work (book imports, reports) as it runs: the progress page that htmx polls
until the task is done, and the CSV a finished task made."""
from __future__ import annotations

from typing import Any

from flask import Response, abort, request

from ..htmx import render_page_or_partial, trigger
from ..models import BackgroundTask
from ..services.platform import background
from . import bp

# kind prefix -> template included under a finished task (import errors, report chart ...)
TASK_OUTPUT_TEMPLATES: dict[str, str] = {
    "report:": "admin/_report_outputs.html",
    "import:books": "admin/_import_errors.html",
}


def task_context(task: BackgroundTask) -> dict[str, Any]:  # Any: template context, as render_template takes it
    """What the task templates need: the task, and the template that shows what its kind made."""
    template = next((t for prefix, t in TASK_OUTPUT_TEMPLATES.items() if task.kind.startswith(prefix)), None)
    return {"task": task, "task_outputs_template": template or "admin/_task_no_outputs.html"}


@bp.get("/tasks/<int:task_id>")
def task_status(task_id: int):
    task = background.get(task_id)
    if task is None:
        abort(404)
    response = render_page_or_partial("admin/task.html", "admin/_task.html", **task_context(task))
    if task.done and request.headers.get("HX-Request") == "true":
        response.status_code = 286  # htmx: stop polling
        if task.kind.startswith("report:"):
            trigger(response, "reportsChanged")  # the reports page's list (admin.reports.REPORTS_CHANGED)
    return response


@bp.get("/tasks/<int:task_id>/output.csv")
def task_csv(task_id: int):
    task = background.get(task_id)
    if task is None or not task.output_csv:
        abort(404)
    stem = "".join(ch if ch.isalnum() else "-" for ch in task.title.lower()).strip("-")[:60] or "export"
    return Response(task.output_csv, mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{stem}-{task.id}.csv"'})
