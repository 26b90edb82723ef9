"""The "did you mean" vocabulary: words added at once when staff save a book."""
from webapp.models import SearchTerm
from webapp.services.catalog import vocabulary


def test_remember_search_terms_adds_and_counts_words(app, db):
    vocabulary.remember_search_terms(["The Lantern Keeper Ann Bell", "Lantern 1999 of"])
    db.session.commit()
    assert db.session.get(SearchTerm, "lantern").frequency == 2
    assert db.session.get(SearchTerm, "1999") is None and db.session.get(SearchTerm, "of") is None
