"""Fault-injection helpers: a real Redis server a test can stop and start again, a second app bound to the
suite's database but to that Redis, and real RQ worker processes a test can kill.

The suite's own Redis (TEST_REDIS_URL or fakeredis) is never touched: each fault test brings its own
redis-server on a spare port, so the same test runs against PostgreSQL + Redis and SQLite + fakeredis.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from webapp import devstack

ROOT = Path(__file__).resolve().parent.parent


def wait_for(predicate: Callable[[], object], timeout: float, what: str, interval: float = 0.05,
             describe: Callable[[], str] | None = None):
    """Poll `predicate` until it returns something truthy (returned), or fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}"
                                 + (f"\n{describe()}" if describe else ""))
        time.sleep(interval)


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log)"


class RedisServer:
    """A real redis-server on a spare loopback port, without persistence: stop() loses everything, as a crash
    of an unpersisted Redis does. start() after stop() comes back on the same port (an empty server)."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.port = devstack.free_port()
        self.proc: subprocess.Popen | None = None
        self.log = directory / "redis.log"

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def pings(self) -> bool:
        probe = redis.Redis(host="127.0.0.1", port=self.port, socket_connect_timeout=0.5, socket_timeout=0.5,
                            retry=Retry(NoBackoff(), 0))  # redis-py's default retries take seconds to say "down"
        try:
            return bool(probe.ping())
        except redis.exceptions.RedisError:
            return False
        finally:
            probe.close()

    def start(self, timeout: float = 10) -> None:
        assert self.proc is None, "already running"
        self.proc = subprocess.Popen(
            [devstack.find_redis_server(), "--save", "", "--appendonly", "no", "--bind", "127.0.0.1",
             "--port", str(self.port), "--dir", str(self.directory), "--logfile", str(self.log)],
            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        proc = self.proc

        def up() -> bool:
            if proc.poll() is not None:
                raise AssertionError(f"redis-server exited with {proc.returncode}:\n{_tail(self.log)}")
            return self.pings()

        try:
            wait_for(up, timeout, f"redis-server on port {self.port}", describe=lambda: _tail(self.log))
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Terminate the server for real (SIGTERM, then SIGKILL) and check nothing answers on its port."""
        if self.proc is None:
            return
        proc, self.proc = self.proc, None
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        assert not self.pings(), f"something still answers on port {self.port}"


def second_app(redis_url: str, **settings):
    """An app on the suite's database (tests.conftest._Config) but on `redis_url`. The rate limiter is shared by
    every app in this process, so its storage stays in memory (never on a Redis the test stops)."""
    from tests.conftest import FreshContextClient, _Config
    from webapp import create_app

    config = type("FaultConfig", (_Config,), {"REDIS_URL": redis_url, "RATELIMIT_STORAGE_URI": "memory://",
                                              **settings})
    application = create_app(config)
    application.test_client_class = FreshContextClient
    return application


def dispose(application) -> None:
    from webapp.extensions import db

    with application.app_context():
        db.session.remove()
        db.engine.dispose()
    application.extensions["folio_redis"].close()


