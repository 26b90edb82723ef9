"""Staff background work (CSV imports, reports): one job runs one BackgroundTask row."""
from __future__ import annotations

from . import job


@job
def run_task(task_id: int) -> str:
    from webapp.services.platform import background

    return background.execute(task_id)


@job
def requeue_stale_tasks() -> int:
    from webapp.services.platform import background

    return background.requeue_stale()
