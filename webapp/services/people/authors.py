"""Authors: profiles (kept by the author or by the shop), bank details, the admin list, and each author's own
sales figures.

Rules that live here, once:

* **Name.** Shop-managed: admins set it (the slug follows it); an author edits bio, city, Goodreads link, photo
  and bank details, not the name printed on the books.
* **Goodreads link.** An ``https://`` address on ``goodreads.com`` or ``www.goodreads.com`` only: no other
  scheme, host, port or user info; printable ASCII without spaces, quotes, angle brackets or backslashes
  (percent-encode those); at most 255 characters.
* **Bank account.** Spaces, dashes and dots are dropped and letters upper-cased. Input that starts like an
  IBAN (two letters, two digits) must be a valid IBAN (country length and format, mod-97 check digits, by
  python-stdnum); anything else must be a plain account number of 6 to 34 digits. The number is stored only
  encrypted (services.platform.crypto) with its last four characters in clear for the mask "•••• 1234"; it is never
  shown again, never pre-filled and never written to the audit log (which says only "changed"/"removed").
* **Linking a user account.** Linking a *customer* account makes it an *author* (through services.people.staff, so
  the role change is audited); admins keep their role. Unlinking changes no role.
* **Delete.** Only an author without books can be deleted.
* **Figures** (the author dashboard). Orders count when paid, shipped or delivered, by the time they were paid
  (UTC). Units: every copy sold or rented counts in full for each of the book's authors. Revenue: each order
  line's amount (before order-level discounts, shipping and tax) is split equally between the book's authors,
  rounded to the cent at the end. SQL aggregates only; the author comes from the signed-in user, never from
  the request.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from urllib.parse import urlsplit

from sqlalchemy import case, exists, func, or_, select
from sqlalchemy.exc import IntegrityError
from stdnum import iban as stdnum_iban
from stdnum.exceptions import ValidationError as StdnumValidationError

from ...extensions import db
from ...models import (
    PAID_STATUSES,
    AuditLog,
    Author,
    Book,
    BookAuthor,
    Inventory,
    Order,
    OrderLine,
    User,
    slugify,
    utcnow,
)
from ..platform import audit, crypto, paging, uploads
from . import staff
from .accounts import AccountError

BIO_MAX = 2000
CITY_MAX = 120
NAME_MAX = 160
GOODREADS_HOSTS = frozenset({"goodreads.com", "www.goodreads.com"})
GOODREADS_EXAMPLE = "https://www.goodreads.com/author/show/123.Name"
BANK_MIN_DIGITS, BANK_MAX_DIGITS = 6, 34
MASK = "••••"
PERIODS = {"12m": "Last 12 months (monthly)", "30d": "Last 30 days (daily)"}

_IBAN_LIKE = re.compile(r"^[A-Z]{2}[0-9]{2}")
_SEPARATORS = re.compile(r"[\s.\-]+")


class AuthorError(AccountError):
    """A rule was broken; `errors` maps form field names to messages ("" for the whole form)."""


# ---- validation -------------------------------------------------------------------------------------------

def goodreads_error(url: str | None) -> str | None:
    """Why `url` is not an acceptable Goodreads link, or None when it is (or is empty)."""
    url = (url or "").strip()
    if not url:
        return None
    refuse = (f"Enter the https address of your Goodreads page on goodreads.com, "
              f"for example {GOODREADS_EXAMPLE}.")
    if len(url) > 255 or not re.fullmatch(r"[\x21-\x7e]+", url) or any(c in url for c in "\\\"'<>`{}|^"):
        return refuse
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return refuse
    if parts.scheme.lower() != "https":
        return "The Goodreads link must start with https://. " + refuse
    if parts.username is not None or parts.password is not None or port is not None:
        return refuse
    if (parts.hostname or "").lower() not in GOODREADS_HOSTS:
        return "Only links to goodreads.com are accepted. " + refuse
    return None


def clean_goodreads(url: str | None) -> str | None:
    """The link as stored: scheme and host lower-case, at least "/" as path. Validate first."""
    url = (url or "").strip()
    if not url:
        return None
    parts = urlsplit(url)
    query = f"?{parts.query}" if parts.query else ""
    fragment = f"#{parts.fragment}" if parts.fragment else ""
    return f"https://{parts.hostname.lower()}{parts.path or '/'}{query}{fragment}"


def compact_bank_account(raw: str | None) -> str:
    return _SEPARATORS.sub("", raw or "").upper()


def bank_account_error(raw: str | None) -> str | None:
    """Why `raw` is not an acceptable bank account number, or None (empty means "keep the current one")."""
    number = compact_bank_account(raw)
    if not number:
        return None
    if _IBAN_LIKE.match(number):
        try:
            stdnum_iban.validate(number)
        except StdnumValidationError:
            return "That IBAN is not valid: check the country code, the length and the digits."
        return None
    if not number.isdigit() or not BANK_MIN_DIGITS <= len(number) <= BANK_MAX_DIGITS:
        return (f"Enter an IBAN (e.g. GB82 WEST 1234 5698 7654 32) or an account number of "
                f"{BANK_MIN_DIGITS} to {BANK_MAX_DIGITS} digits.")
    return None


def masked_bank_account(author: Author) -> str | None:
    """"•••• 1234" when bank details are on file, else None. The only way the number is ever shown."""
    if not author.bank_account_encrypted:
        return None
    return f"{MASK} {author.bank_account_last4 or ''}".strip()


def bank_account_number(author: Author) -> str | None:
    """The decrypted number: for a payout export, never for a page."""
    return crypto.decrypt(author.bank_account_encrypted) if author.bank_account_encrypted else None


def _printable(value: str | None, keep: str = "") -> str:
    """Without NUL and other control characters (PostgreSQL refuses NUL bytes in text)."""
    return "".join(ch for ch in (value or "") if ch.isprintable() or ch in keep)


def _clean_text(value: str | None) -> str | None:
    value = _printable((value or "").replace("\r\n", "\n"), keep="\n").strip()
    return value or None


def _check_fields(errors: dict[str, list[str]], *, bio, city, goodreads_url) -> None:
    if bio and len(bio) > BIO_MAX:
        errors.setdefault("bio", []).append(f"Keep the bio to {BIO_MAX:,} characters ({len(bio):,} now).")
    if city and len(city) > CITY_MAX:
        errors.setdefault("city", []).append(f"Keep the city to {CITY_MAX} characters.")
    message = goodreads_error(goodreads_url)
    if message:
        errors.setdefault("goodreads_url", []).append(message)


# ---- lookups --------------------------------------------------------------------------------------------------

def for_user(user: User) -> Author | None:
    """The author profile linked to this user account, if any."""
    return db.session.scalar(select(Author).where(Author.user_id == user.id))


def get(author_id: int) -> Author | None:
    return db.session.get(Author, author_id)


def has_books(author: Author) -> bool:
    return bool(db.session.scalar(select(exists().where(BookAuthor.author_id == author.id))))


def linked_user(author: Author) -> User | None:
    return db.session.get(User, author.user_id) if author.user_id else None


def list_authors(q: str = "", page: int = 1, per_page: int = 25) -> paging.Page:
    """Rows of (Author, linked username or None, number of books), by name."""
    books = (select(func.count()).select_from(BookAuthor).where(BookAuthor.author_id == Author.id)
             .correlate(Author).scalar_subquery())
    stmt = select(Author, User.username, books.label("books")).outerjoin(User, User.id == Author.user_id)
    q = _printable(q).strip()[:100]
    if q:
        like = f"%{q.lower().replace('%', '').replace('_', '')}%"
        stmt = stmt.where(or_(func.lower(Author.name).like(like), func.lower(Author.city).like(like),
                              func.lower(User.username).like(like)))
    return paging.paginate(stmt.order_by(Author.name, Author.id), page, per_page, scalars=False)


def history(author: Author, limit: int = 30) -> list[AuditLog]:
    return list(db.session.scalars(
        select(AuditLog).where(AuditLog.object_type == "author", AuditLog.object_id == str(author.id))
        .order_by(AuditLog.created_at.desc(), AuditLog.id.desc()).limit(limit)))


def unique_slug(name: str, exclude_id: int | None = None) -> str:
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


def find_user(login: str) -> User | None:
    login = _printable(login).strip()
    if not login:
        return None
    return db.session.scalar(select(User).where(or_(func.lower(User.username) == login.lower(),
                                                    func.lower(User.email) == login.lower())))


# ---- changes ----------------------------------------------------------------------------------------------------

@dataclass
class _Diff:
    before: dict
    after: dict

    def set(self, author: Author, attr: str, value, *, shown=None) -> None:
        old = getattr(author, attr)
        if old == value:
            return
        self.before[attr] = old if shown is None else shown[0]
        self.after[attr] = value if shown is None else shown[1]
        setattr(author, attr, value)


def _apply_photo(author: Author, diff: _Diff, photo, remove_photo: bool) -> list[str]:
    """Store a new photo (validated by services.platform.uploads) or drop the current one.
    Returns the stored names to delete once the change is committed."""
    if photo is not None:
        try:
            stored = uploads.save_image(photo, "authors")
        except uploads.UploadError as exc:
            raise AuthorError(str(exc), "photo") from exc
        old = author.photo_path
        diff.set(author, "photo_path", stored, shown=("old" if old else None, "changed"))
        return [old] if old else []
    if remove_photo and author.photo_path:
        old = author.photo_path
        diff.set(author, "photo_path", None, shown=("old", "removed"))
        return [old]
    return []


def update_profile(author: Author, *, actor: User, bio: str | None, city: str | None, goodreads_url: str | None,
                   photo=None, remove_photo: bool = False, bank_account: str | None = None,
                   ip: str | None = None) -> list[str]:
    """The author's own edit. An empty bank account keeps the current one. Raises AuthorError.
    Returns stored photo names to delete after commit (uploads.delete)."""
    bio, city, goodreads_url = _clean_text(bio), _clean_text(city), (goodreads_url or "").strip() or None
    errors: dict[str, list[str]] = {}
    _check_fields(errors, bio=bio, city=city, goodreads_url=goodreads_url)
    bank_message = bank_account_error(bank_account)
    if bank_message:
        errors["bank_account"] = [bank_message]
    if photo is not None and remove_photo:
        errors.setdefault("photo", []).append("Either upload a new photo or remove the current one, not both.")
    if errors:
        raise AuthorError(errors)

    diff = _Diff({}, {})
    diff.set(author, "bio", bio)
    diff.set(author, "city", city)
    diff.set(author, "goodreads_url", clean_goodreads(goodreads_url))
    number = compact_bank_account(bank_account)
    if number:
        _set_bank(author, diff, number)
    to_delete = _apply_photo(author, diff, photo, remove_photo)  # last: nothing is stored when a rule fails
    if diff.after:
        audit.record("author.profile_updated", actor_id=actor.id, object_type="author", object_id=author.id,
                     before=diff.before, after=diff.after, ip=ip)
    return to_delete


def _set_bank(author: Author, diff: _Diff, number: str) -> None:
    had = author.bank_account_encrypted is not None
    if had and crypto.same(bank_account_number(author) or "", number):
        return
    author.bank_account_encrypted = crypto.encrypt(number)
    author.bank_account_last4 = number[-4:]
    diff.before["bank_account"] = "on file" if had else None
    diff.after["bank_account"] = "changed"


def remove_bank_account(author: Author, *, actor: User, ip: str | None = None) -> bool:
    """Forget the bank details. False when there were none."""
    if author.bank_account_encrypted is None:
        return False
    author.bank_account_encrypted = None
    author.bank_account_last4 = None
    audit.record("author.bank_account_removed", actor_id=actor.id, object_type="author", object_id=author.id,
                 before={"bank_account": "on file"}, after={"bank_account": "removed"}, ip=ip)
    return True


def save_author(author: Author | None, *, actor: User, name: str, bio: str | None, city: str | None,
                goodreads_url: str | None, user_login: str | None, photo=None, remove_photo: bool = False,
                ip: str | None = None) -> tuple[Author, list[str]]:
    """Create (author None) or edit an author from the admin panel. Raises AuthorError.
    Returns the author and stored photo names to delete after commit."""
    name = " ".join(_printable(name).split())
    bio, city, goodreads_url = _clean_text(bio), _clean_text(city), (goodreads_url or "").strip() or None
    errors: dict[str, list[str]] = {}
    if not name:
        errors["name"] = ["Enter the author's name."]
    elif len(name) > NAME_MAX:
        errors["name"] = [f"Keep the name to {NAME_MAX} characters."]
    _check_fields(errors, bio=bio, city=city, goodreads_url=goodreads_url)
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
    if creating:
        author = Author(name=name, slug=unique_slug(name))
        db.session.add(author)
        diff = _Diff({}, {"name": name, "slug": author.slug})
    else:
        diff = _Diff({}, {})
        if name != author.name:
            diff.set(author, "name", name)
            diff.set(author, "slug", unique_slug(name, exclude_id=author.id))
    diff.set(author, "bio", bio)
    diff.set(author, "city", city)
    diff.set(author, "goodreads_url", clean_goodreads(goodreads_url))
    diff.set(author, "user_id", user.id if user else None)
    to_delete = _apply_photo(author, diff, photo, remove_photo)
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


# ---- the author's own figures -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class BookFigures:
    book_id: int
    title: str
    active: bool
    co_authors: int  # other authors of this book
    sold: int
    rented: int
    revenue_cents: int
    available: int


@dataclass(frozen=True)
class Figures:
    period: str
    since: datetime
    labels: list[str]
    sold: list[int]
    rented: list[int]
    revenue_cents: list[int]
    total_sold: int
    total_rented: int
    total_revenue_cents: int
    books: list[BookFigures]
    generated_at: datetime

    @property
    def shared_books(self) -> int:
        return sum(1 for b in self.books if b.co_authors)

    @property
    def rows(self) -> list[tuple[str, int, int, int]]:
        return list(zip(self.labels, self.sold, self.rented, self.revenue_cents, strict=True))


def _period_start(period: str, now: datetime) -> tuple[datetime, list[date]]:
    today = now.date()
    if period == "30d":
        days = [today - timedelta(days=29 - i) for i in range(30)]
        return datetime(days[0].year, days[0].month, days[0].day, tzinfo=UTC), days
    months = []
    year, month = today.year, today.month
    for _ in range(12):
        months.append(date(year, month, 1))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    months.reverse()
    return datetime(months[0].year, months[0].month, 1, tzinfo=UTC), months


def _bucket(column, monthly: bool):
    if db.session.get_bind().dialect.name == "postgresql":
        return func.to_char(func.timezone("UTC", column), "YYYY-MM" if monthly else "YYYY-MM-DD")
    return func.strftime("%Y-%m" if monthly else "%Y-%m-%d", column)


def figures(author: Author, period: str = "12m", now: datetime | None = None) -> Figures:
    """Units sold, units rented and revenue of this author's books only: per month or day, in total and per book.
    Three aggregate queries (series, totals, per book) whatever the number of books or orders."""
    period = period if period in PERIODS else "12m"
    now = now or utcnow()
    since, points = _period_start(period, now)
    monthly = period == "12m"

    mine = select(BookAuthor.book_id).where(BookAuthor.author_id == author.id)
    authors_per_book = (select(BookAuthor.book_id.label("book_id"), func.count().label("n"))
                        .where(BookAuthor.book_id.in_(mine)).group_by(BookAuthor.book_id).subquery())
    sold = func.coalesce(func.sum(case((OrderLine.mode == "buy", OrderLine.quantity), else_=0)), 0)
    rented = func.coalesce(func.sum(case((OrderLine.mode == "rent", OrderLine.quantity), else_=0)), 0)
    # Co-written books count in full for each author, as in the shop's reports (sales by author): integer cents.
    revenue = func.coalesce(func.sum(OrderLine.line_cents), 0)

    def lines(*columns):
        return (select(*columns).select_from(OrderLine)
                .join(authors_per_book, authors_per_book.c.book_id == OrderLine.book_id)
                .join(Order, Order.id == OrderLine.order_id)
                .where(Order.status.in_(PAID_STATUSES), Order.paid_at >= since, Order.paid_at <= now))

    bucket = _bucket(Order.paid_at, monthly).label("bucket")
    series = {row.bucket: row for row in db.session.execute(
        lines(bucket, sold.label("sold"), rented.label("rented"), revenue.label("revenue")).group_by(bucket))}
    totals = db.session.execute(lines(sold, rented, revenue)).one()

    per_book = lines(OrderLine.book_id.label("book_id"), sold.label("sold"), rented.label("rented"),
                     revenue.label("revenue")).group_by(OrderLine.book_id).subquery()
    book_rows = db.session.execute(
        select(Book.id, Book.title, Book.active, authors_per_book.c.n,
               func.coalesce(per_book.c.sold, 0), func.coalesce(per_book.c.rented, 0),
               func.coalesce(per_book.c.revenue, 0), func.coalesce(Inventory.available, 0))
        .join(authors_per_book, authors_per_book.c.book_id == Book.id)
        .outerjoin(per_book, per_book.c.book_id == Book.id)
        .outerjoin(Inventory, Inventory.book_id == Book.id)
        .order_by(func.coalesce(per_book.c.revenue, 0).desc(), Book.title, Book.id)).all()

    keys = [p.strftime("%Y-%m" if monthly else "%Y-%m-%d") for p in points]
    empty = (0, 0, 0)
    values = [(series[k].sold, series[k].rented, series[k].revenue) if k in series else empty for k in keys]
    return Figures(
        period=period, since=since,
        labels=[p.strftime("%b %Y" if monthly else "%-d %b") for p in points],
        sold=[int(v[0]) for v in values], rented=[int(v[1]) for v in values],
        revenue_cents=[int(v[2]) for v in values],
        total_sold=int(totals[0]), total_rented=int(totals[1]), total_revenue_cents=int(totals[2]),
        books=[BookFigures(book_id=r[0], title=r[1], active=r[2], co_authors=int(r[3]) - 1, sold=int(r[4]),
                           rented=int(r[5]), revenue_cents=int(r[6]), available=int(r[7])) for r in book_rows],
        generated_at=now,
    )
