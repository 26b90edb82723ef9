"""Request ids and structured logs (webapp.request_log, services.platform.request_ids, jobs.job)."""
from __future__ import annotations

import io
import json
import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from webapp import request_log
from webapp.services.platform import request_ids

ROOT = Path(__file__).resolve().parents[2]
GENERATED = re.compile(r"[0-9a-f]{32}")


@pytest.fixture
def json_lines():
    """The root logger's records as production writes them (the JSON formatter), parsed back, at INFO."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(request_log.formatter("json"))
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)

    def lines() -> list[dict]:
        return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]

    yield lines
    root.removeHandler(handler)
    root.setLevel(level)


def test_a_plausible_incoming_id_is_kept_and_answered(client):
    r = client.get("/healthz", headers={"X-Request-ID": "nginx-0123456789abcdef"})
    assert r.headers["X-Request-ID"] == "nginx-0123456789abcdef"


@pytest.mark.parametrize("forged", [
    "short",  # under 8 characters
    "a" * 65,  # over 64
    "abc def ghi",  # a space
    'abcdefgh"}, "level": "CRITICAL',  # trying to forge a JSON field
    "abcdefgh\\nINFO fake line",
    "ümlautümlaut",
])
def test_a_forged_id_is_replaced(client, forged):
    r = client.get("/healthz", headers={"X-Request-ID": forged})
    assert r.headers["X-Request-ID"] != forged and GENERATED.fullmatch(r.headers["X-Request-ID"])


def test_every_response_carries_an_id_404_and_500_too(app, client, monkeypatch):
    ok, missing = client.get("/healthz"), client.get("/no/such/page")
    assert ok.status_code == 200 and missing.status_code == 404

    def broken():
        raise RuntimeError("boom")

    monkeypatch.setitem(app.view_functions, "main.favicon", broken)
    failed = client.get("/favicon.ico")
    assert failed.status_code == 500
    ids = [r.headers.get("X-Request-ID") for r in (ok, missing, failed)]
    assert all(i and GENERATED.fullmatch(i) for i in ids) and len(set(ids)) == 3
    assert request_ids.current() is None  # unbound after each request: nothing leaks into the next one


def test_the_500_log_lines_carry_the_requests_id(app, client, monkeypatch, json_lines):
    def broken():
        raise RuntimeError("boom")

    monkeypatch.setitem(app.view_functions, "main.favicon", broken)
    r = client.get("/favicon.ico", headers={"X-Request-ID": "trace-500-abcdef"})
    assert r.status_code == 500
    mine = [line for line in json_lines() if line["request_id"] == "trace-500-abcdef"]
    error = next(line for line in mine if line["logger"] == "webapp.errors")
    assert error["level"] == "ERROR" and "RuntimeError: boom" in error["exc_info"]
    access = next(line for line in mine if line["logger"] == "webapp.request_log")
    assert access["status"] == 500 and access["path"] == "/favicon.ico"


def test_a_request_and_the_job_it_enqueued_log_the_same_id(app, client, auth, run_jobs, monkeypatch, json_lines):
    """Forgotten password: the request enqueues the email job after its commit; the worker (a real rq
    SimpleWorker, in this process) runs it with the request's id bound."""
    from rq.job import Job

    from webapp.services.platform import mail

    auth.user("reader1")
    delivered = mail.deliver

    def logging_deliver(message_id, **kwargs):
        logging.getLogger("tests.job").info("delivering %s", message_id)
        return delivered(message_id, **kwargs)

    monkeypatch.setattr(mail, "deliver", logging_deliver)
    r = auth.post("/password/forgot", {"email": "reader1@example.com"},
                  headers={"X-Request-ID": "req-forgot-0001"})
    assert r.status_code == 303 and r.headers["X-Request-ID"] == "req-forgot-0001"
    queue = app.extensions["folio_queues"]["email"]
    [job_id] = queue.get_job_ids()
    assert Job.fetch(job_id, connection=queue.connection).meta["request_id"] == "req-forgot-0001"
    assert request_ids.current() is None
    run_jobs()

    lines = json_lines()
    access = next(line for line in lines
                  if line["logger"] == "webapp.request_log" and line["path"] == "/password/forgot")
    assert access["request_id"] == "req-forgot-0001"
    assert access["method"] == "POST" and access["status"] == 303 and access["duration_ms"] >= 0
    assert access["user_id"] is None  # a visitor
    assert {"time", "level", "message"} <= access.keys()
    job_line = next(line for line in lines if line["logger"] == "tests.job")
    assert job_line["request_id"] == "req-forgot-0001" and job_line["message"].startswith("delivering ")
    assert request_ids.current() is None  # the worker unbound it after the job


