"""Flask CLI commands: worker, scheduled jobs, data-key rotation, search maintenance, backups (and the demo ones)."""
from __future__ import annotations

import re
from pathlib import Path

import click
from flask import Flask, current_app
from rq import SimpleWorker

from . import schedule
from .demo import cli as demo_cli
from .extensions import db
from .services.catalog import vocabulary
from .services.people import accounts
from .services.platform import backup, crypto, keys, request_ids
from .services.platform.queues import queue

# What `flask --app wsgi jobs run NAME` can run: the jobs `rq cron` schedules (one list: webapp/schedule.py).
SCHEDULED_JOBS = schedule.BY_NAME


def worker_queues(requested: tuple[str, ...], known: tuple[str, ...]) -> list[str]:
    """The queues a worker listens on, in the order given (RQ serves the first one first), each once: every
    known queue when none is named. ValueError names a queue that nothing enqueues on (a typo would otherwise
    leave a worker waiting forever on an empty queue)."""
    names: list[str] = []
    for argument in requested:
        for name in argument.replace(":", ",").split(","):
            name = name.strip()
            if name and name not in names:
                names.append(name)
    unknown = [name for name in names if name not in known]
    if unknown:
        raise ValueError(f"unknown queue(s): {', '.join(unknown)}; Folio's queues are {', '.join(known)}")
    return names or list(known)


class FolioWorker(SimpleWorker):
    """RQ's SimpleWorker with the job's request id bound while it handles the job, so RQ's own lines about it
    ("Successfully completed", "Job OK", a failure's traceback) carry the id of the request that enqueued it, as
    the job's lines do (jobs.job binds it too, for a plain `rq worker`)."""

    def execute_job(self, job, queue):
        with request_ids.bound(request_ids.for_job(job.meta, job.id)):
            return super().execute_job(job, queue)


def register(app: Flask) -> None:
    demo_cli.register(app)  # seed, demo-credentials, demo-totp
    _register_backups(app)

    @app.cli.command("create-admin")
    @click.option("--email", prompt=True, help="The admin's email address.")
    @click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True,
                  help="At least 10 characters, not a common password.")
    @click.option("--username", default=None, help="Defaults to the part of the email before @.")
    def create_admin(email: str, password: str, username: str | None):
        """Create a verified admin account (2FA is set up at first admin sign-in)."""
        if username is None:
            username = re.sub(r"[^A-Za-z0-9_]", "_", email.split("@")[0])[:24]
            if len(username) < 3:
                username += "_admin"
        try:
            user = accounts.create_user(username, email, password, role="admin")
        except accounts.AccountError as exc:
            db.session.rollback()
            raise click.ClickException(str(exc)) from None
        db.session.commit()
        click.echo(f"Admin '{user.username}' <{user.email}> created. Sign in to set up two-factor authentication.")

    @app.cli.command("worker")
    @click.option("--burst", is_flag=True, help="Run the jobs waiting now, then exit.")
    @click.argument("queues", nargs=-1)
    def worker(burst: bool, queues: tuple[str, ...]):
        """Run an RQ worker inside this app's context on QUEUES, highest priority first (all queues by default).

        Run one worker per queue set so that mail and payments never wait behind reports and imports:
        `worker email default` and `worker reports` (the Procfile and deploy/folio-worker@.service do).
        Names may also be joined with "," or ":" (systemd instance names: folio-worker@email:default).
        """
        try:
            names = worker_queues(queues, current_app.config["RQ_QUEUES"])
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="QUEUES") from None
        click.echo(f"Folio worker on queue(s): {', '.join(names)}", err=True)
        connection = current_app.extensions["folio_redis"]
        w = FolioWorker([queue(n) for n in names], connection=connection)
        w.work(burst=burst, with_scheduler=not burst)

    @app.cli.group("jobs")
    def jobs_group():
        """Scheduled jobs."""

    @jobs_group.command("run")
    @click.argument("name", type=click.Choice(sorted(SCHEDULED_JOBS)))
    def run_job(name: str):
        """Run one scheduled job now, in this process (the same function `rq cron` enqueues)."""
        click.echo(f"{name}: {SCHEDULED_JOBS[name].load()()}")

    @app.cli.group("keys")
    def keys_group():
        """Data-encryption keys (DATA_ENCRYPTION_KEYS): make one, re-encrypt under the newest."""

    @keys_group.command("generate")
    def keys_generate():
        """Print a new random Fernet key (for DATA_ENCRYPTION_KEYS; also fit for CODE_HASH_KEY)."""
        click.echo(crypto.generate_key())

    @keys_group.command("rotate")
    @click.option("--batch-size", default=500, show_default=True, type=click.IntRange(1, 100_000),
                  help="Values read and re-encrypted per transaction.")
    def keys_rotate(batch_size: int):
        """Re-encrypt every stored secret under the newest key (the first in DATA_ENCRYPTION_KEYS).

        Safe to run again and while the shop is open. Exits with status 1 when a value no configured key opens
        is found (reported by table and id, left as it is): keep the old keys until that is dealt with.
        """
        reports = keys.rotate(batch_size)
        for report in reports:
            click.echo(report.line())
        unreadable = sum(len(report.unreadable) for report in reports)
        if unreadable:
            raise click.ClickException(f"{unreadable} value(s) could not be opened with any configured key; "
                                       "do not remove an old key until they are dealt with")
        click.echo("Every value is under the newest key: older keys can be removed from DATA_ENCRYPTION_KEYS.")

    @keys_group.command("legacy")
    @click.option("--secret-key", default=None, help="The SECRET_KEY the data was encrypted under "
                  "(default: the configured one).")
    def keys_legacy(secret_key: str | None):
        """Print the key Folio derived from SECRET_KEY before DATA_ENCRYPTION_KEYS was required.

        Upgrading an installation that ran without DATA_ENCRYPTION_KEYS: set DATA_ENCRYPTION_KEYS="<new key>,<this
        key>", restart, run `keys rotate`, then remove this key (it is derived from SECRET_KEY: whoever has that
        has it).
        """
        click.echo(crypto.key_from_secret(secret_key or current_app.config["SECRET_KEY"]))

    @app.cli.group("search")
    def search_group():
        """Search maintenance."""

    @search_group.command("rebuild-terms")
    def rebuild_terms():
        """Rebuild the "did you mean" vocabulary now."""
        count = vocabulary.rebuild_terms()
        db.session.commit()
        click.echo(f"{count} terms")


