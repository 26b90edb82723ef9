import subprocess
import sys

import pytest
from cryptography.fernet import Fernet

from config import ProductionConfig, _database_url

KEY_A, KEY_B = Fernet.generate_key().decode(), Fernet.generate_key().decode()
PRODUCTION_ENV = {"SECRET_KEY": "a-long-random-production-secret-key-0123456789", "DATABASE_URL": "postgresql://x@127.0.0.1/db",
                  "REDIS_URL": "redis://127.0.0.1:1/0", "STRIPE_SECRET_KEY": "sk_test_real",
                  "STRIPE_WEBHOOK_SECRET": "whsec_from_the_stripe_dashboard",
                  "DATA_ENCRYPTION_KEYS": f"{KEY_A},{KEY_B}", "CODE_HASH_KEY": "c" * 40,
                  "PUBLIC_URL": "https://shop.example.com"}


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
            "STRIPE_WEBHOOK_SECRET, DATA_ENCRYPTION_KEYS, CODE_HASH_KEY, PUBLIC_URL") in result.stderr


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
    from webapp.services.commerce import payments

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
        assert app.test_client().get("/pay/test/cs_test_x", base_url="https://shop.example.com").status_code == 404


def test_database_url_forms_use_psycopg3():
    assert _database_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert _database_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert _database_url("sqlite:///x.db") == "sqlite:///x.db"


# ---- keys, the public URL and trusted hosts (issue 12, finding 6) ----

def _production(monkeypatch, **env):
    for name, value in {**PRODUCTION_ENV, **env}.items():
        monkeypatch.setenv(name, value)

    class Prod(ProductionConfig):
        RATELIMIT_STORAGE_URI = "memory://"  # the suite's limiter is shared; keep it off the dead Redis

    return Prod


def _refusal(monkeypatch, **env) -> str:
    with pytest.raises(SystemExit) as excinfo:
        _production(monkeypatch, **env).init()
    message = str(excinfo.value)
    assert message.startswith("Folio production config: ") and "\n" not in message
    return message


@pytest.mark.parametrize("keys, position", [("not-a-key", "key 1 of 1"), (f"{KEY_A},tooshort", "key 2 of 2"),
                                            (f"{KEY_A},{KEY_B},{KEY_B[:-2]}==", "key 3 of 3")])
def test_production_names_the_data_key_that_is_not_a_fernet_key(monkeypatch, keys, position):
    message = _refusal(monkeypatch, DATA_ENCRYPTION_KEYS=keys)
    assert f"DATA_ENCRYPTION_KEYS {position} is not a Fernet key" in message
    assert KEY_A not in message and KEY_B[:20] not in message and "tooshort" not in message  # secrets stay out


def test_production_refuses_a_data_key_listed_twice_or_none(monkeypatch):
    assert "same key twice" in _refusal(monkeypatch, DATA_ENCRYPTION_KEYS=f"{KEY_A}, {KEY_A}")
    assert "holds no key" in _refusal(monkeypatch, DATA_ENCRYPTION_KEYS=" , ")


def test_production_never_encrypts_under_the_key_derived_from_secret_key(monkeypatch, caplog):
    from webapp.services.platform.crypto import key_from_secret

    legacy = key_from_secret(PRODUCTION_ENV["SECRET_KEY"])
    assert "DATA_ENCRYPTION_KEYS' first key is derived from SECRET_KEY" in _refusal(
        monkeypatch, DATA_ENCRYPTION_KEYS=f"{legacy},{KEY_A}")
    prod = _production(monkeypatch, DATA_ENCRYPTION_KEYS=f"{KEY_A},{legacy}")  # while rotating away from it
    prod.init()
    assert prod.DATA_ENCRYPTION_KEYS == f"{KEY_A},{legacy}"
    assert "still holds the key derived from SECRET_KEY" in caplog.text


@pytest.mark.parametrize("url", ["http://shop.example.com", "shop.example.com", "/shop", "https://", "ftp://shop",
                                 "https://shop.example.com/?x=1", "https://shop.example.com/#top",
                                 "https://user:pw@shop.example.com", "https://shop.example.com:99999",
                                 "https://shop example.com"])
def test_production_refuses_a_public_url_that_is_not_an_absolute_https_url(monkeypatch, url):
    message = _refusal(monkeypatch, PUBLIC_URL=url)
    assert "PUBLIC_URL" in message


def test_production_public_url_and_trusted_hosts(monkeypatch):
    prod = _production(monkeypatch, PUBLIC_URL="https://Shop.Example.com:8443/store/")
    prod.init()
    assert prod.PUBLIC_URL == "https://Shop.Example.com:8443/store"
    assert prod.TRUSTED_HOSTS == ["shop.example.com"]
    prod = _production(monkeypatch, TRUSTED_HOSTS="www.example.com, .example.org")
    prod.init()
    assert prod.TRUSTED_HOSTS == ["shop.example.com", "www.example.com", ".example.org"]


@pytest.mark.parametrize("code_hash_key, why", [("short", "shorter than 32"), ("s" * 40, "must differ from SECRET_KEY")])
def test_production_needs_a_code_hash_key_of_its_own(monkeypatch, code_hash_key, why):
    assert why in _refusal(monkeypatch, SECRET_KEY="s" * 40, CODE_HASH_KEY=code_hash_key)


