"""Which catalog rows a transaction changed, so the cache versions are bumped once it commits.

Why here, once, rather than a call in every service: prices, stock, titles, authors, genres and covers change
through many paths (staff edits, inline edits, the CSV import, checkout, cancellations and refunds, rental
returns, holds, demo data), and a path that forgot to say so would show stale pages. Every one of them goes
through the SQLAlchemy session, so two session events see them all:

- `after_flush`: rows changed through the unit of work (book.price_cents = ..., session.add(Inventory(...)));
- `do_orm_execute`: UPDATE / DELETE / INSERT statements (the stock service's conditional UPDATEs); the book ids
  come from the WHERE clause (`book_id = :id`, `id IN (...)`) or the parameters; a statement whose rows
  cannot be pinned down bumps the epoch (everything), which is always safe.

What was seen is kept on the session and bumped in `after_commit` (services.platform.cache.bump): bumping
before the commit would let a concurrent request store the old rows under the new version. A rollback drops it
(a savepoint's does not: the transaction still commits what came before).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session
from sqlalchemy.sql import operators
from sqlalchemy.sql.elements import BinaryExpression, BindParameter, BooleanClauseList, ClauseElement, TextClause

from . import cache

_KEY = "folio_catalog_changes"
# Rows of these tables are shown per book (the key is the column holding the book's id).
PER_BOOK = {"books": "id", "inventory": "book_id", "book_authors": "book_id", "book_genres": "book_id"}
# Names shown on every card and book page: an edit or removal changes everything (rare); a new one, the lists.
EVERYWHERE = frozenset({"authors", "genres"})
# Only lists depend on these ("did you mean" words).
LISTS_ONLY = frozenset({"search_terms"})
MAX_BOOK_BUMPS = 5000
_TEXT_DML = re.compile(r"\b(insert\s+into|update|delete\s+from)\s+\"?(books|inventory|book_authors|book_genres|"
                       r"authors|genres|search_terms)\b", re.IGNORECASE)


@dataclass
class Changes:
    books: set[int] = field(default_factory=set)
    catalog: bool = False
    epoch: bool = False


def _changes(session: Session) -> Changes:
    found: Changes | None = session.info.get(_KEY)
    if found is None:
        found = session.info[_KEY] = Changes()
    return found


def _table_name(obj: object) -> str | None:
    table = getattr(type(obj), "__table__", None)
    return getattr(table, "name", None)


@event.listens_for(Session, "after_flush")
def _seen_in_flush(session: Session, _flush_context: object) -> None:
    for state, objects in (("new", session.new), ("dirty", session.dirty), ("deleted", session.deleted)):
        for obj in objects:
            name = _table_name(obj)
            if name is None:
                continue
            if name in PER_BOOK:
                if state == "dirty" and not session.is_modified(obj):
                    continue
                book_id = getattr(obj, PER_BOOK[name], None)
                changes = _changes(session)
                changes.catalog = True
                if book_id is not None:
                    changes.books.add(book_id)
            elif name in EVERYWHERE:
                if state == "dirty" and not session.is_modified(obj):
                    continue
                changes = _changes(session)
                changes.catalog = True
                changes.epoch = changes.epoch or state != "new"
            elif name in LISTS_ONLY:
                _changes(session).catalog = True


def _ids_in(where: ClauseElement | None, column: str) -> set[int] | None:
    """The ids a WHERE clause restricts `column` to (a top-level `= :x` or `IN (...)` term), or None."""
    if where is None:
        return None
    terms = list(where.clauses) if isinstance(where, BooleanClauseList) and where.operator is operators.and_ \
        else [where]
    for term in terms:
        if not isinstance(term, BinaryExpression) or getattr(term.left, "name", None) != column:
            continue
        right = term.right
        if term.operator is operators.eq and isinstance(right, BindParameter) and isinstance(right.value, int):
            return {right.value}
        if term.operator is operators.in_op and isinstance(right, BindParameter) \
                and isinstance(right.value, (list, tuple)) and all(isinstance(v, int) for v in right.value):
            return set(right.value)
    return None


def _param_ids(parameters: Any, column: str) -> set[int] | None:
    rows = parameters if isinstance(parameters, (list, tuple)) else [parameters]
    ids = {row.get(column) for row in rows if isinstance(row, dict)}
    found = {i for i in ids if isinstance(i, int)}
    return found if found and len(found) == len(ids) else None


@event.listens_for(Session, "do_orm_execute")
def _seen_in_statement(state: ORMExecuteState) -> None:
    stmt = state.statement
    if isinstance(stmt, TextClause):
        match = _TEXT_DML.search(stmt.text)
        if match:
            changes = _changes(state.session)
            changes.catalog = changes.epoch = True
        return
    if not (state.is_update or state.is_delete or state.is_insert):
        return
    name = getattr(getattr(stmt, "table", None), "name", None)
    if name in LISTS_ONLY:
        _changes(state.session).catalog = True
        return
    if name in EVERYWHERE:
        changes = _changes(state.session)
        changes.catalog = True
        changes.epoch = changes.epoch or not state.is_insert
        return
    if name not in PER_BOOK:
        return
    column = PER_BOOK[name]
    changes = _changes(state.session)
    changes.catalog = True
    ids = _param_ids(state.parameters, column) if state.parameters else None
    if ids is None and not state.is_insert:
        ids = _ids_in(getattr(stmt, "whereclause", None), column)
    if ids is not None:
        changes.books.update(ids)
    elif not (state.is_insert and name == "books"):  # new books have nothing cached yet
        changes.epoch = True


@event.listens_for(Session, "after_commit")
def _bump(session: Session) -> None:
    changes: Changes | None = session.info.pop(_KEY, None)
    if changes is not None and (changes.catalog or changes.books or changes.epoch):
        if len(changes.books) > MAX_BOOK_BUMPS:  # a bulk load: one epoch bump beats a million increments
            cache.bump((), catalog=True, epoch=True)
        else:
            cache.bump(changes.books, catalog=True, epoch=changes.epoch)


@event.listens_for(Session, "after_rollback")
def _drop(session: Session) -> None:
    """A rollback of the whole transaction drops what it changed. A savepoint's rollback (the import's failed row,
    a duplicate name) fires this too, but the transaction goes on and commits what it changed before: keep all
    of it (a change made inside the savepoint is then bumped for nothing, which costs a miss, never staleness)."""
    if session.in_nested_transaction():
        return
    session.info.pop(_KEY, None)
