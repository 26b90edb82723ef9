import subprocess
import sys

import pytest

from config import ProductionConfig, _database_url


@pytest.mark.parametrize("missing", ["SECRET_KEY", "DATABASE_URL", "REDIS_URL"])
def test_production_refuses_to_start_without_required_settings(monkeypatch, missing):
    env = {"SECRET_KEY": "s3cret", "DATABASE_URL": "postgresql://x@127.0.0.1/db", "REDIS_URL": "redis://127.0.0.1:1/0"}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv(missing)
    with pytest.raises(SystemExit) as excinfo:
        ProductionConfig.init()
    message = str(excinfo.value)
    assert missing in message
    assert "\n" not in message
    for other in set(env) - {missing}:
        assert other not in message


def test_production_start_message_from_a_real_process(tmp_path):
    """The one-line message is what an operator sees when the process exits."""
    env = {"PATH": "/usr/bin:/bin", "FOLIO_CONFIG": "production", "HOME": str(tmp_path)}
    result = subprocess.run([sys.executable, "-c", "import wsgi"], env=env, capture_output=True, text=True,
                            cwd=str(__import__("pathlib").Path(__file__).resolve().parent.parent))
    assert result.returncode != 0
    assert "missing required environment variable(s): SECRET_KEY, DATABASE_URL, REDIS_URL" in result.stderr


def test_database_url_forms_use_psycopg3():
    assert _database_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert _database_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert _database_url("sqlite:///x.db") == "sqlite:///x.db"
