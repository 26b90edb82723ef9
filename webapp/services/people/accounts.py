"""Accounts: validation rules, sign-in, passwords and reset links, profile and addresses, and the anonymising
that ends an account (deleting one is services.closure.deletion). Registration and the emailed codes are
services.people.registration; signed-in sessions are services.people.sessions.

Plain functions over the session; views pass in what they know about the request (ip,
user agent). Rule violations raise AccountError with per-field messages; callers commit.
"""
from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from email_validator import EmailNotValidError, validate_email
from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm.attributes import set_committed_value
from zxcvbn import zxcvbn

from ...extensions import db
from ...models import Address, EmailCode, LoginEvent, RecoveryCode, User, utcnow
from ..platform import audit, dml, mail
from ..platform.errors import RuleError
from . import sessions
from .passwords import hash_password, needs_rehash, verify_password

USERNAME_RE = re.compile(r"^[A-Za-z0-9_]{3,30}$")
MIN_PASSWORD = 10
MAX_PASSWORD = 256
RESET_MAX_AGE = 3600
RESET_USED = "This reset link has already been used or is no longer valid."
UNUSABLE_PASSWORD = "!unusable"
# The reset page's absolute URL for a token: the view builds it (webapp.links.public_url), the service mails it.
ResetUrlFor = Callable[[str], str]
_DUMMY_HASH: str | None = None


class AccountError(RuleError):
    """An account rule was broken (see platform.errors.RuleError)."""


class ThrottledError(AccountError):
    def __init__(self, seconds: int, what: str = "a new code"):
        self.seconds = seconds
        super().__init__(f"Please wait {seconds} seconds before asking for {what} again.")


# ---- validation rules (used by the forms and by the services themselves) ----

def username_errors(username: str, *, exclude_user_id: int | None = None) -> list[str]:
    username = (username or "").strip()
    if not USERNAME_RE.match(username):
        return ["Use 3 to 30 letters, digits or underscores."]
    query = select(User.id).where(func.lower(User.username) == username.lower())
    if exclude_user_id:
        query = query.where(User.id != exclude_user_id)
    if db.session.scalar(query) is not None:
        return ["That username is taken."]
    return []


def normalize_email(email: str) -> str:
    """The canonical form of an address, or AccountError with a readable reason."""
    try:
        result = validate_email((email or "").strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise AccountError(str(exc), "email") from None
    return result.normalized.lower()


def email_format_errors(email: str) -> list[str]:
    """What is wrong with the address itself, never whether an account has it (registration uses this)."""
    try:
        normalize_email(email)
    except AccountError as exc:
        return exc.errors["email"]
    return []


def email_errors(email: str, *, exclude_user_id: int | None = None) -> list[str]:
    try:
        normalized = normalize_email(email)
    except AccountError as exc:
        return exc.errors["email"]
    query = select(User.id).where(User.email == normalized)
    if exclude_user_id:
        query = query.where(User.id != exclude_user_id)
    if db.session.scalar(query) is not None:
        return ["An account with that email already exists."]
    return []


@dataclass
class PasswordCheck:
    errors: list[str] = field(default_factory=list)
    hint: str = ""
    score: int = 0  # zxcvbn 0..4


def check_password(password: str, *, username: str = "", email: str = "") -> PasswordCheck:
    password = password or ""
    check = PasswordCheck()
    if len(password) < MIN_PASSWORD:
        check.errors.append(f"Use at least {MIN_PASSWORD} characters.")
    if len(password) > MAX_PASSWORD:
        check.errors.append(f"Use at most {MAX_PASSWORD} characters.")
    lowered = password.lower()
    if username and lowered == username.strip().lower() or email and lowered in {
        email.strip().lower(), email.strip().lower().split("@")[0]
    }:
        check.errors.append("Your password must not be your username or email.")
    if password and len(password) <= MAX_PASSWORD:
        result = zxcvbn(password[:100], user_inputs=[u for u in (username, email) if u])
        check.score = result["score"]
        feedback = result.get("feedback") or {}
        check.hint = feedback.get("warning") or " ".join(feedback.get("suggestions") or [])
        common = any(m.get("pattern") == "dictionary" and m.get("dictionary_name") == "passwords"
                     and len(m.get("token", "")) >= len(password) - 2 for m in result["sequence"])
        if common or check.score < 2:
            check.errors.append("That password is too common or easy to guess. " + (check.hint or
                                "Try a longer phrase of unrelated words."))
    if not check.hint:
        check.hint = ["Very weak", "Weak", "Fair", "Strong", "Very strong"][check.score]
    return check


# ---- sign-in ----

def by_ids(ids: Iterable[int | None]) -> dict[int, User]:
    """{user id: User} for these ids, in one query: staff lists show customers by name, never as "#12"."""
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(wanted)))}


