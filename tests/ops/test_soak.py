"""Crash soak: a REAL gunicorn with gunicorn.conf.py (sync workers, preloaded app) serving the test database,
a few thousand requests over 8 concurrent keep-alive connections across listing pages, searches (a common word,
a misspelt one, the htmx fragment) and book pages. Any worker exit, any 5xx or non-200, any socket error fails.

Why: gthread workers on CPython 3.11 died with SIGSEGV under exactly this kind of load (gunicorn.conf.py says
why). The test client cannot see that: only a real server with real worker processes can.

Proving it can fail (a manual run; the config refuses threads on 3.11, so the override bypasses it with
gunicorn's own flags):
    FOLIO_SOAK_GUNICORN_ARGS="--worker-class gthread --threads 4" pytest tests/ops/test_soak.py
"""
from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest
import requests
from sqlalchemy import select, text

from tests.ops.servers import ROOT, folio_env, free_port, redis_url, wait_http

# What it proves (no gunicorn worker dies under load) is about the server and the interpreter, not the database:
# CI runs it once, on the PostgreSQL leg (production's database).
pytestmark = [pytest.mark.soak, pytest.mark.backend_neutral]

BOOKS = 3000
CONNECTIONS = 8
TARGET = 3200  # requests, at least
# ~25 s on an idle 2-core machine (sync workers, SQLite); on a loaded one the rounds go on until TARGET, up to:
MAX_SECONDS = 90
# Lines gunicorn's master writes when a worker dies or is killed ("Worker (pid:N) was sent SIGSEGV!",
# "Worker (pid:N) exited with code 1", "WORKER TIMEOUT"), and Python's own fatal-error report.
DEATH = re.compile(r"exited|Worker \(pid|signal|SIG[A-Z]+|WORKER TIMEOUT|Fatal Python error|Segmentation", re.I)


def _urls(book_ids: list[int]) -> list[tuple[str, bool]]:
    """The mix each connection cycles through (path, htmx?): several listing pages, searches (common word,
    misspelt), the htmx fragment, book pages."""
    listing = [(f"/books?page={p}", False) for p in (1, 2, 5, 20)] + [("/books?page=3", True)]
    searches = [("/books?q=shadow", False), ("/books?q=shadwo", False), ("/books?q=daughter&page=2", False),
                ("/books?q=bitter", True), ("/books?q=brigth", True)]
    details = [(f"/books/{book_id}", False) for book_id in book_ids]
    # Listing and search pages build the most objects per request (where the 3.11 crash showed): two thirds.
    mix = []
    for i, detail in enumerate(details):
        mix += [listing[i % len(listing)], searches[i % len(searches)], detail]
    return mix


class Load:
    """What the clients saw: requests sent, answers other than 200 (or 2xx/3xx with wrk), socket errors."""

    def __init__(self) -> None:
        self.total = 0
        self.bad: list[str] = []
        self.socket_errors: list[str] = []
        self.seconds = 0.0


def _wrk(base: str, mix: list[tuple[str, bool]], tmp_path: Path, load: Load) -> None:
    """wrk (C, keep-alive, always CONNECTIONS requests in flight: the load that made gthread workers crash)
    cycling through the mix, in rounds until TARGET requests were sent."""
    script = tmp_path / "mix.lua"
    entries = ",\n".join(f'{{"{path}", {"true" if htmx else "false"}}}' for path, htmx in mix)
    script.write_text(f"""local mix = {{{entries}}}
local i = math.random(#mix)
request = function()
  i = i % #mix + 1
  local headers = {{}}
  if mix[i][2] then headers["HX-Request"] = "true" end
  return wrk.format("GET", mix[i][1], headers)
end
""")
    started = time.monotonic()
    while load.total < TARGET and time.monotonic() - started < MAX_SECONDS:
        out = subprocess.run(["wrk", "-t2", f"-c{CONNECTIONS}", "-d8s", "--timeout", "20s", "-s", str(script), base],
                             capture_output=True, text=True, timeout=60).stdout
        load.total += int(re.search(r"(\d+) requests in", out).group(1))
        if m := re.search(r"Non-2xx or 3xx responses: (\d+)", out):
            load.bad.append(f"{m.group(1)} answers not 2xx/3xx")
        if m := re.search(r"Socket errors: (.*)", out):
            load.socket_errors.append(m.group(1))
    load.seconds = time.monotonic() - started


