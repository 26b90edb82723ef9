"""Staff background work (CSV imports, reports): one job runs one BackgroundTask row
(services.platform.background)."""
from __future__ import annotations

from webapp.services.platform import background

from . import job


@job
def run_task(task_id: int) -> str:
    return background.execute(task_id)


@job
def requeue_stale_tasks() -> int:
    return background.requeue_stale()