def reachable(user_id: int | None) -> User | None:
    """The customer to email about their rentals, holds, fees or plan: None when the account was deleted (its
    address is erased) or is gone. One rule for every circulation email."""
    user = db.session.get(User, user_id) if user_id else None
    return user if user is not None and user.deleted_at is None else None


def find_by_login(login: str) -> User | None:
    login = (login or "").strip()
    if not login or len(login) > 254:
        return None
    if "@" in login:
        return db.session.scalar(select(User).where(User.email == login.lower()))
    return db.session.scalar(select(User).where(func.lower(User.username) == login.lower()))


def authenticate(login: str, password: str) -> User | None:
    """The user when the password is right and the account may sign in; otherwise None.

    Takes the same time whether or not the account exists (no user enumeration)."""
    global _DUMMY_HASH
    user = find_by_login(login)
    if user is None or user.password_hash.startswith(UNUSABLE_PASSWORD):
        _DUMMY_HASH = _DUMMY_HASH or hash_password("folio-timing-equaliser")
        verify_password(_DUMMY_HASH, password or "")
        return None
    if not verify_password(user.password_hash, password or ""):
        return None
    if needs_rehash(user.password_hash):
        # Only over the hash just checked: a reset committed meanwhile must not be undone by an old password.
        checked, new_hash = user.password_hash, hash_password(password)
        if dml.changed(update(User).where(User.id == user.id, User.password_hash == checked)
                       .values(password_hash=new_hash).execution_options(synchronize_session=False)):
            set_committed_value(user, "password_hash", new_hash)
    return user if user.is_active else None


def record_login(user: User, *, success: bool, method: str, ip: str | None, user_agent: str | None) -> None:
    db.session.add(LoginEvent(user_id=user.id, success=success, method=method, ip=ip,
                              user_agent=(user_agent or "")[:300]))
    if success:
        user.last_login_at = utcnow()


def recent_logins(user: User, limit: int = 15) -> list[LoginEvent]:
    return list(db.session.scalars(select(LoginEvent).where(LoginEvent.user_id == user.id)
                                   .order_by(LoginEvent.created_at.desc(), LoginEvent.id.desc()).limit(limit)))


def end_sessions(user: User, *, keep_token: str | None = None, reason: str = "signed_out_everywhere") -> int:
    """End every signed-in session of this user at once, but the one `keep_token` names: remember-me cookies,
    a second factor still being typed, and sign-ins still in flight (the session version moves on, and a session
    made from an older one is refused). Returns how many sessions ended."""
    version = db.session.execute(update(User).where(User.id == user.id)
                                 .values(session_version=User.session_version + 1).returning(User.session_version)
                                 .execution_options(synchronize_session=False)).scalar_one()
    set_committed_value(user, "session_version", version)
    ended = sessions.end_all(user.id, reason=reason, keep_token=keep_token)
    if keep_token:
        sessions.carry_over(user.id, keep_token, version)
    return ended


# ---- passwords ----

def set_password(user: User, new_password: str, *,
                 changed_meanwhile: str = "Your password was changed meanwhile. Please try again.") -> None:
    """Replace the password this request checked (`user.password_hash` as read) in one conditional UPDATE: when
    another request changed it first, nothing changes and AccountError(changed_meanwhile) says so."""
    check = check_password(new_password, username=user.username, email=user.email)
    if check.errors:
        raise AccountError({"password": check.errors})
    checked, new_hash, now = user.password_hash, hash_password(new_password), utcnow()
    if not dml.changed(
            update(User).where(User.id == user.id, User.password_hash == checked)
            .values(password_hash=new_hash, password_changed_at=now)
            .execution_options(synchronize_session=False)):
        raise AccountError(changed_meanwhile)
    set_committed_value(user, "password_hash", new_hash)
    set_committed_value(user, "password_changed_at", now)
    end_sessions(user, reason="password_changed")


def change_password(user: User, current: str, new_password: str, *, ip: str | None = None) -> None:
    if not verify_password(user.password_hash, current or ""):
        raise AccountError("Your current password is not right.", "current_password")
    set_password(user, new_password)
    audit.record("user.password_changed", actor_id=user.id, object_type="user", object_id=user.id, ip=ip)


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="folio-password-reset")


def _password_fingerprint(user: User) -> str:
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:16]


def reset_token(user: User) -> str:
    """Signed, valid one hour, and single use: it names the current password hash."""
    return _serializer().dumps({"uid": user.id, "pw": _password_fingerprint(user)})


def send_password_reset(email: str, reset_url_for: ResetUrlFor) -> bool:
    """Email a reset link if the address belongs to an active account. The caller says the same either way."""
    try:
        normalized = normalize_email(email)
    except AccountError:
        return False
    user = db.session.scalar(select(User).where(User.email == normalized))
    if user is None or user.deleted_at is not None or not user.is_active_account:
        return False
    mail.send_template(user.email, "account_password_reset", name=user.display_name,
                       link=reset_url_for(reset_token(user)))
    return True


