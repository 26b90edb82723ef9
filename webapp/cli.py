"""Flask CLI commands: seed, worker, search maintenance."""
from __future__ import annotations

import click
from flask import Flask, current_app

from .extensions import db

# The demo admin's TOTP key: demo data only, printed by `make run` (admins must use 2FA).
DEMO_ADMIN_TOTP = "FOLIODEMOADMIN2FA7ONLYFORDEMOS22"


def _demo_admin_2fa() -> None:
    """Turn on two-factor authentication for the demo admin with the published demo key."""
    import pyotp
    from sqlalchemy import select

    from .models import User
    from .services import twofactor

    admin = db.session.scalar(select(User).where(User.username == "admin", User.role == "admin"))
    if admin is None or admin.has_2fa:
        return
    twofactor.enable(admin, DEMO_ADMIN_TOTP, pyotp.TOTP(DEMO_ADMIN_TOTP).now())
    admin.totp_last_step = None
    db.session.commit()


# What `flask --app wsgi jobs run NAME` can run: the jobs jobs/cron.py schedules.
SCHEDULED_JOBS = {
    "requeue-stale-email": "jobs.email.requeue_stale_email",
    "rebuild-search-terms": "jobs.search.rebuild_search_terms",
    "reconcile-payments": "jobs.payments.reconcile_payments",
    "deliver-outbox": "jobs.outbox.deliver_due",
    "rental-reminders": "jobs.rentals.rental_reminders",
    "expire-holds": "jobs.membership.expire_holds",
    "renew-subscriptions": "jobs.membership.renew_subscriptions",
    "requeue-stale-tasks": "jobs.tasks.requeue_stale_tasks",
    "refresh-report-rollups": "jobs.reports.refresh_report_rollups",
    "rebuild-report-rollups": "jobs.reports.rebuild_report_rollups",
    "weekly-summary": "jobs.reports.weekly_summary",
    "low-stock-digest": "jobs.alerts.low_stock_digest",
}


def register(app: Flask) -> None:
    @app.cli.command("seed")
    @click.option("--books", default=2000, show_default=True, type=click.IntRange(0, 5_000_000),
                  help="How many demo books the catalog should hold for this seed.")
    @click.option("--seed", "seed_value", default=1, show_default=True, type=int, help="Random seed.")
    @click.option("--no-users", is_flag=True, help="Do not create the demo customer and admin.")
    @click.option("--quiet", is_flag=True)
    def seed_command(books: int, seed_value: int, no_users: bool, quiet: bool):
        """Load deterministic demo data (idempotent: re-runs add nothing twice)."""
        from .services import demo

        result = demo.seed(books, seed_value, progress=None if quiet else click.echo, with_users=not no_users)
        if not no_users:
            _demo_admin_2fa()
        click.echo(f"Seeded {result.books_added} books and {result.authors_added} authors "
                   f"in {result.seconds:.1f}s.")
        for role, login, password in ([] if quiet else result.users):
            click.echo(f"  demo {role}: login '{login}', password '{password}'")

    @app.cli.command("demo-credentials")
    def demo_credentials():
        """Print the demo accounts created by `seed`."""
        from .services.demo import DEMO_USERS

        for role, username, _email, password, _name in DEMO_USERS:
            click.echo(f"  demo {role}: login '{username}', password '{password}'")
        click.echo(f"  demo admin two-factor key: {DEMO_ADMIN_TOTP} (add it to an authenticator app, "
                   "or run `flask --app wsgi demo-totp` for the current code)")

    @app.cli.command("demo-totp")
    def demo_totp():
        """Print the demo admin's current two-factor code (demo data only)."""
        import pyotp

        click.echo(pyotp.TOTP(DEMO_ADMIN_TOTP).now())

    @app.cli.command("create-admin")
    @click.option("--email", prompt=True, help="The admin's email address.")
    @click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True,
                  help="At least 10 characters, not a common password.")
    @click.option("--username", default=None, help="Defaults to the part of the email before @.")
    def create_admin(email: str, password: str, username: str | None):
        """Create a verified admin account (2FA is set up at first admin sign-in)."""
        import re

        from .services import accounts

        if username is None:
            username = re.sub(r"[^A-Za-z0-9_]", "_", email.split("@")[0])[:24]
            if len(username) < 3:
                username += "_admin"
        try:
            user = accounts.create_user(username, email, password, role="admin")
        except accounts.AccountError as exc:
            db.session.rollback()
            raise click.ClickException(str(exc)) from None
        db.session.commit()
        click.echo(f"Admin '{user.username}' <{user.email}> created. Sign in to set up two-factor authentication.")

    @app.cli.command("worker")
    @click.option("--burst", is_flag=True, help="Run the jobs waiting now, then exit.")
    @click.argument("queues", nargs=-1)
    def worker(burst: bool, queues: tuple[str, ...]):
        """Run an RQ worker inside this app's context (all queues by default)."""
        from rq import SimpleWorker

        from .services.tasks import queue

        names = queues or current_app.config["RQ_QUEUES"]
        connection = current_app.extensions["folio_redis"]
        w = SimpleWorker([queue(n) for n in names], connection=connection)
        w.work(burst=burst, with_scheduler=not burst)

    @app.cli.group("jobs")
    def jobs_group():
        """Scheduled jobs."""

    @jobs_group.command("run")
    @click.argument("name", type=click.Choice(sorted(SCHEDULED_JOBS)))
    def run_job(name: str):
        """Run one scheduled job now, in this process (the same function `rq cron` enqueues)."""
        import importlib

        module, func = SCHEDULED_JOBS[name].rsplit(".", 1)
        click.echo(f"{name}: {getattr(importlib.import_module(module), func)()}")

    @app.cli.group("search")
    def search_group():
        """Search maintenance."""

    @search_group.command("rebuild-terms")
    def rebuild_terms():
        """Rebuild the "did you mean" vocabulary now."""
        from .services import search

        count = search.rebuild_terms()
        db.session.commit()
        click.echo(f"{count} terms")
