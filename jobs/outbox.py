from __future__ import annotations

from . import job


@job
def deliver_message(message_id: int) -> str:
    """Enqueued after the commit that wrote the message: deliver it now (the sweeper catches what this misses)."""
    from webapp.services.platform import outbox

    return outbox.deliver(message_id)


@job
def deliver_due() -> dict:
    """Every minute: deliver outbox messages that are due (never enqueued, retries, or whose worker died)."""
    from webapp.services.platform import outbox

    return outbox.dispatch_due()