def test_the_signed_in_users_id_is_logged(client, auth, json_lines):
    user = auth.user("reader1")
    auth.login("reader1")
    assert client.get("/account", headers={"X-Request-ID": "req-account-01"}).status_code == 200
    health = client.get("/healthz", headers={"X-Request-ID": "req-healthz-01"})
    assert health.status_code == 200
    by_id = {line["request_id"]: line for line in json_lines() if line["logger"] == "webapp.request_log"}
    assert by_id["req-account-01"]["user_id"] == user.id and by_id["req-healthz-01"]["user_id"] == user.id


def test_a_job_nobody_enqueued_from_a_request_logs_its_own_job_id(app, run_jobs, monkeypatch, json_lines):
    from webapp.services.platform import mail, queues

    def logging_sweep():
        logging.getLogger("tests.job").info("sweeping")
        return 0

    monkeypatch.setattr(mail, "requeue_stale", logging_sweep)
    job = queues.enqueue("jobs.email.requeue_stale_email", queue_name="email")
    assert job is not None and "request_id" not in job.meta
    run_jobs()
    [line] = [line for line in json_lines() if line["logger"] == "tests.job"]
    assert line["request_id"] == job.id


def test_a_secret_in_the_path_is_not_logged(client, json_lines):
    client.get("/password/reset/sEcReTtOkEn123")
    [access] = [line for line in json_lines() if line["logger"] == "webapp.request_log"]
    assert access["path"] == "/password/reset/[redacted]" and "sEcReTtOkEn123" not in json.dumps(access)


def test_production_logs_one_json_object_per_line_on_stderr(tmp_path):
    """A real process with the production config: every line on stderr is a JSON object."""
    script = (
        "from webapp import create_app\n"
        "app = create_app()\n"
        "client = app.test_client()\n"
        "r = client.get('/no/such/page', base_url='https://shop.example.com', headers={'X-Request-ID': 'prod-0001-ab'})\n"
        "print(r.status_code, r.headers['X-Request-ID'])\n"
    )
    env = {**os.environ, "FOLIO_CONFIG": "production", "FOLIO_DOTENV": "0", "SECRET_KEY": "x" * 40,
           "DATABASE_URL": f"sqlite:///{tmp_path / 'prod.db'}", "REDIS_URL": "redis://127.0.0.1:1/0",
           "RATELIMIT_STORAGE_URI": "memory://", "STRIPE_SECRET_KEY": "sk_test_x",
           "STRIPE_WEBHOOK_SECRET": "whsec_from_the_dashboard", "DATA_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
           "CODE_HASH_KEY": "h" * 40, "PUBLIC_URL": "https://shop.example.com", "UPLOAD_DIR": str(tmp_path)}
    env.pop("LOG_FORMAT", None)
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["404", "prod-0001-ab"]
    lines = [json.loads(line) for line in done.stderr.splitlines()]  # fails on any line that is not JSON
    [access] = [line for line in lines if line["logger"] == "webapp.request_log"]
    assert access["request_id"] == "prod-0001-ab" and access["status"] == 404 and access["level"] == "INFO"
    assert access["path"] == "/no/such/page" and access["user_id"] is None


def test_development_logs_stay_readable():
    record = logging.LogRecord("webapp.x", logging.INFO, __file__, 1, "hello %s", ("there",), None)
    record.request_id = "abcdef123456"
    assert request_log.formatter("text").format(record).endswith("webapp.x: hello there [abcdef123456]")
    with pytest.raises(ValueError):
        request_log.formatter("xml")


def test_the_folio_worker_logs_its_own_lines_about_a_job_under_the_jobs_id(app, json_lines):
    """`flask worker` runs cli.FolioWorker: RQ's "Job OK" line carries the id the job was enqueued under."""
    from webapp.cli import FolioWorker
    from webapp.services.platform import queues

    with request_ids.bound("req-worker-0001"):
        job = queues.enqueue("jobs.search.rebuild_search_terms", queue_name="reports")
    assert job is not None and job.meta == {"request_id": "req-worker-0001"}
    with app.app_context():
        FolioWorker([app.extensions["folio_queues"]["reports"]], connection=app.extensions["folio_redis"]).work(
            burst=True)
    ok = [line for line in json_lines() if line["logger"] == "rq.worker" and "Job OK" in line["message"]]
    assert [line["request_id"] for line in ok] == ["req-worker-0001"]
