"""Schedule for `rq cron` (run exactly one such process: see Procfile): every job in webapp/schedule.py."""
from rq import cron

from webapp.schedule import SCHEDULE

for scheduled in SCHEDULE:
    cron.register(scheduled.load(), queue_name=scheduled.queue, interval=scheduled.interval, cron=scheduled.cron,
                  name=scheduled.name)
