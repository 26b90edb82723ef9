"""Migrations build the same schema the models describe, and downgrade cleanly, on this run's database."""
import os
import uuid

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from config import TestingConfig
from webapp.schema_support import include_object


@pytest.fixture
def scratch_url(tmp_path):
    """An empty database of the same kind as the suite's (PostgreSQL in CI, else SQLite)."""
    base = os.environ.get("TEST_DATABASE_URL")
    if not base:
        yield f"sqlite:///{tmp_path / 'migrations.db'}"
        return
    from config import _database_url

    url = make_url(_database_url(base))
    name = f"folio_mig_{uuid.uuid4().hex[:10]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _app_for(url):
    from webapp import create_app

    class Config(TestingConfig):
        SQLALCHEMY_DATABASE_URI = url
        REDIS_URL = None

    return create_app(Config)


# SQLite cannot reflect the lower(username) expression index; it is checked by the PostgreSQL run.
@pytest.mark.filterwarnings("ignore:Skipped unsupported reflection of expression-based index")
@pytest.mark.filterwarnings("ignore:autogenerate skipping metadata-specified expression-based index")
def test_upgrade_matches_models_and_downgrade_round_trips(scratch_url):
    scratch = _app_for(scratch_url)
    with scratch.app_context():
        from webapp.extensions import db

        upgrade()
        with db.engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True,
                                                         "include_object": include_object})
            diff = compare_metadata(ctx, db.metadata)
        assert diff == [], f"models and migrations disagree: {diff}"
        tables = set(inspect(db.engine).get_table_names())
        assert {"books", "authors", "genres", "book_authors", "book_genres", "inventory", "stock_movements",
                "users", "outbound_emails", "search_terms"} <= tables
        downgrade(revision="base")
        assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
        upgrade()
        db.session.remove()
        db.engine.dispose()

