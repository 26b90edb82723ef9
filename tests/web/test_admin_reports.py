"""Admin reports page: validated form, report queued as a background task, progress polled until 286, chart,
figures table and CSV download, re-opened from the recent list."""
import json
import re
from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from markupsafe import Markup

from tests.checkout_helpers import settle, shopper, start
from webapp.models import BackgroundTask
from webapp.services.insight import rollups
from webapp.services.platform import background


def post(client, auth, data, **kwargs):
    return client.post("/admin/reports", data={"csrf_token": auth.csrf(client), **data}, **kwargs)


@pytest.fixture
def sold(app, db, make_book):
    book = make_book("Report <Star>", authors=("Ann Author",), genres=("Fiction",), price_cents=2500, on_hand=5)
    with time_machine.travel(datetime(2026, 3, 2, 10, tzinfo=UTC), tick=False):
        order = start(shopper("buyer"), [(book, 2, "buy", 0)])
        settle(order, "pi_web", order.card_cents)
        db.session.commit()
    rollups.refresh_rollups(full=True)
    return book


def test_page_shows_form_freshness_and_revenue_definition(admin_client, sold):
    page = admin_client.get("/admin/reports")
    assert page.status_code == 200
    html = page.text
    assert 'data-testid="report-form"' in html and "Sales over time" in html and "Inventory status" in html
    assert "last refreshed at" in html and "What counts as revenue" in html and "paid, shipped or delivered" in html
    assert '<label for="date_from">' in html and "No reports yet." in html


@pytest.mark.parametrize("data, message", [
    ({"date_from": "2026-03-31", "date_to": "2026-03-01"}, "The end date is before the start date."),
    ({"date_from": "2023-01-01", "date_to": "2026-03-01"}, "A report covers at most 731 days"),
    ({"date_from": "2026-03-01", "date_to": "not-a-date"}, "Not a valid date value."),
    ({"date_from": "", "date_to": ""}, "Choose both a start and an end date."),
    ({"date_from": "2026-03-01", "date_to": (date.today() + timedelta(days=3)).isoformat()}, "cannot be after today"),
    ({"report": "report:nope"}, "Not a valid choice"),
    ({"granularity": "hourly"}, "Not a valid choice"),
])
def test_bad_input_is_explained_never_a_500(admin_client, auth, db, data, message):
    form = {"report": "report:sales", "date_from": "2026-03-01", "date_to": "2026-03-31", "granularity": "day",
            "limit": "25", **data}
    response = post(admin_client, auth, form, headers={"HX-Request": "true"})
    assert response.status_code == 200 and message in response.text
    assert "<html" not in response.text and 'aria-invalid="true"' in response.text
    assert db.session.query(BackgroundTask).count() == 0


def test_inventory_report_needs_no_period(admin_client, auth, db, sold, run_jobs):
    response = post(admin_client, auth, {"report": "report:inventory", "date_from": "", "date_to": "",
                                         "granularity": "day", "limit": "10"})
    assert response.status_code == 303
    task_id = int(response.headers["Location"].rsplit("/", 1)[1])
    run_jobs()
    page = admin_client.get(f"/admin/reports/{task_id}")
    assert page.status_code == 200 and 'data-testid="inventory-summary"' in page.text and "<svg" in page.text
    assert "read live at" in page.text


def test_start_poll_chart_csv_and_reopen(admin_client, auth, db, sold, run_jobs):
    response = post(admin_client, auth, {"report": "report:books", "date_from": "2026-03-01",
                                         "date_to": "2026-03-31", "granularity": "day", "limit": "10"},
                    headers={"HX-Request": "true"})
    assert response.status_code == 200 and 'data-testid="report-started"' in response.text
    task_id = int(re.search(r'id="task-(\d+)"', response.text).group(1))
    assert f'hx-get="/admin/tasks/{task_id}"' in response.text and 'hx-trigger="load delay:1s"' in response.text
    waiting = admin_client.get(f"/admin/tasks/{task_id}", headers={"HX-Request": "true"})
    assert waiting.status_code == 200 and "Waiting for a worker" in waiting.text

    run_jobs()
    done = admin_client.get(f"/admin/tasks/{task_id}", headers={"HX-Request": "true"})
    assert done.status_code == 286 and "hx-trigger" not in done.text
    html = done.text
    assert '<svg role="img" aria-label="Best sellers' in html  # the chart, inline
    assert 'data-testid="best-table"' in html and "Report &lt;Star&gt;" in html  # its figures, escaped
    assert "Report <Star>" not in html.split("<svg", 1)[0]
    assert "Sales rollups as of" in html and 'data-testid="task-csv"' in html

    csv = admin_client.get(f"/admin/tasks/{task_id}/output.csv")
    assert csv.status_code == 200 and csv.mimetype == "text/csv"
    assert csv.text.splitlines()[1].startswith(f"best,1,{sold.id},Report <Star>,Ann Author,2,0,50.00,3,3,")

    listing = admin_client.get("/admin/reports")
    assert f'href="/admin/reports/{task_id}"' in listing.text and "Best and least sold books, 2026-03-01" in listing.text
    page = admin_client.get(f"/admin/reports/{task_id}")
    assert page.status_code == 200 and 'data-testid="least-table"' in page.text and "<svg" in page.text


