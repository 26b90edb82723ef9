from __future__ import annotations

from rq import get_current_job

from . import job


@job
def deliver_email(message_id: int) -> str:
    from webapp.services.platform import mail

    current = get_current_job()
    final = current is None or current.retries_left in (None, 0)
    return mail.deliver(message_id, final_attempt=final)


@job
def requeue_stale_email() -> int:
    from webapp.services.platform import mail

    return mail.requeue_stale()