def _python_clients(base: str, mix: list[tuple[str, bool]], load: Load) -> None:
    """Without wrk: CONNECTIONS keep-alive requests Sessions in threads (a lighter load: the client shares the
    CPU and the GIL)."""
    lock = threading.Lock()
    per_connection = TARGET // CONNECTIONS

    def connection(offset: int) -> None:
        session = requests.Session()
        for i in range(per_connection):
            path, htmx = mix[(offset + i) % len(mix)]
            try:
                status = session.get(base + path, headers={"HX-Request": "true"} if htmx else {}, timeout=30).status_code
                problem = None if status == 200 else f"{path}: HTTP {status}"
            except requests.RequestException as exc:
                status, problem = 0, f"{path}: {type(exc).__name__}: {exc}"
            with lock:
                load.total += 1
                if problem:
                    (load.bad if status else load.socket_errors).append(problem)

    started = time.monotonic()
    threads = [threading.Thread(target=connection, args=(i * 7,)) for i in range(CONNECTIONS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    load.seconds = time.monotonic() - started


def _workers(master: int, expected: int) -> set[int]:
    """The master's worker pids, once all `expected` have been forked (the first may answer before the last)."""
    deadline = time.monotonic() + 20
    while True:
        pids = {p.pid for p in psutil.Process(master).children()}
        if len(pids) >= expected or time.monotonic() > deadline:
            assert len(pids) >= expected, f"{len(pids)} workers, expected {expected}"
            return pids
        time.sleep(0.1)


def _gunicorn_command(port: int, log: Path) -> list[str]:
    """gunicorn with the production config file, or (FOLIO_SOAK_GUNICORN_ARGS, the manual run that proves the
    test can fail) with an empty config file and those flags instead."""
    gunicorn = str(Path(sys.executable).parent / "gunicorn")
    unsafe = os.environ.get("FOLIO_SOAK_GUNICORN_ARGS")
    if unsafe:
        empty = log.with_name("empty.conf.py")
        empty.write_text("")
        return [gunicorn, "-c", str(empty), "--bind", f"127.0.0.1:{port}", "--workers", "2", "--error-logfile", "-",
                *shlex.split(unsafe), "wsgi:app"]
    return [gunicorn, "-c", str(ROOT / "gunicorn.conf.py"), "wsgi:app"]


def test_real_gunicorn_survives_thousands_of_mixed_requests(app, db, tmp_path):
    from webapp.demo import seed
    from webapp.models import Book

    seed.seed(BOOKS)  # as `flask seed` does: demo users and their sales history too
    book_ids = list(db.session.scalars(select(Book.id).order_by(Book.id).limit(15)))
    book_ids += list(db.session.scalars(select(Book.id).order_by(Book.id.desc()).limit(5)))
    db.session.commit()
    if db.engine.dialect.name == "postgresql":  # fresh statistics, as autovacuum would give a real shop
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("ANALYZE"))
    port = free_port()
    log = tmp_path / "gunicorn.log"
    with redis_url(app) as redis, log.open("wb") as out:
        env = folio_env(app, redis, FOLIO_BIND=f"127.0.0.1:{port}", FOLIO_WEB_WORKERS="2",
                        FOLIO_WEB_MAX_REQUESTS="0",  # a planned recycle would look like a death here
                        FOLIO_ACCESS_LOG="", PUBLIC_URL=f"http://127.0.0.1:{port}")
        master = subprocess.Popen(_gunicorn_command(port, log), cwd=ROOT, env=env, stdout=out,
                                  stderr=subprocess.STDOUT, start_new_session=True)
        try:
            base = f"http://127.0.0.1:{port}"
            wait_http(base + "/healthz", proc=master)
            workers_before = _workers(master.pid, 2)

            load = Load()
            if shutil.which("wrk"):
                _wrk(base, _urls(book_ids), tmp_path, load)
            else:
                _python_clients(base, _urls(book_ids), load)
            workers_after = {p.pid for p in psutil.Process(master.pid).children()}
            alive = master.poll() is None
        finally:
            if master.poll() is None:
                os.killpg(master.pid, signal.SIGTERM)
            master.wait(timeout=40)
    log_text = log.read_text(errors="replace")
    # Everything up to the shutdown we asked for ("Handling signal: term" and the workers' exits after it).
    before_stop = log_text.split("Handling signal: term")[0]
    deaths = [line for line in before_stop.splitlines() if DEATH.search(line)]
    summary = (f"{load.total} requests in {load.seconds:.1f} s ({load.total / load.seconds:.0f} req/s) over "
               f"{CONNECTIONS} connections ({'wrk' if shutil.which('wrk') else 'Python clients'}); not 200: "
               f"{load.bad[:5]}; socket errors: {load.socket_errors[:5]}; "
               f"workers {sorted(workers_before)} -> {sorted(workers_after)}")
    print(summary)
    assert alive, f"the gunicorn master died: {summary}\n{log_text[-3000:]}"
    assert not deaths, f"workers died: {deaths[:10]}\n{summary}"
    assert workers_after == workers_before, f"workers were replaced: {summary}"
    assert not load.bad, summary
    assert not [e for e in load.socket_errors if e != "connect 0, read 0, write 0, timeout 0"], summary
    assert load.total >= 3000, summary
