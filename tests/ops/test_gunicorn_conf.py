"""gunicorn.conf.py, the one place for web settings: sync workers, counts from the environment, and threads
refused before Python 3.12 (where gthread workers crash under load), however they are asked for."""
from __future__ import annotations

import runpy
import subprocess
import sys
from pathlib import Path

import pytest

from tests.ops.servers import ROOT, free_port

CONF = str(ROOT / "gunicorn.conf.py")


def _load(monkeypatch, **env: str) -> dict:
    for name in ("FOLIO_WEB_WORKERS", "FOLIO_WEB_THREADS", "FOLIO_BIND", "PORT", "FOLIO_WEB_MAX_REQUESTS"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    import gc

    enabled = gc.isenabled()
    try:
        return runpy.run_path(CONF)
    finally:
        if enabled:
            gc.enable()  # the file turns the collector off in the master (preload): not in the test process


def test_defaults_are_sync_workers_on_loopback(monkeypatch):
    import os

    conf = _load(monkeypatch, PORT="5000")
    assert conf["worker_class"] == "sync" and conf["threads"] == 1
    assert conf["workers"] == 2 * os.cpu_count()
    assert conf["bind"] == ["127.0.0.1:5000"]
    assert conf["preload_app"] is True and conf["max_requests"] > 0 and conf["max_requests_jitter"] > 0
    assert "x-request-id" in conf["access_log_format"]


def test_environment_sets_workers_and_bind(monkeypatch):
    conf = _load(monkeypatch, FOLIO_WEB_WORKERS="3", FOLIO_BIND="127.0.0.1:9999")
    assert conf["workers"] == 3 and conf["bind"] == ["127.0.0.1:9999"]
    with pytest.raises(SystemExit, match="FOLIO_WEB_WORKERS must be a whole number"):
        _load(monkeypatch, FOLIO_WEB_WORKERS="many")


def test_threads_refused_before_312_only(monkeypatch):
    refused = runpy.run_path(CONF)["threads_refused"]
    assert "SIGSEGV" in refused(4, (3, 11))
    assert refused(1, (3, 11)) is None
    assert refused(4, (3, 12)) is None and refused(4, (3, 13)) is None
    if sys.version_info < (3, 12):
        with pytest.raises(SystemExit, match="refuses 4 threads"):
            _load(monkeypatch, FOLIO_WEB_THREADS="4")
    else:
        assert _load(monkeypatch, FOLIO_WEB_THREADS="4")["worker_class"] == "gthread"


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="threads are allowed on 3.12+")
def test_gunicorn_refuses_threads_given_on_the_command_line():
    gunicorn = str(Path(sys.executable).parent / "gunicorn")
    result = subprocess.run([gunicorn, "-c", CONF, "--threads", "4", "--bind", f"127.0.0.1:{free_port()}",
                             "wsgi:app"], cwd=ROOT, capture_output=True, text=True, timeout=60,
                            env={"PATH": str(Path(sys.executable).parent), "FOLIO_DOTENV": "0",
                                 "FOLIO_CONFIG": "testing", "FOLIO_WEB_PRELOAD": "0"})
    assert result.returncode != 0
    assert "refuses 4 threads per gunicorn worker on Python 3.11" in result.stderr + result.stdout
