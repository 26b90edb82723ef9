"""Authors and genres by name: find (case-insensitively) or create with a unique slug, and suggest names as staff type.

Staff and CSV files name a book's authors and genres in words, never by id, so every write path resolves names here.
"""
from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError

from ...extensions import db
from ...models import Author, Genre, slugify
from .book_values import AUTHOR_NAME_MAX, GENRE_NAME_MAX, CatalogError

Named = type[Author] | type[Genre]


class NameResolver:
    """Author/genre names -> (id, stored name), creating the missing rows: one query to find a set of names and one
    insert for the missing ones, whatever their number. Keeps a cache for a run of many rows (the CSV import);
    `forget_created()` drops what was created since `begin()` when the savepoint around it rolls back."""

    MODELS: dict[str, tuple[Named, int]] = {"author": (Author, AUTHOR_NAME_MAX), "genre": (Genre, GENRE_NAME_MAX)}

    def __init__(self) -> None:
        self._cache: dict[tuple[str, str], tuple[int, str]] = {}
        self._created: list[tuple[str, str]] = []

    def begin(self) -> None:
        self._created = []

    def forget_created(self) -> None:
        for key in self._created:
            self._cache.pop(key, None)
        self._created = []

    def authors(self, names: list[str]) -> list[tuple[int, str]]:
        self.ensure("author", names)
        return [self._cache[("author", name.lower())] for name in names]

    def genres(self, names: list[str]) -> list[tuple[int, str]]:
        self.ensure("genre", names)
        return [self._cache[("genre", name.lower())] for name in names]

    def ensure(self, kind: str, names: Iterable[str]) -> None:
        """Find (case-insensitively) or create every name not cached yet."""
        model, max_len = self.MODELS[kind]
        wanted = {name.lower(): name[:max_len] for name in names if (kind, name.lower()) not in self._cache}
        for attempt in range(3):
            if not wanted:
                return
            self._find(kind, model, list(wanted))
            missing = [name for key, name in wanted.items() if (kind, key) not in self._cache]
            if not missing:
                return
            try:
                with db.session.begin_nested():
                    rows = [{"name": name, "slug": slug} for name, slug in zip(missing, _free_slugs(model, missing),
                                                                                strict=True)]
                    ids = db.session.scalars(insert(model).returning(model.id, sort_by_parameter_order=True), rows)
                    for row, new_id in zip(rows, list(ids), strict=True):
                        key = (kind, row["name"].lower())
                        self._cache[key] = (new_id, row["name"])
                        self._created.append(key)
                return
            except IntegrityError:  # created by someone else meanwhile (name or slug): look again
                if attempt == 2:
                    raise CatalogError(f"Could not save the new {kind}s; please try again.") from None

    def _find(self, kind: str, model: Named, keys: list[str]) -> None:
        for start in range(0, len(keys), 500):
            rows = db.session.execute(select(model.id, model.name)
                                      .where(func.lower(model.name).in_(keys[start:start + 500]))
                                      .order_by(model.id.desc()))
            for found_id, name in rows:  # the lowest id wins when two rows share a name
                self._cache[(kind, name.lower())] = (found_id, name)


def _free_slugs(model: Named, names: list[str]) -> list[str]:
    """A slug per name that no row has yet (jane-doe, jane-doe-2, ...): one query, plus one per slug already taken."""
    bases = [slugify(name, max_len=70) for name in names]
    taken: set[str] = set(db.session.scalars(select(model.slug).where(model.slug.in_(set(bases)))))
    for base in set(bases) & taken:
        taken.update(db.session.scalars(select(model.slug).where(model.slug.like(f"{base}-%"))))
    slugs = []
    for base in bases:
        slug, n = base, 2
        while slug in taken:
            slug, n = f"{base}-{n}", n + 1
        taken.add(slug)
        slugs.append(slug)
    return slugs


def suggest_names(kind: str, typed: str, limit: int = 10) -> list[str]:
    """Existing author or genre names starting with the last comma-separated name being typed."""
    model: Named = Author if kind == "authors" else Genre
    last = (typed or "").split(",")[-1].strip().lower()[:80]
    if len(last) < 1:
        return []
    return list(db.session.scalars(select(model.name).where(func.lower(model.name).startswith(last, autoescape=True))
                                   .group_by(model.name).order_by(model.name).limit(limit)))
