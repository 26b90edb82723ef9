"""Background tasks: queued after commit, run once by the worker, progress and outcome stored, failures recorded."""
from datetime import timedelta

import pytest

from webapp.models import BackgroundTask, utcnow
from webapp.services.platform import background


@background.runner("test:count")
def _count(task, progress):
    n = task.params["n"]
    for i in range(1, n + 1):
        progress(i, n, f"row {i}")
    if task.params.get("explode"):
        raise ValueError("row 3 is not a book")
    return background.Outcome(message=f"Counted {n}.", result={"n": n}, csv="n\n" + str(n) + "\n",
                              charts={"count": f"<svg>{n}</svg>", "half": f"<svg>{n / 2}</svg>"})


def test_task_runs_after_commit_and_stores_its_outcome(app, db, run_jobs):
    task = background.start("test:count", "Counting", params={"n": 3})
    run_jobs()  # not committed yet: nothing was enqueued
    db.session.refresh(task)
    assert task.status == "queued"
    db.session.commit()
    run_jobs()
    db.session.expire_all()
    task = db.session.get(BackgroundTask, task.id)
    assert (task.status, task.progress, task.total, task.percent) == ("finished", 3, 3, 100)
    assert task.message == "Counted 3." and task.result == {"n": 3} and task.output_csv == "n\n3\n"
    assert task.output_charts == {"count": "<svg>3</svg>", "half": "<svg>1.5</svg>"}  # stored by name, as JSON
    assert background.execute(task.id) == "skipped"  # a second delivery of the job does nothing


def test_failure_is_recorded_with_a_message(app, db, run_jobs):
    task = background.start("test:count", "Counting", params={"n": 3, "explode": True})
    db.session.commit()
    run_jobs()
    db.session.expire_all()
    task = db.session.get(BackgroundTask, task.id)
    assert task.status == "failed" and task.message == "Failed: row 3 is not a book"
    assert task.progress == 3  # progress reached before the failure stays visible


def test_unknown_kind_is_refused(app, db):
    with pytest.raises(ValueError):
        background.start("test:nope", "Nothing")


def test_status_polls_until_done_then_answers_286(app, db, admin_client, run_jobs):
    client = admin_client
    task = background.start("test:count", "Counting", params={"n": 2})
    db.session.commit()
    page = client.get(f"/admin/tasks/{task.id}", headers={"HX-Request": "true"})
    assert page.status_code == 200 and 'hx-trigger="load delay:1s"' in page.text and "Waiting for a worker" in page.text
    run_jobs()
    done = client.get(f"/admin/tasks/{task.id}", headers={"HX-Request": "true"})
    assert done.status_code == 286 and "hx-trigger" not in done.text and "Counted 2." in done.text
    csv = client.get(f"/admin/tasks/{task.id}/output.csv")
    assert csv.status_code == 200 and csv.mimetype == "text/csv" and csv.data == b"n\n2\n"
    assert "attachment" in csv.headers["Content-Disposition"]
    assert client.get("/admin/tasks/999999").status_code == 404


def test_a_task_whose_worker_died_is_marked_failed_not_left_running(app, db):
    stuck = background.start("test:count", "Counting", params={"n": 1})
    fresh = background.start("test:count", "Counting", params={"n": 1})
    stuck.status, stuck.started_at = "running", utcnow() - timedelta(hours=2)
    fresh.status, fresh.started_at = "running", utcnow() - timedelta(minutes=1)
    db.session.commit()
    background.requeue_stale()
    db.session.expire_all()
    assert db.session.get(BackgroundTask, stuck.id).status == "failed"
    assert "Interrupted" in db.session.get(BackgroundTask, stuck.id).message
    assert db.session.get(BackgroundTask, fresh.id).status == "running"
