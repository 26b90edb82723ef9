import redis
from cryptography.fernet import Fernet

from config import ProductionConfig


def test_healthz_ok(client):
    r = client.get("/healthz")
    assert r.status_code == 200
    assert r.json["status"] == "ok" and r.json["database"]["ok"] and r.json["redis"]["ok"]


def test_healthz_503_when_redis_is_down_names_it_without_exception_text(app, client):
    real = app.extensions["folio_redis"]
    app.extensions["folio_redis"] = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.5)
    try:
        r = client.get("/healthz")
    finally:
        app.extensions["folio_redis"] = real
    assert r.status_code == 503
    assert r.json["status"] == "unavailable" and r.json["failing"] == ["redis"]
    assert r.json["redis"] == {"ok": False, "state": "down"} and r.json["database"]["ok"] is True
    body = r.get_data(as_text=True)
    for leak in ("Error", "refused", "127.0.0.1", "port", "Connection"):
        assert leak not in body, leak
    r = client.get("/healthz")
    assert r.status_code == 200 and r.json["status"] == "ok" and r.json["redis"]["ok"]


def test_healthz_503_when_database_is_down(app, client, monkeypatch):
    from webapp.services.platform import health

    def broken(*_a, **_k):
        raise ConnectionError("database unreachable")

    monkeypatch.setattr(health.db.session, "execute", broken)
    r = client.get("/healthz")
    assert r.status_code == 503 and r.json["database"] == {"ok": False, "state": "down"}
    assert r.json["failing"] == ["database"] and "unreachable" not in r.get_data(as_text=True)  # logged, not shown


def test_dev_outbox_lists_messages(client, db, run_jobs):
    from webapp.services.platform import mail

    mail.send("someone@example.com", "Hello <there>", "Body text")
    db.session.commit()
    run_jobs()
    r = client.get("/dev/outbox")
    assert r.status_code == 200
    assert b"someone@example.com" in r.data and b"Hello &lt;there&gt;" in r.data and b"outbox" in r.data


def test_dev_outbox_is_404_in_production(monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "x" * 32)
    monkeypatch.setenv("DATABASE_URL", "sqlite://")
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    monkeypatch.setenv("STRIPE_SECRET_KEY", "sk_test_x")
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", "whsec_from_the_dashboard")
    monkeypatch.setenv("DATA_ENCRYPTION_KEYS", Fernet.generate_key().decode())
    monkeypatch.setenv("CODE_HASH_KEY", "h" * 40)
    monkeypatch.setenv("PUBLIC_URL", "https://shop.example.com")
    from webapp import create_app

    class Prod(ProductionConfig):
        RATELIMIT_STORAGE_URI = "memory://"  # the suite's limiter is shared; keep it off the dead Redis

    prod = create_app(Prod)
    assert not [rule.rule for rule in prod.url_map.iter_rules() if rule.rule.startswith("/dev")]
    assert "dev" not in prod.blueprints
    client = prod.test_client()
    assert client.get("/dev/outbox", base_url="https://shop.example.com").status_code == 404
    # nothing migrated, nothing listening: a clean 503, never a crash
    r = client.get("/healthz", base_url="https://shop.example.com")
    assert r.status_code == 503
    assert "Strict-Transport-Security" in r.headers
