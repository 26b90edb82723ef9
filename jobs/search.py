"""Hourly rebuild of the "did you mean" search vocabulary."""
from __future__ import annotations

from webapp.extensions import db
from webapp.services.catalog import vocabulary

from . import job


@job
def rebuild_search_terms() -> int:
    count = vocabulary.rebuild_terms()
    db.session.commit()
    return count
