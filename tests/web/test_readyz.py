"""/readyz: ready while the database and Redis answer, backlogs reported (degraded past the limits), details only
for loopback or the token, never a 500 (services.platform.health.readiness, main.readyz)."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import fakeredis
import pytest
import redis
import time_machine
from rq import Queue

from tests.faults import RedisServer, dispose, second_app
from webapp.models.mail import OutboundEmail
from webapp.models.payments import OutboxMessage

OUTSIDE = {"REMOTE_ADDR": "203.0.113.9"}
LEAKS = ("Error", "refused", "127.0.0.1", "6379", "10.0.0.5", "Connection", "Traceback", "unreachable", "WRONGTYPE")


def _no_leak(response) -> None:
    body = response.get_data(as_text=True)
    for leak in LEAKS:
        assert leak not in body, leak


def _use_redis(app, connection) -> None:
    app.extensions["folio_redis"] = connection
    app.extensions["folio_queues"] = {name: Queue(name, connection=connection) for name in app.config["RQ_QUEUES"]}


@pytest.fixture
def swap_redis(app):
    """Put another Redis connection under the app for one test, and the suite's back afterwards."""
    saved = app.extensions["folio_redis"], app.extensions["folio_queues"]
    yield lambda connection: _use_redis(app, connection)
    app.extensions["folio_redis"], app.extensions["folio_queues"] = saved


def test_all_up(client):
    r = client.get("/readyz")
    assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store"
    body = r.json
    assert body["status"] == "ok" and body["ready"] is True and body["failing"] == [] and body["warnings"] == []
    assert body["database"]["ok"] and body["redis"]["ok"]
    assert set(body["queues"]) == {"default", "email", "reports"}
    assert body["queues"]["email"] == {"depth": 0, "oldest_age_s": None, "started": 0, "failed": 0}
    assert body["email"] == {"waiting": 0, "oldest_age_s": None, "failed": 0}
    assert body["outbox"] == {"waiting": 0, "oldest_age_s": None, "failed": 0}