def _size(count: int) -> str:
    return f"{count / 1_000_000:.1f} MB" if count >= 100_000 else f"{count:,} bytes"


def _register_backups(app: Flask) -> None:
    """`backup` and `restore` (services.platform.backup: one tar with the database dump and the uploads)."""

    @app.cli.command("backup")
    @click.option("--output", type=click.Path(path_type=Path), default=None,
                  help="A .tar file to write, or a directory to write folio-backup-<UTC time>.tar in "
                  "(default: BACKUP_DIR).")
    @click.option("--keep", type=click.IntRange(1, None), default=None,
                  help="Then delete all but the newest KEEP folio-backup-*.tar files in that directory.")
    def backup_command(output: Path | None, keep: int | None):
        """Back up the database (pg_dump, or SQLite's backup API) and the uploaded images into one tar file."""
        try:
            written = backup.backup(output)
        except backup.BackupError as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(f"Backup written: {written.path} ({_size(written.size)}; {written.dialect} database "
                   f"{_size(written.database_bytes)}, {written.upload_files} uploaded file(s))")
        if keep:
            for gone in backup.prune(written.path.parent, keep):
                click.echo(f"Deleted old backup {gone}")

    @app.cli.command("restore")
    @click.argument("path", type=click.Path(path_type=Path, exists=True, dir_okay=False))
    @click.option("--yes", is_flag=True, help="Confirm: the database and the uploaded images are REPLACED.")
    def restore_command(path: Path, yes: bool):
        """Replace the database and the uploaded images with a backup's. Stop the web and worker processes
        first; refuses to run without --yes."""
        if not yes:
            raise click.UsageError("restore overwrites this shop's database and uploaded images with the "
                                   f"backup's: run again with --yes to do it ({path})")
        try:
            restored = backup.restore(path)
        except backup.BackupError as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(f"Restored {restored.path}: {restored.dialect} database made {restored.created_at} "
                   f"(schema revision {restored.revision}), {restored.upload_files} uploaded file(s). "
                   "Run `flask --app wsgi db upgrade` if this code is newer than the backup.")
        if not restored.cache_cleared:
            click.echo("Warning: Redis could not be reached, so cached catalog pages may still show the replaced "
                       "data: run `flask --app wsgi cache-clear` once Redis is back.", err=True)

    @app.cli.command("cache-clear")
    def cache_clear_command():
        """Make every cached catalog page unreachable (after changing the database behind the app's back: a
        restore, hand-written SQL, a data migration); they are rebuilt from the database on the next request."""
        if not backup.forget_cached_pages():
            raise click.ClickException("Redis could not be reached: nothing was cleared")
        click.echo("Cached catalog pages cleared.")
