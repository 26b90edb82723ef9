"""Words: how a search query and a book's title and authors are cut into words, and the "did you mean" vocabulary.

The vocabulary (`search_terms`: each title/author word of an active book with its frequency) is rebuilt hourly by a
job (`rebuild_terms`); words of a book saved by staff are added at once (`remember_search_terms`). When a search
finds nothing, `suggest_query` replaces each unknown word with the closest known one (pg_trgm similarity on
PostgreSQL, difflib on SQLite). One tokenizer serves all three, so they agree on what a word is.
"""
from __future__ import annotations

import difflib
import re
from collections import Counter
from collections.abc import Iterable

from sqlalchemy import delete, func, insert, select
from sqlalchemy.dialects import postgresql, sqlite

from ...extensions import db
from ...models import Book, SearchTerm

MAX_QUERY_CHARS = 200
MAX_TOKENS = 8
_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)


def tokenize(q: str) -> list[str]:
    """The words of a search query (lower case, at most MAX_TOKENS, overlong words dropped)."""
    return [t for t in _TOKEN.findall((q or "")[:MAX_QUERY_CHARS].lower()) if len(t) <= 40][:MAX_TOKENS]


def _words(text: str) -> set[str]:
    """The words of a title or author names worth suggesting: 3 to 40 letters, not a number."""
    return {w for w in _TOKEN.findall((text or "").lower()) if 3 <= len(w) <= 40 and not w.isdigit()}


def _dialect() -> str:
    return db.session.get_bind().dialect.name


def suggest_query(q: str) -> str | None:
    """A corrected query ("did you mean"), or None when every word is known or nothing is close."""
    tokens = tokenize(q)
    changed = False
    corrected = []
    for token in tokens:
        best = _closest_term(token) if len(token) >= 3 else None
        if best and best != token:
            corrected.append(best)
            changed = True
        else:
            corrected.append(token)
    return " ".join(corrected) if changed else None


def _closest_term(token: str) -> str | None:
    if db.session.scalar(select(SearchTerm.term).where(SearchTerm.term == token)):
        return token
    if _dialect() == "postgresql":
        return db.session.scalar(
            select(SearchTerm.term)
            .where(SearchTerm.term.op("%")(token))
            .order_by(func.similarity(SearchTerm.term, token).desc(), SearchTerm.frequency.desc())
            .limit(1)
        )
    candidates = db.session.scalars(
        select(SearchTerm.term).where(
            SearchTerm.term.startswith(token[0]),
            func.length(SearchTerm.term).between(len(token) - 2, len(token) + 2),
        ).order_by(SearchTerm.frequency.desc()).limit(5000)
    ).all()
    matches = difflib.get_close_matches(token, candidates, n=1, cutoff=0.7)
    return matches[0] if matches else None


def rebuild_terms(batch: int = 5000) -> int:
    """Rebuild the suggestion vocabulary from active titles and author names."""
    counts: Counter[str] = Counter()
    rows = db.session.execute(
        select(Book.title, Book.author_names).where(Book.active.is_(True)).execution_options(yield_per=batch)
    )
    for title, names in rows:
        counts.update(_words(f"{title} {names}"))
    db.session.execute(delete(SearchTerm))
    items = [{"term": t, "frequency": n} for t, n in counts.items()]
    for start in range(0, len(items), batch):
        db.session.execute(insert(SearchTerm), items[start:start + batch])
    return len(items)


def remember_search_terms(texts: Iterable[str]) -> None:
    """Add title/author words to the "did you mean" vocabulary now (the hourly rebuild recounts them)."""
    counts: Counter[str] = Counter()
    for text in texts:
        counts.update(_words(text))
    if not counts:
        return
    make = postgresql.insert if _dialect() == "postgresql" else sqlite.insert
    stmt = make(SearchTerm).values([{"term": t, "frequency": n} for t, n in sorted(counts.items())])
    db.session.execute(stmt.on_conflict_do_update(index_elements=[SearchTerm.term],
                                                  set_={"frequency": SearchTerm.frequency + stmt.excluded.frequency}))
