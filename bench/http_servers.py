"""The servers bench/http_bench.py measures: gunicorn with Folio's production settings (gunicorn.conf.py when the
checkout has one), the same settings around the bare view, or deploy/topology.sh; plus the plain HTTP client
the benchmark uses to prepare sessions, and each web worker's memory read from /proc."""
from __future__ import annotations

import http.client
import os
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PUBLIC_HOST = "shop.example.com"  # production refuses a localhost PUBLIC_URL; requests carry this Host header
host_header = PUBLIC_HOST  # what requests send as Host (--topology: the address nginx listens on)


def production_env(database_url: str, redis_url: str) -> dict[str, str]:
    """What ProductionConfig requires, with throwaway secrets (the Stripe key is never used: checkout start
    is the form page, which does not call the gateway)."""
    from cryptography.fernet import Fernet

    env = {k: v for k, v in os.environ.items() if not k.startswith(("FOLIO_", "GUNICORN_"))}
    env.update({
        "FOLIO_CONFIG": "production", "FOLIO_DOTENV": "0",
        "SECRET_KEY": secrets.token_urlsafe(48), "CODE_HASH_KEY": secrets.token_urlsafe(48),
        "DATA_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "DATABASE_URL": database_url, "REDIS_URL": redis_url,
        "STRIPE_SECRET_KEY": "sk_test_bench_never_called", "STRIPE_WEBHOOK_SECRET": "whsec_" + secrets.token_hex(16),
        "PUBLIC_URL": f"https://{PUBLIC_HOST}",
    })
    return env


@dataclass
class Server:
    """One gunicorn master (and its workers), started in its own process group."""

    port: int
    command: list[str]
    env: dict[str, str]
    log: Path
    proc: subprocess.Popen | None = field(default=None, repr=False)

    def start(self, timeout: float = 60.0) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(self.command, cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"gunicorn exited ({self.proc.returncode}) on start: see {self.log}")
            try:
                request(self.port, "GET", "/healthz")
                if len(worker_pids(self.proc.pid)) >= 1:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        self.stop()
        raise SystemExit(f"gunicorn did not answer on port {self.port} within {timeout:.0f}s: see {self.log}")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)  # the group is this master and its workers only
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


def gunicorn_command(gunicorn: str, app: str, port: int, workers: int, threads: int, use_conf: bool) -> tuple[
        list[str], dict[str, str]]:
    """The command line and the extra environment for one server. With gunicorn.conf.py, its knobs (FOLIO_BIND,
    FOLIO_WEB_WORKERS, FOLIO_WEB_THREADS) choose the same things the command-line flags would, so its checks
    (threads refused before Python 3.12) apply; without it, the flags for sync (or gthread) workers."""
    conf = ROOT / "gunicorn.conf.py"
    bind = f"127.0.0.1:{port}"
    if use_conf and conf.exists():
        env = {"FOLIO_BIND": bind, "FOLIO_WEB_WORKERS": str(workers), "FOLIO_WEB_THREADS": str(threads)}
        return [gunicorn, "-c", str(conf), app], env
    # -c /dev/null: gunicorn would otherwise read ./gunicorn.conf.py by itself
    cmd = [gunicorn, "-c", os.devnull, "--bind", bind, "--workers", str(workers),
           "--worker-class", "gthread" if threads > 1 else "sync"]
    if threads > 1:
        cmd += ["--threads", str(threads)]
    return cmd + [app], {}


def topology(action: str, env: dict[str, str]) -> None:
    """deploy/topology.sh start|stop (nginx in front of two gunicorn instances, workers, the scheduler; it runs the
    migrations first). Its own settings apply (FOLIO_CONFIG, ports: see the script); `env` names the database."""
    script = ROOT / "deploy" / "topology.sh"
    if not script.exists():
        raise SystemExit("--topology: deploy/topology.sh is not in this checkout")
    subprocess.run([str(script), action], cwd=ROOT, env=env, check=True, stdout=sys.stderr)


def request(port: int, method: str, path: str, headers: dict[str, str] | None = None, body: str | None = None,
            host: str = "127.0.0.1") -> tuple[int, dict[str, list[str]], str]:
    """One request with http.client (the Host header and cookies are set by hand: the production cookies are
    Secure and the Host is the public name, which a cookie jar would refuse over http://127.0.0.1)."""
    conn = http.client.HTTPConnection(host, port, timeout=30)
    try:
        sent = {"Host": host_header, **(headers or {})}
        if body is not None:
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        conn.request(method, path, body=body, headers=sent)
        resp = conn.getresponse()
        got: dict[str, list[str]] = {}
        for name, value in resp.getheaders():
            got.setdefault(name.lower(), []).append(value)
        return resp.status, got, resp.read().decode("utf-8", "replace")
    finally:
        conn.close()


class Cookies(dict):
    """name -> value, updated from Set-Cookie headers; `header()` is the Cookie request header."""

    def update_from(self, headers: dict[str, list[str]]) -> None:
        for line in headers.get("set-cookie", []):
            name, _, rest = line.partition("=")
            value = rest.split(";", 1)[0]
            if "max-age=0" in line.lower() or "expires=thu, 01 jan 1970" in line.lower():
                self.pop(name.strip(), None)
            else:
                self[name.strip()] = value

    def header(self) -> dict[str, str]:
        return {"Cookie": "; ".join(f"{k}={v}" for k, v in self.items())} if self else {}


def worker_pids(master: int) -> list[int]:
    """The worker processes (children) of a gunicorn master."""
    try:
        return [int(p) for p in Path(f"/proc/{master}/task/{master}/children").read_text().split()]
    except OSError:
        return []


def topology_masters() -> list[int]:
    """gunicorn masters serving wsgi:app from this checkout whose parent is not gunicorn (for --topology)."""
    masters = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            parent = Path(f"/proc/{ppid}/cmdline").read_bytes().decode(errors="replace")
        except (OSError, ValueError, IndexError):
            continue
        try:
            here = (entry / "cwd").resolve() == ROOT
        except OSError:
            here = False
        if here and "gunicorn" in cmd and "wsgi:app" in cmd and "gunicorn" not in parent:
            masters.append(int(entry.name))
    return masters


def memory_mb(pid: int) -> dict[str, float] | None:
    """VmRSS (what the target is about) and Pss (shared copy-on-write pages divided among the processes sharing
    them, so closer to what each worker really costs), in MB."""
    try:
        rss = next(line for line in Path(f"/proc/{pid}/status").read_text().splitlines() if line.startswith("VmRSS"))
        pss = next(line for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()
                   if line.startswith("Pss:"))
    except (OSError, StopIteration):
        return None
    return {"rss_mb": round(int(rss.split()[1]) / 1024, 1), "pss_mb": round(int(pss.split()[1]) / 1024, 1)}


def python_version(gunicorn: str) -> str:
    """The Python version a gunicorn script runs on (its shebang's interpreter)."""
    try:
        shebang = Path(gunicorn).read_text().splitlines()[0]
        interpreter = shebang[2:].strip() if shebang.startswith("#!") else sys.executable
    except (OSError, IndexError):
        interpreter = sys.executable
    out = subprocess.run([interpreter, "-c", "import platform; print(platform.python_version())"],
                         capture_output=True, text=True)
    return out.stdout.strip() or "?"
