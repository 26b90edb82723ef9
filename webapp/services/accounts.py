"""Accounts: registration, email codes, sign-in, passwords, email change, deletion.

Plain functions over the session; views pass in what they know about the request (ip,
user agent). Rule violations raise AccountError with per-field messages; callers commit.
"""
from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass, field
from datetime import timedelta

from email_validator import EmailNotValidError, validate_email
from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import delete, func, select, update
from zxcvbn import zxcvbn

from ..extensions import db
from ..models import Address, EmailCode, LoginEvent, RecoveryCode, User, utcnow
from . import audit, mail
from .crypto import keyed_hash, same
from .passwords import hash_password, needs_rehash, verify_password

USERNAME_RE = re.compile(r"^[A-Za-z0-9_]{3,30}$")
MIN_PASSWORD = 10
MAX_PASSWORD = 256
CODE_TTL = timedelta(minutes=15)
CODE_MAX_ATTEMPTS = 5
RESEND_AFTER = timedelta(seconds=60)
RESET_MAX_AGE = 3600
UNUSABLE_PASSWORD = "!unusable"
_DUMMY_HASH = None


class AccountError(Exception):
    """A rule was broken. `errors` maps field names to messages ("" for the whole form)."""

    def __init__(self, errors: dict[str, list[str]] | str, field_name: str = ""):
        self.errors = errors if isinstance(errors, dict) else {field_name: [errors]}
        super().__init__("; ".join(m for ms in self.errors.values() for m in ms))


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


# ---- registration and email codes ----

def register(username: str, email: str, password: str, *, ip: str | None = None) -> User:
    username = (username or "").strip()
    errors = {"username": username_errors(username), "email": email_errors(email)}
    errors["password"] = check_password(password, username=username, email=email).errors
    errors = {k: v for k, v in errors.items() if v}
    if errors:
        raise AccountError(errors)
    user = User(username=username, email=normalize_email(email), password_hash=hash_password(password),
                role="customer", password_changed_at=utcnow())
    db.session.add(user)
    db.session.flush()
    issue_code(user, "verify")
    audit.record("user.registered", actor_id=user.id, object_type="user", object_id=user.id, ip=ip)
    return user


def _latest_code(user: User, purpose: str) -> EmailCode | None:
    return db.session.scalar(
        select(EmailCode).where(EmailCode.user_id == user.id, EmailCode.purpose == purpose)
        .order_by(EmailCode.created_at.desc(), EmailCode.id.desc()).limit(1)
    )


def issue_code(user: User, purpose: str, *, new_email: str | None = None, throttle: bool = True) -> EmailCode:
    """Send a fresh 6-digit code (replacing older ones). Throttled to one a minute."""
    latest = _latest_code(user, purpose)
    now = utcnow()
    if throttle and latest and latest.created_at > now - RESEND_AFTER:
        raise ThrottledError(int((latest.created_at + RESEND_AFTER - now).total_seconds()) + 1)
    db.session.execute(update(EmailCode).where(EmailCode.user_id == user.id, EmailCode.purpose == purpose,
                                               EmailCode.used_at.is_(None)).values(used_at=now))
    code = f"{secrets.randbelow(10**6):06d}"
    record = EmailCode(user_id=user.id, purpose=purpose, new_email=new_email, expires_at=now + CODE_TTL,
                       code_hash=keyed_hash(f"{user.id}:{code}", "email-code"), created_at=now)
    db.session.add(record)
    shop = current_app.config["SHOP_NAME"]
    if purpose == "verify":
        subject, intro = f"Your {shop} verification code: {code}", "Welcome! Confirm your email address"
    else:
        subject, intro = f"Confirm your new {shop} email: {code}", "Confirm this new email address for your account"
    mail.send(new_email or user.email, subject,
              f"Hello {user.display_name},\n\n{intro} with this code:\n\n    {code}\n\n"
              f"It is valid for 15 minutes. If you did not ask for it, you can ignore this email.\n\n— {shop}")
    return record


def confirm_code(user: User, purpose: str, code: str) -> None:
    """Check a code; on success apply it (verify / change email). Wrong tries are counted; callers commit."""
    record = _latest_code(user, purpose)
    now = utcnow()
    if record is None or record.used_at is not None:
        raise AccountError("There is no code waiting. Ask for a new one.", "code")
    if record.expires_at < now:
        raise AccountError("That code has expired. Ask for a new one.", "code")
    if record.attempts >= CODE_MAX_ATTEMPTS:
        raise AccountError("Too many wrong tries. Ask for a new code.", "code")
    if not same(record.code_hash, keyed_hash(f"{user.id}:{(code or '').strip()}", "email-code")):
        record.attempts += 1
        left = CODE_MAX_ATTEMPTS - record.attempts
        raise AccountError("That code is not right. " + (f"{left} tries left." if left else
                           "No tries left: ask for a new code."), "code")
    record.used_at = now
    if purpose == "verify":
        user.email_verified_at = now
    elif purpose == "change_email":
        if email_errors(record.new_email, exclude_user_id=user.id):
            raise AccountError("That email address is now used by another account.", "code")
        old = user.email
        user.email = record.new_email
        user.email_verified_at = now
        audit.record("user.email_changed", actor_id=user.id, object_type="user", object_id=user.id,
                     before={"email": old}, after={"email": user.email})