def user_for_reset_token(token: str) -> User:
    try:
        data = _serializer().loads(token, max_age=RESET_MAX_AGE)
    except SignatureExpired:
        raise AccountError("This reset link has expired. Ask for a new one.") from None
    except BadSignature:
        raise AccountError("This reset link is not valid.") from None
    user = db.session.get(User, data.get("uid")) if isinstance(data, dict) else None
    if user is None or not user.is_active_account or user.deleted_at is not None or \
            data.get("pw") != _password_fingerprint(user):
        raise AccountError(RESET_USED)
    return user


def reset_password(token: str, new_password: str, *, ip: str | None = None) -> User:
    """Use a reset link once: the token names the password it replaces, and the change is conditional on that
    password still being there, so of several requests racing with one link only one changes it (and audits)."""
    user = user_for_reset_token(token)
    set_password(user, new_password, changed_meanwhile=RESET_USED)
    audit.record("user.password_reset", actor_id=user.id, object_type="user", object_id=user.id, ip=ip)
    return user


# ---- profile ----

def update_profile(user: User, full_name: str | None) -> None:
    full_name = (full_name or "").strip()
    if len(full_name) > 120:
        raise AccountError("Use at most 120 characters.", "full_name")
    user.full_name = full_name or None


ADDRESS_FIELDS = ("full_name", "line1", "line2", "city", "region", "postcode", "country", "phone")
# What an address's coded fields may hold: (pattern, message). The address form and the JSON API both check
# these (the columns bound the lengths); save_address stores what they let through.
ADDRESS_PATTERNS = {
    "postcode": (r"^[A-Za-z0-9 \-]+$", "Letters, digits, spaces and dashes only."),
    "country": (r"^[A-Za-z]{2}$", "Two letters, e.g. US or GB."),
    "phone": (r"^[0-9 +()\-]+$", "Digits, spaces and + ( ) - only."),
}


def save_address(user: User, data: Mapping[str, Any], address: Address | None = None) -> Address:
    if address is not None and address.user_id != user.id:
        raise PermissionError("not your address")
    if address is None:
        address = Address(user_id=user.id)
        db.session.add(address)
    for name in ADDRESS_FIELDS:
        value = (data.get(name) or "").strip() or None
        setattr(address, name, value.upper() if name == "country" and value else value)
    has_default = any(a.is_default for a in user.addresses if a is not address)
    if data.get("is_default") or not has_default:
        for other in user.addresses:
            other.is_default = False
        address.is_default = True
    if address not in user.addresses:
        user.addresses.append(address)
    return address


def delete_address(user: User, address: Address) -> None:
    if address.user_id != user.id:
        raise PermissionError("not your address")
    was_default = address.is_default
    user.addresses.remove(address)
    db.session.delete(address)
    if was_default and user.addresses:
        user.addresses[0].is_default = True


# ---- deletion (the process is services.closure.deletion; this is the people part) ----

def anonymise(user: User, *, ip: str | None = None) -> None:
    """The person's own data goes: name, address book, password, second factor, codes and sign-ins; the user
    row stays (orders and the audit trail point at it), signed out everywhere and unable to sign in."""
    user.username = f"deleted_{user.id}"
    user.email = f"deleted-{user.id}@deleted.invalid"
    user.full_name = None
    user.password_hash = UNUSABLE_PASSWORD
    user.totp_secret = None
    user.totp_enabled_at = None
    user.email_verified_at = None
    user.is_active_account = False
    user.deleted_at = utcnow()
    end_sessions(user, reason="account_deleted")
    for address in list(user.addresses):
        db.session.delete(address)
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    db.session.execute(delete(EmailCode).where(EmailCode.user_id == user.id))
    db.session.execute(delete(LoginEvent).where(LoginEvent.user_id == user.id))
    audit.record("user.deleted", actor_id=user.id, object_type="user", object_id=user.id, ip=ip)


def create_user(username: str, email: str, password: str, role: str = "customer", *, verified: bool = True,
                check_strength: bool = True) -> User:
    """Create an account directly (CLI, admin tools, tests)."""
    errors = {"username": username_errors(username), "email": email_errors(email)}
    if check_strength:
        errors["password"] = check_password(password, username=username, email=email).errors
    errors = {k: v for k, v in errors.items() if v}
    if errors:
        raise AccountError(errors)
    if role not in ("customer", "author", "admin"):
        raise AccountError("Unknown role.", "role")
    user = User(username=username.strip(), email=normalize_email(email), password_hash=hash_password(password),
                role=role, email_verified_at=utcnow() if verified else None, password_changed_at=utcnow())
    db.session.add(user)
    db.session.flush()
    return user
