"""Alembic helpers shared by migrations/env.py and the migration tests."""
from __future__ import annotations

# Schema objects managed by hand-written SQL in the migrations (search machinery):
# autogenerate must neither drop nor re-create them.
HAND_MANAGED = {"search_vector", "ix_books_search_vector", "ix_search_terms_term_trgm"}


def include_object(obj, name, type_, reflected, compare_to):
    if name in HAND_MANAGED or (type_ == "table" and name and name.startswith("books_fts")):
        return False
    return True


def render_item(type_, obj, autogen_context):
    """Render the app's UTCDateTime as a plain timezone-aware DateTime in revisions."""
    from webapp.models.types import UTCDateTime

    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False