def test_details_only_for_loopback_or_the_token(app, client, monkeypatch):
    assert client.get("/readyz", environ_base=OUTSIDE).json == {"status": "ok"}
    # loopback, but passed on by a proxy: a visitor
    assert client.get("/readyz", headers={"X-Forwarded-For": "127.0.0.1"}).json == {"status": "ok"}
    monkeypatch.setitem(app.config, "READYZ_TOKEN", "s3cret-monitor-token")
    wrong = client.get("/readyz", environ_base=OUTSIDE, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 200 and wrong.json == {"status": "ok"}
    right = client.get("/readyz", environ_base=OUTSIDE, headers={"Authorization": "Bearer s3cret-monitor-token"})
    assert right.status_code == 200 and "queues" in right.json and right.json["ready"] is True


def test_database_down_is_503_without_the_reason(client, monkeypatch):
    from webapp.services.platform import health

    def broken(*_a, **_k):
        raise ConnectionError("database unreachable at 10.0.0.5")

    monkeypatch.setattr(health.db.session, "execute", broken)
    r = client.get("/readyz")
    assert r.status_code == 503
    body = r.json
    assert body["status"] == "unavailable" and body["ready"] is False and body["failing"] == ["database"]
    assert body["database"] == {"ok": False, "state": "down"} and body["email"] is None and body["outbox"] is None
    assert body["redis"]["ok"] and body["queues"]["default"]["depth"] == 0  # Redis is still measured
    _no_leak(r)
    public = client.get("/readyz", environ_base=OUTSIDE)
    assert public.status_code == 503 and public.json == {"status": "unavailable"}


def test_redis_server_killed_is_503_and_back_when_it_returns(app, tmp_path):
    server = RedisServer(tmp_path)
    server.start()
    shop = second_app(server.url)
    try:
        client = shop.test_client()
        shop.extensions["folio_queues"]["email"].enqueue("jobs.email.requeue_stale_email")
        up = client.get("/readyz")
        assert up.status_code == 200 and up.json["queues"]["email"]["depth"] == 1
        server.stop()  # SIGTERM, and nothing answers on the port any more
        down = client.get("/readyz")
        assert down.status_code == 503
        assert down.json["failing"] == ["redis"] and down.json["redis"] == {"ok": False, "state": "down"}
        assert down.json["queues"] is None and down.json["database"]["ok"] and down.json["email"]["waiting"] == 0
        _no_leak(down)
        server.start()  # an empty Redis on the same port
        back = client.get("/readyz")
        assert back.status_code == 200 and back.json["queues"]["email"]["depth"] == 0
    finally:
        server.stop()
        dispose(shop)


class RaisingRedis(fakeredis.FakeRedis):
    """Every command fails, as a connection to a dead Redis does."""

    def execute_command(self, *args, **kwargs):
        raise redis.exceptions.ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")


class QueuesBroken(fakeredis.FakeRedis):
    """PING answers, but reading a queue fails."""

    def execute_command(self, *args, **kwargs):
        if args and args[0] != "PING":
            raise redis.exceptions.ResponseError("WRONGTYPE Operation against a key holding the wrong kind of value")
        return super().execute_command(*args, **kwargs)


def test_a_raising_redis_is_503_never_500(client, swap_redis):
    swap_redis(RaisingRedis())
    r = client.get("/readyz")
    assert r.status_code == 503 and r.json["failing"] == ["redis"] and r.json["queues"] is None
    _no_leak(r)


def test_a_backlog_that_cannot_be_measured_is_unknown_not_unready(client, swap_redis):
    swap_redis(QueuesBroken())
    r = client.get("/readyz")
    assert r.status_code == 200 and r.json["ready"] is True
    assert r.json["status"] == "degraded" and r.json["warnings"] == ["queues:unknown"] and r.json["queues"] is None
    assert r.json["email"] == {"waiting": 0, "oldest_age_s": None, "failed": 0}
    _no_leak(r)


NOW = datetime(2026, 3, 14, 12, 0, 0, tzinfo=UTC)


def _email(status: str, age: timedelta) -> OutboundEmail:
    return OutboundEmail(recipient="a@example.com", subject="s", body_text="b", status=status,
                         created_at=NOW - age)


def _outbox(status: str, age: timedelta, key: str) -> OutboxMessage:
    return OutboxMessage(kind="test", key=key, payload={}, status=status, created_at=NOW - age,
                         next_attempt_at=NOW - age)


def test_backlog_ages_and_the_degraded_flag(app, client, db, monkeypatch):
    db.session.add_all([
        _email("queued", timedelta(minutes=10)), _email("queued", timedelta(minutes=2)),
        _email("sent", timedelta(days=3)), _email("failed", timedelta(days=2)), _email("outbox", timedelta(days=1)),
        _outbox("pending", timedelta(minutes=14), "a"), _outbox("delivered", timedelta(days=5), "b"),
        _outbox("failed", timedelta(days=1), "c"), _outbox("failed", timedelta(hours=1), "d"),
    ])
    db.session.commit()
    reports = app.extensions["folio_queues"]["reports"]
    with time_machine.travel(NOW - timedelta(seconds=90), tick=False) as traveller:
        reports.enqueue("jobs.search.rebuild_search_terms")
        traveller.move_to(NOW - timedelta(seconds=30))
        reports.enqueue("jobs.search.rebuild_search_terms")
        traveller.move_to(NOW)
        calm = client.get("/readyz").json
        monkeypatch.setitem(app.config, "READYZ_EMAIL_MAX_AGE_SECONDS", 300)
        monkeypatch.setitem(app.config, "READYZ_QUEUE_MAX_AGE_SECONDS", 60)
        monkeypatch.setitem(app.config, "READYZ_OUTBOX_MAX_AGE_SECONDS", 600)
        late = client.get("/readyz")

    assert calm["status"] == "ok" and calm["warnings"] == []  # under the default limits (5, 15 and 15 minutes)
    assert calm["email"] == {"waiting": 2, "oldest_age_s": 600.0, "failed": 1}
    assert calm["outbox"] == {"waiting": 1, "oldest_age_s": 840.0, "failed": 2}
    assert calm["queues"]["reports"] == {"depth": 2, "oldest_age_s": 90.0, "started": 0, "failed": 0}
    assert calm["queues"]["default"]["oldest_age_s"] is None
    assert late.status_code == 200 and late.json["ready"] is True  # old backlogs never make it unready
    assert late.json["status"] == "degraded" and late.json["warnings"] == ["queue:reports", "email", "outbox"]
