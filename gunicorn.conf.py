"""gunicorn settings for Folio: the ONE place production web settings live.

`gunicorn wsgi:app` run from the checkout reads this file by itself (gunicorn loads ./gunicorn.conf.py); the
Procfile, deploy/folio-web.service and deploy/topology.sh name it explicitly. Knobs (environment):

  FOLIO_BIND             where to listen (default 127.0.0.1:$PORT, PORT default 8000)
  FOLIO_WEB_WORKERS      worker processes (default 2 x CPU count)
  FOLIO_WEB_THREADS      threads per worker (default 1; more than 1 is refused before Python 3.12, see below)
  FOLIO_WEB_TIMEOUT      seconds a request may take before the master kills its worker (default 30)
  FOLIO_WEB_MAX_REQUESTS requests a worker serves before it is recycled (default 5000, +- jitter; 0: never)
  FOLIO_WEB_PRELOAD      1/0: load the app once in the master and fork it (default 1, see below)
  FOLIO_ACCESS_LOG       access log file ("-": stdout, the default; "" turns it off)
  FOLIO_CONTROL_SOCKET   a path for gunicorn's control socket (gunicornc); off by default

Worker class: SYNC, one request per process at a time, behind nginx (a buffering proxy: slow clients cost
nginx a connection, not a worker; gunicorn's documentation asks for exactly this with sync workers).

Why no threads before Python 3.12: gthread workers (--threads > 1) running Folio on CPython 3.11 die with
SIGSEGV under load (measured: 493 worker deaths in 60 runs of 15 s at 8 connections). CPython 3.11 runs the
cyclic garbage collector inside whichever thread happens to allocate, while other threads' frames may be half
updated (frame lifetime bugs such as python/cpython gh-101975); faulthandler showed the collector walking a
SQLAlchemy generator expression while other threads were inside psycopg. CPython 3.12 runs the collector only
at the eval breaker (gh-97922) and did not crash under the same load. Folio supports Python 3.11 to 3.13, so
threads are allowed only on 3.12 and later; sync workers and --threads 1 are safe on all three.
"""
from __future__ import annotations

import gc
import multiprocessing
import os
import sys


def _int_env(name: str, default: int) -> int:
    """A whole-number setting from the environment, refused loudly when it is not one."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise SystemExit(f"gunicorn.conf.py: {name} must be a whole number, not {raw!r}") from None


def threads_refused(threads: int, version: tuple[int, int] = sys.version_info[:2]) -> str | None:
    """Why `threads` per worker cannot run on this Python (None: they can). See the module docstring."""
    if threads > 1 and version < (3, 12):
        return (f"Folio refuses {threads} threads per gunicorn worker on Python {version[0]}.{version[1]}: "
                "CPython 3.11 runs the garbage collector inside any allocating thread while other threads' "
                "frames are mid-update, and gthread workers die with SIGSEGV under load. Use sync workers "
                "(FOLIO_WEB_THREADS=1, more FOLIO_WEB_WORKERS), or Python 3.12+ for threads.")
    return None


worker_class = "sync"
# Workers: 2 x CPU. Measured on the 2-core bench machine (bench/http_workers.py, 2/3/4 sync workers side by side,
# shuffled rounds; bench/README.md): before caching 2 to 4 were within noise (3 a few per cent ahead); with cached
# catalog pages (one Redis round trip each, CPU-bound) the 2026-12-07 comparison was again within noise (medians
# within +-25 % of each other, in both directions, on a machine loaded by other work). A sync worker waits while
# PostgreSQL and Redis answer; with the database on another machine (the scale-out case) that wait grows, and
# 2 x CPU keeps the cores busy where CPU + 1 would leave them idle. Set FOLIO_WEB_WORKERS to override.
workers = _int_env("FOLIO_WEB_WORKERS", 2 * (os.cpu_count() or multiprocessing.cpu_count()))
threads = _int_env("FOLIO_WEB_THREADS", 1)
if (_refusal := threads_refused(threads)) is not None:
    raise SystemExit(_refusal)
if threads > 1:
    worker_class = "gthread"  # only on 3.12+ (refused above otherwise)

bind = [os.environ.get("FOLIO_BIND") or f"127.0.0.1:{os.environ.get('PORT') or 8000}"]
# nginx gives up after proxy_read_timeout 30 s (deploy/folio.nginx.conf): a worker stuck longer is killed and
# replaced rather than left holding one of the few sync slots.
timeout = _int_env("FOLIO_WEB_TIMEOUT", 30)
graceful_timeout = 30  # on restart/stop, in-flight requests get this long to finish
# Recycling a worker now and then bounds any slow leak; the jitter keeps workers from restarting together.
max_requests = _int_env("FOLIO_WEB_MAX_REQUESTS", 5000)
max_requests_jitter = max_requests // 10
# Sync workers close the connection after each response (no keep-alive); this applies to gthread on 3.12+.
keepalive = 5
# Preloading: the app is imported once in the master and the workers fork it, sharing its memory pages
# copy-on-write (measured in README "Scaling"); gc.freeze() below keeps the collector from touching (and so
# copying) those pages, and the first requests pay no import or GC pause. post_fork gives each worker its own
# database and Redis connections: nothing the master opened is shared across the fork.
preload_app = os.environ.get("FOLIO_WEB_PRELOAD", "1").strip() not in ("0", "false", "no", "off")

accesslog = os.environ.get("FOLIO_ACCESS_LOG", "-") or None
errorlog = "-"
# The usual combined format, plus the time taken and the response's X-Request-ID (set by the app; the same id
# is in the app's own log lines and the jobs the request enqueued).
access_log_format = ('%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %(M)sms '
                     'rid=%({x-request-id}o)s')
proc_name = "folio-web"
# gunicorn's control socket (gunicornc) defaults to ONE path per user ($HOME/.gunicorn/gunicorn.ctl): several
# instances on a machine (deploy/topology.sh runs two) would take it from each other. Off, unless
# FOLIO_CONTROL_SOCKET names a path for this instance.
control_socket = os.environ.get("FOLIO_CONTROL_SOCKET") or None
control_socket_disable = control_socket is None
if control_socket is None:
    del control_socket

if preload_app:
    # Python's advice for fork without exec: no collections in the master while the app loads (no freed holes
    # in pages the children will share), freeze before forking, collect again in each child.
    gc.disable()


def on_starting(server) -> None:
    """Refuse threads however they were asked for (CLI flag, GUNICORN_CMD_ARGS), not only through the env."""
    refusal = threads_refused(server.cfg.threads)
    if refusal is not None:
        raise SystemExit(refusal)


def pre_fork(server, worker) -> None:
    """Move everything the master holds (the preloaded app) to the permanent generation before each fork."""
    if server.cfg.preload_app:
        gc.freeze()


def post_fork(server, worker) -> None:
    """In the new worker: the collector back on, and fresh connection pools. engine.dispose(close=False) drops
    the pool the master may have filled without closing its sockets (they belong to the master); Redis pools
    are reset likewise (redis-py would also notice the new pid, this makes it certain)."""
    gc.enable()
    app = getattr(server.app, "callable", None)  # the preloaded Flask app (None without preload)
    if app is None or not hasattr(app, "extensions"):
        return
    with app.app_context():
        from webapp.extensions import db

        for engine in db.engines.values():
            engine.dispose(close=False)
    for value in list(app.extensions.values()):
        pool = getattr(value, "connection_pool", None)
        if pool is not None and hasattr(pool, "reset"):
            pool.reset()