# A worker process: the app built from the test's config (database and Redis passed by environment), and an
# rq.SimpleWorker inside its app context, as `flask worker` runs it. FAULT_BLOCK patches the offline gateway's
# outbox handler so the process blocks (until it is killed) before or after the webhook applies the event.
# Every answer of the webhook is appended to FAULT_WEBHOOK_LOG (one JSON line each), so a test can see what
# each delivery did.
WORKER_SCRIPT = r'''
import json
import os
import time

from flask import request
from rq import SimpleWorker

from config import TestingConfig
from webapp import create_app


class FaultConfig(TestingConfig):
    SQLALCHEMY_DATABASE_URI = os.environ["FAULT_DATABASE_URL"]
    REDIS_URL = os.environ["FAULT_REDIS_URL"]
    RATELIMIT_STORAGE_URI = "memory://"
    OUTBOX_LEASE_SECONDS = int(os.environ["FAULT_OUTBOX_LEASE_SECONDS"])


app = create_app(FaultConfig)
answers = os.environ["FAULT_WEBHOOK_LOG"]


@app.after_request
def _record_webhook_answer(response):
    if request.path == "/webhooks/stripe":
        with open(answers, "a") as fh:
            fh.write(json.dumps({"status": response.status_code,
                                 "body": json.loads(response.get_data() or b"null")}) + "\n")
    return response


block = os.environ.get("FAULT_BLOCK")
if block:
    from webapp.services.platform import outbox
    from webapp.services.commerce import test_gateway  # noqa: F401  (registers the handler)

    original = outbox._HANDLERS["test_gateway_event"]
    marker = os.environ["FAULT_MARKER"]

    def blocking_delivery(payload):
        if block == "after_webhook":
            original(payload)  # the webhook has applied the event and committed
        with open(marker + ".tmp", "w") as fh:
            fh.write(payload["event"]["id"])
        os.replace(marker + ".tmp", marker)
        time.sleep(60)  # killed here: the outbox row is never marked delivered
        if block == "before_webhook":
            original(payload)

    outbox._HANDLERS["test_gateway_event"] = blocking_delivery

queues = [app.extensions["folio_queues"][name] for name in os.environ["FAULT_QUEUES"].split(",")]
with app.app_context():
    SimpleWorker(queues, connection=app.extensions["folio_redis"]).work(burst=os.environ.get("FAULT_BURST") == "1")
'''


class WorkerProcess:
    """A worker subprocess started by `Workers.start`; `answers()` are the webhook answers it saw."""

    def __init__(self, proc: subprocess.Popen, log: Path, answers: Path, marker: Path):
        self.proc, self.log, self.answers_file, self.marker = proc, log, answers, marker

    def answers(self) -> list[dict]:
        if not self.answers_file.exists():
            return []
        return [json.loads(line) for line in self.answers_file.read_text().splitlines() if line.strip()]

    def output(self) -> str:
        return _tail(self.log)

    def wait_for_marker(self, timeout: float = 30) -> str:
        def reached():
            if self.marker.exists():
                return self.marker.read_text()
            if self.proc.poll() is not None:
                raise AssertionError(f"worker exited ({self.proc.returncode}) before blocking:\n{self.output()}")
            return None

        return wait_for(reached, timeout, "the worker to block in the delivery", describe=self.output)

    def kill(self) -> int:
        """SIGKILL, as the OOM killer or a lost machine would: no handler, no cleanup."""
        os.kill(self.proc.pid, signal.SIGKILL)
        return self.proc.wait(timeout=10)

    def wait(self, timeout: float = 30) -> int:
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"worker did not finish within {timeout} s:\n{self.output()}") from None


class Workers:
    """Starts worker subprocesses for one test and kills whatever is left at the end."""

    def __init__(self, directory: Path, database_url: str, redis_url: str, lease_seconds: int):
        self.directory, self.database_url, self.redis_url = directory, database_url, redis_url
        self.lease_seconds = lease_seconds
        self.started: list[WorkerProcess] = []

    def start(self, *, queues=("default",), burst: bool = False, block: str | None = None) -> WorkerProcess:
        n = len(self.started) + 1
        script = self.directory / "fault_worker.py"
        if not script.exists():
            script.write_text(WORKER_SCRIPT)
        log, answers, marker = (self.directory / f"worker{n}.log", self.directory / f"worker{n}-webhook.jsonl",
                                self.directory / f"worker{n}.blocked")
        path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
        env = dict(os.environ, PYTHONPATH=path, FAULT_DATABASE_URL=self.database_url,
                   FAULT_REDIS_URL=self.redis_url, FAULT_OUTBOX_LEASE_SECONDS=str(self.lease_seconds),
                   FAULT_WEBHOOK_LOG=str(answers), FAULT_MARKER=str(marker), FAULT_QUEUES=",".join(queues),
                   FAULT_BURST="1" if burst else "0", FAULT_BLOCK=block or "")
        with open(log, "wb") as out:
            proc = subprocess.Popen([sys.executable, str(script)], cwd=ROOT, env=env, stdout=out,
                                    stderr=subprocess.STDOUT)
        worker = WorkerProcess(proc, log, answers, marker)
        self.started.append(worker)
        return worker

    def kill_all(self) -> None:
        for worker in self.started:
            if worker.proc.poll() is None:
                worker.proc.kill()
                worker.proc.wait(timeout=10)
