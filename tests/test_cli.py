from pathlib import Path

import pytest
from sqlalchemy import func, select

from webapp.models import Book, SearchTerm


def test_seed_command_is_idempotent(runner, db):
    result = runner.invoke(args=["seed", "--books", "30", "--seed", "4"])
    assert result.exit_code == 0, result.output
    assert "Added 30 demo books" in result.output
    assert "demo admin: login 'admin'" in result.output
    again = runner.invoke(args=["seed", "--books", "30", "--seed", "4"])
    assert "The demo shop already has its 30 books; nothing to add." in again.output
    assert db.session.scalar(select(func.count()).select_from(Book)) == 30
    assert db.session.scalar(select(func.count()).select_from(SearchTerm)) > 10


def test_seed_rejects_negative_counts(runner):
    result = runner.invoke(args=["seed", "--books", "-5"])
    assert result.exit_code != 0 and "Invalid value" in result.output


def test_worker_burst_runs_queued_jobs(app, runner, db):
    from webapp.models import OutboundEmail
    from webapp.services.platform import mail

    message_id = mail.send("w@example.com", "From the worker", "Body").id
    db.session.commit()
    result = runner.invoke(args=["worker", "--burst"])
    assert result.exit_code == 0, result.output
    db.session.expire_all()
    assert db.session.get(OutboundEmail, message_id).status == "outbox"


def test_search_rebuild_terms_command(runner, make_book):
    make_book("Zephyrine Meadows")
    result = runner.invoke(args=["search", "rebuild-terms"])
    assert result.exit_code == 0 and "terms" in result.output


def test_seed_gives_the_demo_admin_2fa_with_the_published_key(runner, db):
    import pyotp

    from webapp.demo.accounts import DEMO_ADMIN_TOTP
    from webapp.models import User
    from webapp.services.people import twofactor

    assert runner.invoke(args=["seed", "--books", "5"]).exit_code == 0
    admin = db.session.scalars(select(User).where(User.username == "admin")).one()
    assert admin.has_2fa and twofactor.verify(admin, pyotp.TOTP(DEMO_ADMIN_TOTP).now()) == "totp"
    out = runner.invoke(args=["demo-credentials"]).output
    assert DEMO_ADMIN_TOTP in out and "admin-demo-pass-2026" in out
    assert runner.invoke(args=["demo-totp"]).output.strip().isdigit()


# ---- workers per queue set (issue 12, finding 6) ----

def test_worker_queue_selection():
    from webapp.cli import worker_queues

    known = ("default", "email", "reports")
    assert worker_queues((), known) == ["default", "email", "reports"]
    assert worker_queues(("email", "default"), known) == ["email", "default"]  # priority as given
    assert worker_queues(("email,default",), known) == ["email", "default"]
    assert worker_queues(("email:default", "email"), known) == ["email", "default"]  # systemd instance names
    with pytest.raises(ValueError, match="unknown queue\\(s\\): emial; Folio's queues are default, email, reports"):
        worker_queues(("emial", "default"), known)


def test_worker_refuses_an_unknown_queue(runner):
    result = runner.invoke(args=["worker", "--burst", "email", "reprots"])
    assert result.exit_code == 2 and "unknown queue(s): reprots" in result.output


def test_worker_serves_only_its_queues(app, runner):
    from webapp.services.platform.queues import queue

    jobs = {name: queue(name).enqueue(len, name) for name in ("email", "default", "reports")}
    result = runner.invoke(args=["worker", "--burst", "email", "default"])
    assert result.exit_code == 0, result.output
    assert "queue(s): email, default" in result.output
    for job in jobs.values():
        job.refresh()
    assert {name: job.get_status() for name, job in jobs.items()} == {
        "email": "finished", "default": "finished", "reports": "queued"}  # a long report waits for its own worker
    assert runner.invoke(args=["worker", "--burst", "reports"]).exit_code == 0
    jobs["reports"].refresh()
    assert jobs["reports"].get_status() == "finished" and jobs["reports"].return_value() == len("reports")


ROOT = Path(__file__).resolve().parent.parent


def _procfile() -> dict[str, str]:
    return dict(line.split(": ", 1) for line in (ROOT / "Procfile").read_text().splitlines() if line.strip())


def test_procfile_runs_mail_and_payments_apart_from_reports(app):
    from webapp.cli import worker_queues

    known = tuple(app.config["RQ_QUEUES"])
    workers = {name: worker_queues(tuple(command.split("worker", 1)[1].split()), known)
               for name, command in _procfile().items() if "flask --app wsgi worker" in command}
    assert sorted(q for qs in workers.values() for q in qs) == sorted(known)  # every queue served, once
    (fast,) = [qs for qs in workers.values() if "email" in qs]
    assert fast[0] == "email" and "default" in fast and "reports" not in fast
    assert "db upgrade" not in (ROOT / "Procfile").read_text()


def test_deploy_units_migrate_only_in_the_release_step(app):
    from webapp.cli import worker_queues

    deploy = ROOT / "deploy"
    assert "db upgrade" not in (deploy / "folio-web.service").read_text().replace("# No migrations", "")
    assert "ExecStartPre" not in (deploy / "folio-web.service").read_text()
    release = (deploy / "folio-release.service").read_text()
    assert "Type=oneshot" in release and "flask --app wsgi db upgrade" in release and "[Install]" not in release
    unit = (deploy / "folio-worker@.service").read_text()
    assert "ExecStart=/srv/folio/.venv/bin/flask --app wsgi worker %i" in unit
    for instance in ("email:default", "reports"):  # the instances the unit's comment tells operators to enable
        assert f"folio-worker@{instance}" in unit
        assert worker_queues((instance,), tuple(app.config["RQ_QUEUES"]))
    assert not (deploy / "folio-worker.service").exists()


def test_rq_cron_and_jobs_run_share_one_schedule(app):
    """`rq cron --path . jobs/cron.py` (the Procfile's scheduler) registers exactly the jobs of webapp/schedule.py,
    on their queues and times, and `flask jobs run` offers the same names."""
    import fakeredis
    from rq.cron import CronScheduler

    from webapp.cli import SCHEDULED_JOBS
    from webapp.schedule import SCHEDULE

    assert "rq cron --url $REDIS_URL --path . jobs/cron.py" in _procfile()["scheduler"]
    scheduler = CronScheduler(connection=fakeredis.FakeRedis())
    scheduler.load_config_from_file("jobs/cron.py")
    registered = sorted((j.name, j.func_name, j.queue_name, j.interval, j.cron) for j in scheduler.get_jobs())
    assert registered == sorted((s.name, s.function, s.queue, s.interval, s.cron) for s in SCHEDULE)
    assert len(registered) == len({s.name for s in SCHEDULE})  # each name once
    assert sorted(SCHEDULED_JOBS) == sorted(s.name for s in SCHEDULE)
    for scheduled in SCHEDULE:
        assert callable(scheduled.load()) and (scheduled.interval is None) != (scheduled.cron is None)
