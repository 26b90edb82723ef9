"""Authors' profiles and bank details: the rules they follow, the lookups, and the author's own edit. Admins'
list and edits are services.people.author_admin; an author's sales figures are services.insight.author_figures.

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
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlalchemy import exists, select
from stdnum import iban as stdnum_iban
from stdnum.exceptions import ValidationError as StdnumValidationError

from ...extensions import db
from ...models import Author, BookAuthor, User
from ..platform import audit, crypto, uploads
from .accounts import AccountError

BIO_MAX = 2000
CITY_MAX = 120
NAME_MAX = 160
GOODREADS_HOSTS = frozenset({"goodreads.com", "www.goodreads.com"})
GOODREADS_EXAMPLE = "https://www.goodreads.com/author/show/123.Name"
BANK_MIN_DIGITS, BANK_MAX_DIGITS = 6, 34
MASK = "••••"

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
    return f"https://{(parts.hostname or '').lower()}{parts.path or '/'}{query}{fragment}"


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


def printable(value: str | None, keep: str = "") -> str:
    """Without NUL and other control characters (PostgreSQL refuses NUL bytes in text)."""
    return "".join(ch for ch in (value or "") if ch.isprintable() or ch in keep)


def clean_text(value: str | None) -> str | None:
    """Free text as stored: printable, Unix line ends, trimmed; None when empty."""
    value = printable((value or "").replace("\r\n", "\n"), keep="\n").strip()
    return value or None


def check_fields(errors: dict[str, list[str]], *, bio: str | None, city: str | None,
                 goodreads_url: str | None) -> None:
    """The rules the author's own edit and the admin's share, added to `errors` by form field."""
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


# ---- changes ----------------------------------------------------------------------------------------------------

@dataclass
class Diff:
    """What an edit changed, for the audit log: `set` changes an attribute and notes it (or `shown`, a
    (before, after) pair of words, for values that must not be logged)."""

    before: dict[str, object]
    after: dict[str, object]

    def set(self, author: Author, attr: str, value: object, *, shown: tuple[str | None, str] | None = None) -> None:
        old = getattr(author, attr)
        if old == value:
            return
        self.before[attr] = old if shown is None else shown[0]
        self.after[attr] = value if shown is None else shown[1]
        setattr(author, attr, value)


def apply_photo(author: Author, diff: Diff, photo: uploads.Readable | None, remove_photo: bool) -> list[str]:
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
                   photo: uploads.Readable | None = None, remove_photo: bool = False, bank_account: str | None = None,
                   ip: str | None = None) -> list[str]:
    """The author's own edit. An empty bank account keeps the current one. Raises AuthorError.
    Returns stored photo names to delete after commit (uploads.delete)."""
    bio, city, goodreads_url = clean_text(bio), clean_text(city), (goodreads_url or "").strip() or None
    errors: dict[str, list[str]] = {}
    check_fields(errors, bio=bio, city=city, goodreads_url=goodreads_url)
    bank_message = bank_account_error(bank_account)
    if bank_message:
        errors["bank_account"] = [bank_message]
    if photo is not None and remove_photo:
        errors.setdefault("photo", []).append("Either upload a new photo or remove the current one, not both.")
    if errors:
        raise AuthorError(errors)

    diff = Diff({}, {})
    diff.set(author, "bio", bio)
    diff.set(author, "city", city)
    diff.set(author, "goodreads_url", clean_goodreads(goodreads_url))
    number = compact_bank_account(bank_account)
    if number:
        _set_bank(author, diff, number)
    to_delete = apply_photo(author, diff, photo, remove_photo)  # last: nothing is stored when a rule fails
    if diff.after:
        audit.record("author.profile_updated", actor_id=actor.id, object_type="author", object_id=author.id,
                     before=diff.before, after=diff.after, ip=ip)
    return to_delete


def _set_bank(author: Author, diff: Diff, number: str) -> None:
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


