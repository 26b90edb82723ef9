import subprocess
import sys

import pytest

from config import ProductionConfig, _database_url

PRODUCTION_ENV = {"SECRET_KEY": "s3cret", "DATABASE_URL": "postgresql://x@127.0.0.1/db",
                  "REDIS_URL": "redis://127.0.0.1:1/0", "STRIPE_SECRET_KEY": "sk_test_real",
                  "STRIPE_WEBHOOK_SECRET": "whsec_from_the_stripe_dashboard"}


@pytest.mark.parametrize("missing", list(PRODUCTION_ENV))
def test_production_refuses_to_start_without_required_settings(monkeypatch, missing):
    env = PRODUCTION_ENV
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv(missing)
    with pytest.raises(SystemExit) as excinfo:
        ProductionConfig.init()
    message = str(excinfo.value)
    assert missing in message
    assert "\n" not in message
    named = message.rsplit(": ", 1)[1].split(", ")
    assert named == [missing]


def test_production_start_message_from_a_real_process(tmp_path):
    """The one-line message is what an operator sees when the process exits."""
    env = {"PATH": "/usr/bin:/bin", "FOLIO_CONFIG": "production", "HOME": str(tmp_path)}
    result = subprocess.run([sys.executable, "-c", "import wsgi"], env=env, capture_output=True, text=True,
                            cwd=str(__import__("pathlib").Path(__file__).resolve().parent.parent))
    assert result.returncode != 0
    assert ("missing required environment variable(s): SECRET_KEY, DATABASE_URL, REDIS_URL, STRIPE_SECRET_KEY, "
            "STRIPE_WEBHOOK_SECRET") in result.stderr


def test_production_refuses_the_offline_gateways_public_webhook_secret(monkeypatch):
    from config import OFFLINE_WEBHOOK_SECRET

    for name, value in PRODUCTION_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", OFFLINE_WEBHOOK_SECRET)
    with pytest.raises(SystemExit) as excinfo:
        ProductionConfig.init()
    assert "STRIPE_WEBHOOK_SECRET" in str(excinfo.value) and "\n" not in str(excinfo.value)


def test_only_development_falls_back_to_the_offline_webhook_secret(tmp_path):
    code = ("import config; print(config.Config.STRIPE_WEBHOOK_SECRET, config.DevelopmentConfig.STRIPE_WEBHOOK_SECRET, "
            "config.ProductionConfig.STRIPE_WEBHOOK_SECRET)")
    result = subprocess.run([sys.executable, "-c", code], env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
                            capture_output=True, text=True, check=True,
                            cwd=str(__import__("pathlib").Path(__file__).resolve().parent.parent))
    assert result.stdout.split() == ["None", "whsec_folio_offline_test_gateway", "None"]


def test_production_app_has_no_offline_gateway(monkeypatch, tmp_path):
    """In production the test payment page does not exist and the offline gateway cannot be used."""
    from webapp import create_app
    from webapp.services import payments

    for name, value in PRODUCTION_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'prod.db'}")

    class Prod(ProductionConfig):
        RATELIMIT_STORAGE_URI = "memory://"  # the suite's limiter is shared; keep it off the dead Redis

    app = create_app(Prod)
    assert not [rule for rule in app.url_map.iter_rules() if rule.rule.startswith("/pay/")]
    with app.test_request_context():
        assert payments.provider_name() == "stripe"
        with pytest.raises(payments.PaymentError, match="not available in production"):
            payments.gateway("test")
        assert app.test_client().get("/pay/test/cs_test_x").status_code == 404


def test_database_url_forms_use_psycopg3():
    assert _database_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert _database_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert _database_url("sqlite:///x.db") == "sqlite:///x.db"
