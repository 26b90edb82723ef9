"""The admin panel's authors: the list, creating and editing an author (name and slug, linked account), and
deleting one. Every change is audited. The profile rules they share with the author's own edit are
services.people.authors.

* **Linking a user account.** Linking a *customer* account makes it an *author* (through services.people.staff, so
  the role change is audited); admins keep their role. Unlinking changes no role.
* **Delete.** Only an author without books can be deleted.
"""
from __future__ import annotations

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError

from ...extensions import db
from ...models import AuditLog, Author, BookAuthor, User, slugify
from ..platform import audit, paging, uploads
from . import staff
from .authors import (
    NAME_MAX,
    AuthorError,
    Diff,
    apply_photo,
    check_fields,
    clean_goodreads,
    clean_text,
    has_books,
    printable,
)


def list_authors(q: str = "", page: int = 1, per_page: int = 25) -> paging.Page:
    """Rows of (Author, linked username or None, number of books), by name."""
    books = (select(func.count()).select_from(BookAuthor).where(BookAuthor.author_id == Author.id)
             .correlate(Author).scalar_subquery())
    stmt = select(Author, User.username, books.label("books")).outerjoin(User, User.id == Author.user_id)
    q = printable(q).strip()[:100]
    if q:
        like = f"%{q.lower().replace('%', '').replace('_', '')}%"
        stmt = stmt.where(or_(func.lower(Author.name).like(like), func.lower(Author.city).like(like),
                              func.lower(User.username).like(like)))
    return paging.paginate(stmt.order_by(Author.name, Author.id), page, per_page, scalars=False)


def history(author: Author, limit: int = 30) -> list[AuditLog]:
    """The author's audit trail, newest first (the admin's edit page)."""
    return list(db.session.scalars(
        select(AuditLog).where(AuditLog.object_type == "author", AuditLog.object_id == str(author.id))
        .order_by(AuditLog.created_at.desc(), AuditLog.id.desc()).limit(limit)))


def unique_slug(name: str, exclude_id: int | None = None) -> str:
    """The slug of `name`, numbered ("-2", "-3" ...) past the ones other authors have."""
    base = slugify(name, max_len=160)
    taken_stmt = select(Author.slug).where(or_(Author.slug == base, Author.slug.like(f"{base}-%")))
    if exclude_id is not None:
        taken_stmt = taken_stmt.where(Author.id != exclude_id)
    taken = set(db.session.scalars(taken_stmt))
    if base not in taken:
        return base
    n = 2
    while f"{base}-{n}" in taken:
        n += 1
    return f"{base}-{n}"


def find_user(login: str | None) -> User | None:
    """The account an admin names to link, by username or email."""
    login = printable(login).strip()
    if not login:
        return None
    return db.session.scalar(select(User).where(or_(func.lower(User.username) == login.lower(),
                                                    func.lower(User.email) == login.lower())))


def save_author(author: Author | None, *, actor: User, name: str, bio: str | None, city: str | None,
                goodreads_url: str | None, user_login: str | None, photo: uploads.Readable | None = None,
                remove_photo: bool = False, ip: str | None = None) -> tuple[Author, list[str]]:
    """Create (author None) or edit an author from the admin panel. Raises AuthorError.
    Returns the author and stored photo names to delete after commit."""
    name = " ".join(printable(name).split())
    bio, city, goodreads_url = clean_text(bio), clean_text(city), (goodreads_url or "").strip() or None
    errors: dict[str, list[str]] = {}
    if not name:
        errors["name"] = ["Enter the author's name."]
    elif len(name) > NAME_MAX:
        errors["name"] = [f"Keep the name to {NAME_MAX} characters."]
    check_fields(errors, bio=bio, city=city, goodreads_url=goodreads_url)
    user = None
    if (user_login or "").strip():
        user = find_user(user_login)
        if user is None or user.deleted_at is not None:
            errors["user_login"] = ["No account has that username or email."]
        else:
            other = db.session.scalar(select(Author).where(Author.user_id == user.id))
            if other is not None and (author is None or other.id != author.id):
                errors["user_login"] = [f"That account is already linked to {other.name}."]
    if photo is not None and remove_photo:
        errors.setdefault("photo", []).append("Either upload a new photo or remove the current one, not both.")
    if errors:
        raise AuthorError(errors)

    creating = author is None
    if author is None:
        author = Author(name=name, slug=unique_slug(name))
        db.session.add(author)
        diff = Diff({}, {"name": name, "slug": author.slug})
    else:
        diff = Diff({}, {})
        if name != author.name:
            diff.set(author, "name", name)
            diff.set(author, "slug", unique_slug(name, exclude_id=author.id))
    diff.set(author, "bio", bio)
    diff.set(author, "city", city)
    diff.set(author, "goodreads_url", clean_goodreads(goodreads_url))
    diff.set(author, "user_id", user.id if user else None)
    to_delete = apply_photo(author, diff, photo, remove_photo)
    _flush_unique(name, user, stored_photo=author.photo_path if photo is not None else None)
    if creating or diff.after:
        audit.record("admin.author_created" if creating else "admin.author_updated", actor_id=actor.id,
                     object_type="author", object_id=author.id, before=None if creating else diff.before,
                     after=diff.after, ip=ip)
    if user is not None and user.role == "customer" and "user_id" in diff.after:
        staff.change_role(actor, user, "author", ip=ip)  # audited there
    return author, to_delete


def _flush_unique(name: str, user: User | None, *, stored_photo: str | None) -> None:
    """Two admins saving at once: the unique indexes decide (the slug, made from the name; the linked account),
    and the one that lost is told what happened instead of getting a 500. The photo stored for the lost save is
    deleted (nothing will point at it). The transaction is spoilt then (no savepoint: begin_nested() would flush
    the new row before it begins): the caller rolls back, as for any AuthorError."""
    try:
        db.session.flush()
    except IntegrityError as exc:
        if stored_photo:
            uploads.delete(stored_photo)
        if user is not None and "user_id" in str(exc.orig):
            raise AuthorError({"user_login": ["That account was linked to another author just now."]}) from None
        raise AuthorError({"name": [f"Another author named “{name}” was saved just now, at the same time. Check the "
                                    "authors list; to add a second author of that name, save again."]}) from None


def delete_author(author: Author, *, actor: User, ip: str | None = None) -> list[str]:
    """Delete an author without books. Raises AuthorError. Returns stored photos to delete after commit."""
    if has_books(author):
        raise AuthorError(f"{author.name} has books in the catalog; an author with books cannot be deleted.")
    audit.record("admin.author_deleted", actor_id=actor.id, object_type="author", object_id=author.id,
                 before={"name": author.name, "slug": author.slug, "user_id": author.user_id}, ip=ip)
    photo = author.photo_path
    db.session.delete(author)
    return [photo] if photo else []