# ---- sign-in ----

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
        user.password_hash = hash_password(password)
    return user if user.is_active else None


def record_login(user: User, *, success: bool, method: str, ip: str | None, user_agent: str | None) -> None:
    db.session.add(LoginEvent(user_id=user.id, success=success, method=method, ip=ip,
                              user_agent=(user_agent or "")[:300]))
    if success:
        user.last_login_at = utcnow()


def recent_logins(user: User, limit: int = 15) -> list[LoginEvent]:
    return list(db.session.scalars(select(LoginEvent).where(LoginEvent.user_id == user.id)
                                   .order_by(LoginEvent.created_at.desc(), LoginEvent.id.desc()).limit(limit)))


def end_other_sessions(user: User) -> None:
    """Invalidate every session and remember-me cookie of this user (the caller re-logs the current one)."""
    user.session_version = (user.session_version or 1) + 1


# ---- passwords ----

def set_password(user: User, new_password: str) -> None:
    check = check_password(new_password, username=user.username, email=user.email)
    if check.errors:
        raise AccountError({"password": check.errors})
    user.password_hash = hash_password(new_password)
    user.password_changed_at = utcnow()
    end_other_sessions(user)


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


def send_password_reset(email: str, reset_url_for) -> bool:
    """Email a reset link if the address belongs to an active account. The caller says the same either way."""
    try:
        normalized = normalize_email(email)
    except AccountError:
        return False
    user = db.session.scalar(select(User).where(User.email == normalized))
    if user is None or user.deleted_at is not None or not user.is_active_account:
        return False
    link = reset_url_for(reset_token(user))
    shop = current_app.config["SHOP_NAME"]
    mail.send(user.email, f"Reset your {shop} password",
              f"Hello {user.display_name},\n\nSomeone (hopefully you) asked to reset your password. "
              f"Open this link within an hour to choose a new one:\n\n{link}\n\n"
              f"If it wasn't you, ignore this email: your password stays the same.\n\n— {shop}")
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
        raise AccountError("This reset link has already been used or is no longer valid.")
    return user


def reset_password(token: str, new_password: str, *, ip: str | None = None) -> User:
    user = user_for_reset_token(token)
    set_password(user, new_password)
    audit.record("user.password_reset", actor_id=user.id, object_type="user", object_id=user.id, ip=ip)
    return user


# ---- profile ----

def update_profile(user: User, full_name: str | None) -> None:
    full_name = (full_name or "").strip()
    if len(full_name) > 120:
        raise AccountError("Use at most 120 characters.", "full_name")
    user.full_name = full_name or None


def request_email_change(user: User, new_email: str, password: str) -> EmailCode:
    if not verify_password(user.password_hash, password or ""):
        raise AccountError("Your password is not right.", "password")
    errors = email_errors(new_email, exclude_user_id=user.id)
    if errors:
        raise AccountError({"email": errors})
    normalized = normalize_email(new_email)
    if normalized == user.email:
        raise AccountError("That is already your email address.", "email")
    return issue_code(user, "change_email", new_email=normalized)


def pending_email_change(user: User) -> EmailCode | None:
    code = _latest_code(user, "change_email")
    if code and code.used_at is None and code.expires_at > utcnow():
        return code
    return None


ADDRESS_FIELDS = ("full_name", "line1", "line2", "city", "region", "postcode", "country", "phone")


def save_address(user: User, data: dict, address: Address | None = None) -> Address:
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


# ---- deletion ----

def deletion_blockers(user: User) -> list[str]:
    """Reasons an account cannot be deleted yet. Each later module adds its own check here."""
    from . import lifecycle

    return lifecycle.deletion_blockers(user)


def delete_account(user: User, password: str, *, ip: str | None = None) -> None:
    """Anonymise the account: personal data goes, orders and the audit trail stay."""
    if not verify_password(user.password_hash, password or ""):
        raise AccountError("Your password is not right.", "password")
    from . import lifecycle, payments

    try:  # before anything is written: nothing may be paid once the account is gone
        lifecycle.close_open_payments(user)
    except payments.PaymentError as exc:
        raise AccountError(f"We could not close a payment you have in progress ({exc}). Please try again in a "
                           "minute.") from None
    blockers = deletion_blockers(user)
    if blockers:
        raise AccountError({"": blockers})
    lifecycle.before_delete(user)
    user.username = f"deleted_{user.id}"
    user.email = f"deleted-{user.id}@deleted.invalid"
    user.full_name = None
    user.password_hash = UNUSABLE_PASSWORD
    user.totp_secret = None
    user.totp_enabled_at = None
    user.email_verified_at = None
    user.is_active_account = False
    user.deleted_at = utcnow()
    end_other_sessions(user)
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
