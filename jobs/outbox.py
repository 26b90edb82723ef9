"""The outbox's deliveries (services.platform.outbox): one job per message after its commit, and the sweeper."""
from __future__ import annotations

from webapp.services.platform import outbox

from . import job


@job
def deliver_message(message_id: int) -> str:
    """Enqueued after the commit that wrote the message: deliver it now (the sweeper catches what this misses)."""
    return outbox.deliver(message_id)


@job
def deliver_due() -> dict[str, int]:
    """Every minute: deliver outbox messages that are due (never enqueued, retries, or whose worker died)."""
    return outbox.dispatch_due()
