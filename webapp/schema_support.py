"""Alembic helpers shared by migrations/env.py and the migration tests."""
from __future__ import annotations

from typing import Literal

from alembic.autogenerate.api import AutogenContext

from .models.types import UTCDateTime

# Schema objects managed by hand-written SQL in the migrations (search machinery):
# autogenerate must neither drop nor re-create them.
HAND_MANAGED = {"search_vector", "ix_books_search_vector", "ix_search_terms_term_trgm"}


def include_object(_obj: object, name: str | None, type_: str, _reflected: bool, _compare_to: object) -> bool:
    """Alembic's include_object hook: autogenerate leaves the hand-managed search objects alone."""
    return not (name in HAND_MANAGED or (type_ == "table" and name and name.startswith("books_fts")))


def render_item(type_: str, obj: object, _autogen_context: AutogenContext) -> str | Literal[False]:
    """Render the app's UTCDateTime as a plain timezone-aware DateTime in revisions."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False
