"""Migrations build the same schema the models describe, and downgrade cleanly, on this run's database."""
import os
import uuid
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
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



def _old_chart_from(stored, name):
    """services.insight.exports.chart_from as it read the marker text before 0011 (the reference for the upgrade)."""
    if not stored:
        return None
    mark = f"<!--chart:{name}-->"
    at = stored.find(mark)
    if at < 0:
        return None
    start = at + len(mark)
    end = stored.find("<!--chart:", start)
    return stored[start:end if end >= 0 else None]


OLD_CHART_TEXTS = {  # background_tasks.output_svg before 0011 -> output_charts after it (-> the same text after 0010)
    "report:sales": ('<!--chart:revenue--><svg role="img"><path d="M0 0"/></svg>\n<!--chart:orders--><svg>2</svg>',
                     {"revenue": '<svg role="img"><path d="M0 0"/></svg>\n', "orders": "<svg>2</svg>"}),
    "report:books": ("<!--chart:best--><svg>Café &amp; “Ñ”</svg>", {"best": "<svg>Café &amp; “Ñ”</svg>"}),
    "report:stray": ("<svg>no marker</svg>", {"": "<svg>no marker</svg>"}),  # shown under no name: kept, as ""
    "report:lead": ("lead<!--chart:stock--><svg>s</svg>", {"": "lead", "stock": "<svg>s</svg>"}),
    "report:empty": ("", {}),
    "import:books": (None, None),
}
# Never written by the code, and never shown: a second chart of one name, an empty name, an unclosed marker.
UNREACHABLE = ("report:odd", "<!--chart:a-->1<!--chart:a-->2<!--chart:-->3<!--chart:b", {"a": "1"}, "<!--chart:a-->1")


def test_0011_turns_marker_text_into_charts_by_name_and_back(scratch_url):
    tasks = sa.table("background_tasks", sa.column("id", sa.Integer()), sa.column("kind", sa.String()),
                     sa.column("title", sa.String()), sa.column("created_at", sa.DateTime(timezone=True)),
                     sa.column("output_svg", sa.Text()), sa.column("output_charts", sa.JSON()))
    scratch = _app_for(scratch_url)
    with scratch.app_context():
        from webapp.extensions import db
        from webapp.models import BackgroundTask

        upgrade(revision="0010")
        odd_kind, odd_text, odd_charts, odd_back = UNREACHABLE
        with db.engine.begin() as conn:
            conn.execute(tasks.insert(), [{"kind": kind, "title": kind, "created_at": datetime(2026, 12, 1, tzinfo=UTC),
                                           "output_svg": old}
                                          for kind, (old, _) in {**OLD_CHART_TEXTS, odd_kind: (odd_text, 0)}.items()])

        upgrade(revision="0011")
        assert "output_svg" not in {c["name"] for c in inspect(db.engine).get_columns("background_tasks")}
        with db.engine.connect() as conn:
            stored = dict(conn.execute(sa.select(tasks.c.kind, tasks.c.output_charts)).all())
        assert stored == {**{kind: new for kind, (_, new) in OLD_CHART_TEXTS.items()}, odd_kind: odd_charts}
        for kind, (old, new) in {**OLD_CHART_TEXTS, odd_kind: (odd_text, odd_charts)}.items():
            for name in {"revenue", "orders", "best", "stock", "a", "b", "nope"}:  # each chart shown before, after
                assert (new or {}).get(name) == _old_chart_from(old, name), (kind, name)
            assert list(new or {}) == list(stored[kind] or {})  # in their order
        # The model's column reads what the migration wrote (the column alone: later revisions add to the
        # tables BackgroundTask joins).
        charts = db.session.scalars(sa.select(BackgroundTask.output_charts)
                                    .where(BackgroundTask.kind == "report:sales")).one()
        assert charts["orders"] == "<svg>2</svg>"
        db.session.remove()
        with db.engine.begin() as conn:  # a task without charts, as execute() stores it since 0011 (JSON null)
            conn.execute(tasks.insert().values(kind="import:late", title="late", output_charts=None,
                                               created_at=datetime(2026, 12, 9, tzinfo=UTC)))

        downgrade(revision="0010")
        assert "output_charts" not in {c["name"] for c in inspect(db.engine).get_columns("background_tasks")}
        with db.engine.connect() as conn:
            restored = dict(conn.execute(sa.select(tasks.c.kind, tasks.c.output_svg)).all())
        assert restored == {**{kind: old for kind, (old, _) in OLD_CHART_TEXTS.items()},  # the same text, byte for byte
                            odd_kind: odd_back, "import:late": None}
        db.session.remove()
        db.engine.dispose()
