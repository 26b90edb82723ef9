"""Schedule for `rq cron` (run exactly one such process: see Procfile): every job in jobs/schedule.py."""
from rq import cron

from jobs.schedule import SCHEDULE

for scheduled in SCHEDULE:
    cron.register(scheduled.load(), queue_name=scheduled.queue, interval=scheduled.interval, cron=scheduled.cron,
                  name=scheduled.name)
