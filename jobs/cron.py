"""Schedule for `rq cron` (run exactly one such process: see Procfile). Times are UTC."""
from rq import cron

from jobs.alerts import low_stock_digest
from jobs.background import requeue_stale_tasks
from jobs.email import requeue_stale_email
from jobs.membership import expire_holds, prune_sessions, renew_subscriptions
from jobs.outbox import deliver_due
from jobs.payments import reconcile_payments
from jobs.rentals import rental_reminders
from jobs.reports import rebuild_report_rollups, refresh_report_rollups, weekly_summary
from jobs.search import rebuild_search_terms

cron.register(requeue_stale_email, queue_name="email", interval=300, name="requeue-stale-email")
cron.register(rebuild_search_terms, queue_name="default", cron="17 * * * *", name="rebuild-search-terms")
cron.register(reconcile_payments, queue_name="default", interval=300, name="reconcile-payments")
cron.register(deliver_due, queue_name="default", interval=60, name="deliver-outbox")
cron.register(rental_reminders, queue_name="default", cron="0 8 * * *", name="rental-reminders")
cron.register(expire_holds, queue_name="default", interval=300, name="expire-holds")
cron.register(renew_subscriptions, queue_name="default", cron="5 * * * *", name="renew-subscriptions")
cron.register(requeue_stale_tasks, queue_name="reports", interval=600, name="requeue-stale-tasks")
cron.register(low_stock_digest, queue_name="default", cron="30 7 * * *", name="low-stock-digest")
cron.register(refresh_report_rollups, queue_name="reports", interval=600, name="refresh-report-rollups")
cron.register(rebuild_report_rollups, queue_name="reports", cron="40 3 * * *", name="rebuild-report-rollups")
cron.register(weekly_summary, queue_name="reports", cron="0 7 * * 1", name="weekly-summary")
cron.register(prune_sessions, queue_name="default", cron="20 4 * * *", name="prune-sessions")