def test_sales_report_without_htmx_redirects_to_its_page(admin_client, auth, db, sold, run_jobs):
    response = post(admin_client, auth, {"report": "report:sales", "date_from": "2026-02-01", "date_to": "2026-03-31",
                                         "granularity": "month", "limit": "25"})
    assert response.status_code == 303
    location = response.headers["Location"]
    queued = admin_client.get(location)
    assert queued.status_code == 200 and "Waiting for a worker" in queued.text
    run_jobs()
    page = admin_client.get(location)
    assert page.status_code == 200 and 'data-testid="sales-table"' in page.text
    assert "<th scope=\"row\">2026-03</th><td>1</td><td>$50.00</td>" in page.text
    assert page.text.count("<svg") == 2  # revenue and orders


def test_reports_are_admin_only_and_other_tasks_are_not_reports(app, client, auth, db, admin_client):
    auth.user("reader")
    auth.login("reader")
    assert client.get("/admin/reports").status_code == 403

    @background.runner("test:other")
    def _other(task, progress):
        return background.Outcome("ok")

    task = background.start("test:other", "Other")
    db.session.commit()
    assert admin_client.get(f"/admin/reports/{task.id}").status_code == 404
    assert admin_client.get("/admin/reports/999999").status_code == 404


def test_each_stored_chart_is_shown_by_its_name_and_no_other(app, admin_client, auth, db, sold, run_jobs):
    response = post(admin_client, auth, {"report": "report:genres", "date_from": "2026-03-01", "date_to": "2026-03-31",
                                         "granularity": "day", "limit": "10"})
    task_id = int(response.headers["Location"].rsplit("/", 1)[1])
    run_jobs()
    db.session.expire_all()
    task = db.session.get(BackgroundTask, task_id)
    assert list(task.output_charts) == ["genres", "authors"]  # the row holds the charts by name
    page = admin_client.get(f"/admin/reports/{task_id}")
    assert page.status_code == 200 and page.text.count("<svg") == 2
    for svg in task.output_charts.values():
        assert svg in page.text  # each one inline, as stored

    report_chart = app.jinja_env.globals["report_chart"]
    assert report_chart(task, "authors") == Markup(task.output_charts["authors"])
    assert report_chart(task, "revenue") is None  # not one of this report's charts

    # Text a migrated row kept from before its first marker (name "") is never shown, nor is a chart not an SVG.
    task.output_charts = {"": "<svg>stray</svg>", "genres": "not a chart", "authors": task.output_charts["authors"]}
    db.session.commit()
    page = admin_client.get(f"/admin/reports/{task_id}")
    assert page.status_code == 200 and page.text.count("<svg") == 1 and "stray" not in page.text
    assert "not a chart" not in page.text


def test_recent_reports_list_refreshes_when_a_report_is_queued_and_when_it_finishes(admin_client, auth, db, sold,
                                                                                    run_jobs):
    """The page's list was drawn before the report existed ("No reports yet") and the htmx form answer swaps
    only the form: the list is refreshed by the "reportsChanged" event of the form's answer and of the status
    partial's last (286) answer, and its own URL lists the finished report."""
    page = admin_client.get("/admin/reports").text
    listing = re.search(r'<div id="report-list"([^>]*)>', page)
    assert listing and 'hx-get="/admin/reports/list"' in listing.group(1)
    assert 'hx-trigger="reportsChanged from:body"' in listing.group(1) and "No reports yet." in page

    started = post(admin_client, auth, {"report": "report:sales", "date_from": "2026-03-01",
                                        "date_to": "2026-03-31", "granularity": "day", "limit": "10"},
                   headers={"HX-Request": "true"})
    assert json.loads(started.headers["HX-Trigger"]) == {"reportsChanged": True}
    task_id = int(re.search(r'id="task-(\d+)"', started.text).group(1))
    queued = admin_client.get("/admin/reports/list", headers={"HX-Request": "true"})
    assert queued.status_code == 200 and "<html" not in queued.text and "No reports yet" not in queued.text
    assert f'href="/admin/reports/{task_id}"' in queued.text and "<td>queued</td>" in queued.text
    assert "HX-Request" in queued.headers["Vary"]

    polling = admin_client.get(f"/admin/tasks/{task_id}", headers={"HX-Request": "true"})
    assert polling.status_code == 200 and "HX-Trigger" not in polling.headers  # nothing new for the list yet
    run_jobs()
    done = admin_client.get(f"/admin/tasks/{task_id}", headers={"HX-Request": "true"})
    assert done.status_code == 286 and json.loads(done.headers["HX-Trigger"]) == {"reportsChanged": True}
    finished = admin_client.get("/admin/reports/list", headers={"HX-Request": "true"}).text
    assert f'href="/admin/reports/{task_id}"' in finished and "<td>finished</td>" in finished

    assert admin_client.get("/admin/reports/list").status_code == 303  # without htmx: the reports page


def test_other_tasks_finishing_do_not_refresh_the_reports_list(app, admin_client, db, run_jobs):
    @background.runner("test:not-a-report")
    def _other(task, progress):
        return background.Outcome("ok")

    task = background.start("test:not-a-report", "Other")
    db.session.commit()
    run_jobs()
    done = admin_client.get(f"/admin/tasks/{task.id}", headers={"HX-Request": "true"})
    assert done.status_code == 286 and "HX-Trigger" not in done.headers
