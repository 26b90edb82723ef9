"""Email delivery: one job per queued message (retried by RQ with backoff), and the sweeper for rows whose
job never ran (services.platform.mail)."""
from __future__ import annotations

from rq import get_current_job

from webapp.services.platform import mail

from . import job


@job
def deliver_email(message_id: int) -> str:
    current = get_current_job()
    final = current is None or current.retries_left in (None, 0)
    return mail.deliver(message_id, final_attempt=final)


@job
def requeue_stale_email() -> int:
    return mail.requeue_stale()
