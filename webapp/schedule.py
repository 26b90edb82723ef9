"""The scheduled jobs, listed once. `rq cron` registers every entry (jobs/cron.py) and
`flask --app wsgi jobs run NAME` runs one now, in its own process (webapp/cli.py). Times are UTC.

To add a job: write it in a jobs/ module (decorated with `@job`) and add one line here.
"""
from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Scheduled:
    """One scheduled job: every `interval` seconds or on a `cron` line, enqueued on `queue`."""

    name: str
    function: str  # dotted path, e.g. "jobs.email.requeue_stale_email"
    queue: str
    interval: int | None = None
    cron: str | None = None

    def load(self) -> Callable[[], object]:
        """The job function itself (imported by name: this list stays cheap to read)."""
        module, attribute = self.function.rsplit(".", 1)
        func: Callable[[], object] = getattr(importlib.import_module(module), attribute)
        return func


SCHEDULE: tuple[Scheduled, ...] = (
    Scheduled(name="requeue-stale-email", function="jobs.email.requeue_stale_email", queue="email", interval=300),
    Scheduled(name="rebuild-search-terms", function="jobs.search.rebuild_search_terms", queue="default",
              cron="17 * * * *"),
    Scheduled(name="reconcile-payments", function="jobs.payments.reconcile_payments", queue="default", interval=300),
    Scheduled(name="deliver-outbox", function="jobs.outbox.deliver_due", queue="default", interval=60),
    Scheduled(name="rental-reminders", function="jobs.rentals.rental_reminders", queue="default", cron="0 8 * * *"),
    Scheduled(name="expire-holds", function="jobs.membership.expire_holds", queue="default", interval=300),
    Scheduled(name="renew-subscriptions", function="jobs.membership.renew_subscriptions", queue="default",
              cron="5 * * * *"),
    Scheduled(name="requeue-stale-tasks", function="jobs.background.requeue_stale_tasks", queue="reports", interval=600),
    Scheduled(name="low-stock-digest", function="jobs.alerts.low_stock_digest", queue="default", cron="30 7 * * *"),
    Scheduled(name="refresh-report-rollups", function="jobs.reports.refresh_report_rollups", queue="reports",
              interval=600),
    Scheduled(name="rebuild-report-rollups", function="jobs.reports.rebuild_report_rollups", queue="reports",
              cron="40 3 * * *"),
    Scheduled(name="weekly-summary", function="jobs.reports.weekly_summary", queue="reports", cron="0 7 * * 1"),
    Scheduled(name="prune-sessions", function="jobs.membership.prune_sessions", queue="default", cron="20 4 * * *"),
    Scheduled(name="mark-lost-rentals", function="jobs.rentals.mark_lost_rentals", queue="default", cron="15 8 * * *"),
)

BY_NAME: dict[str, Scheduled] = {job.name: job for job in SCHEDULE}
