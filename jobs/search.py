from __future__ import annotations

from . import job


@job
def rebuild_search_terms() -> int:
    from webapp.extensions import db
    from webapp.services.catalog import search

    count = search.rebuild_terms()
    db.session.commit()
    return count