def test_development_and_testing_allow_http_but_check_what_is_set(monkeypatch):
    from config import DevelopmentConfig

    class Dev(DevelopmentConfig):
        PUBLIC_URL = "http://127.0.0.1:5000/"
        DATA_ENCRYPTION_KEYS = f"{KEY_A},{KEY_B}"

    Dev.init()
    assert Dev.PUBLIC_URL == "http://127.0.0.1:5000" and Dev.TRUSTED_HOSTS is None  # any Host in development

    class BadKey(DevelopmentConfig):
        DATA_ENCRYPTION_KEYS = f"{KEY_A},nope"

    with pytest.raises(SystemExit, match="Folio development config: DATA_ENCRYPTION_KEYS key 2 of 2"):
        BadKey.init()

    class BadUrl(DevelopmentConfig):
        PUBLIC_URL = "127.0.0.1:5000"

    with pytest.raises(SystemExit, match="Folio development config: PUBLIC_URL must be an absolute http or https"):
        BadUrl.init()

    class Hosts(DevelopmentConfig):
        PUBLIC_URL = "http://127.0.0.1:5000"
        TRUSTED_HOSTS = ["localhost"]

    Hosts.init()
    assert Hosts.TRUSTED_HOSTS == ["127.0.0.1", "localhost"]


def test_development_public_url_follows_port(tmp_path):
    root = str(__import__("pathlib").Path(__file__).resolve().parent.parent)
    code = "import config; print(config.DevelopmentConfig.PUBLIC_URL, config.TestingConfig.PUBLIC_URL)"
    base = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    outputs = [subprocess.run([sys.executable, "-c", code], env={**base, **extra}, capture_output=True, text=True,
                              check=True, cwd=root).stdout.split()
               for extra in ({}, {"PORT": "5123"}, {"PUBLIC_URL": "http://folio.local:8000"})]
    assert outputs == [["http://127.0.0.1:5000", "http://shop.test"], ["http://127.0.0.1:5123", "http://shop.test"],
                       ["http://folio.local:8000", "http://shop.test"]]


def test_production_answers_400_to_an_unknown_host(monkeypatch, tmp_path):
    from webapp import create_app

    app = create_app(_production(monkeypatch, DATABASE_URL=f"sqlite:///{tmp_path / 'prod.db'}",
                                 TRUSTED_HOSTS="www.example.com"))
    client = app.test_client()
    assert client.get("/password/forgot", base_url="https://evil.example").status_code == 400
    assert client.get("/password/forgot", base_url="https://shop.example.com").status_code == 200
    assert client.get("/password/forgot", base_url="https://www.example.com").status_code == 200
    assert client.get("/password/forgot", base_url="https://shop.example.com",
                      headers={"Host": "shop.example.com.evil.example"}).status_code == 400


def test_production_app_has_no_dev_pages(monkeypatch, tmp_path):
    from webapp import create_app

    app = create_app(_production(monkeypatch, DATABASE_URL=f"sqlite:///{tmp_path / 'prod.db'}"))
    assert "dev" not in app.blueprints
    assert not [rule.rule for rule in app.url_map.iter_rules() if rule.rule == "/dev" or rule.rule.startswith("/dev/")]
    assert app.test_client().get("/dev/outbox", base_url="https://shop.example.com").status_code == 404


def test_production_crypto_never_derives_a_key(app):
    """Even if a production app somehow ran without DATA_ENCRYPTION_KEYS / CODE_HASH_KEY, crypto refuses."""
    from webapp.services.platform import crypto

    with app.test_request_context():
        saved = {k: app.config[k] for k in ("FOLIO_CONFIG", "DATA_ENCRYPTION_KEYS", "CODE_HASH_KEY")}
        app.config.update(FOLIO_CONFIG="production", DATA_ENCRYPTION_KEYS=None, CODE_HASH_KEY=None)
        try:
            with pytest.raises(RuntimeError, match="never derives a key from SECRET_KEY"):
                crypto.encrypt("x")
            with pytest.raises(RuntimeError, match="CODE_HASH_KEY"):
                crypto.keyed_hash("123456", "email-code")
        finally:
            app.config.update(saved)


@pytest.mark.parametrize("secret_key", ["short", "dev-only-insecure-key-change-me", "testing-secret-key"])
def test_production_refuses_a_weak_or_public_secret_key(monkeypatch, secret_key):
    """A known SECRET_KEY would let anyone sign a session cookie (e.g. a pending second factor for an admin)."""
    for name, value in PRODUCTION_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("SECRET_KEY", secret_key)
    with pytest.raises(SystemExit, match="SECRET_KEY is too short .* or a public value"):
        ProductionConfig.init()


@pytest.mark.parametrize("url", ["https://localhost", "https://127.0.0.1:8443", "https://shop.localhost"])
def test_production_refuses_a_public_url_that_names_this_machine(monkeypatch, url):
    for name, value in PRODUCTION_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("PUBLIC_URL", url)
    with pytest.raises(SystemExit, match="PUBLIC_URL names this machine"):
        ProductionConfig.init()


def test_a_number_setting_that_is_not_a_number_is_named(tmp_path):
    result = subprocess.run([sys.executable, "-c", "import config"], capture_output=True, text=True,
                            env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "TRUSTED_PROXIES": "abc"},
                            cwd=str(__import__("pathlib").Path(__file__).resolve().parent.parent))
    assert result.returncode != 0 and "TRUSTED_PROXIES must be a whole number, not 'abc'" in result.stderr
