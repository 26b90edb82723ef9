"""Platform: the machinery every domain uses and none owns.

- Background work: `queues` (the RQ wrapper: Redis, queues, enqueue-after-commit, jobs named by dotted path),
  `background` (long-running staff tasks with progress), `outbox` (work a change must cause elsewhere, delivered
  at least once), `mail` (emails as rows, rendered from templates/email, delivered by the worker).
- Storage helpers: `txn` (has this transaction written?), `upsert` (insert once), `dml` (an UPDATE's or
  DELETE's row count), `states` (the transition-table check before a status move), `locks` (the customer lock),
  `paging` (the one paginator), `uploads` (images), `spreadsheet` (safe CSV cells).
- Security: `crypto` (encryption at rest, keyed hashes), `keys` (data-key rotation), `audit` (the audit log).
- `money` (parse and format amounts in the shop's currency) and `health` (/healthz).

Imports no other service package (and never `jobs`: jobs are enqueued by name). Where a platform module must
reach a domain, the domain registers with it: background runners, outbox handlers and their `gave_up`
callbacks.
"""
