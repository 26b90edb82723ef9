"""What every benchmark needs: the app config for a benchmark database, and libpq URLs for psycopg."""
from __future__ import annotations

import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from config import DevelopmentConfig, _database_url  # noqa: E402


def make_config(database_url: str, redis_url: str):
    class BenchConfig(DevelopmentConfig):
        NAME = "bench"
        SQLALCHEMY_DATABASE_URI = _database_url(database_url)
        REDIS_URL = redis_url
        DEBUG = False
        TESTING = False
        DEV_OUTBOX_ENABLED = False

    return BenchConfig


def conninfo(database_url: str, dbname: str | None = None) -> tuple[str, str]:
    """(libpq URL for psycopg, database name) from a postgresql:// URL; `dbname` swaps the database."""
    url = database_url.replace("postgresql+psycopg://", "postgresql://").replace("postgres://", "postgresql://")
    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    return urlunsplit(parts._replace(path="/" + (dbname or name))), name
