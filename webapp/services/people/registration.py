"""Registration and the emailed 6-digit codes that prove an address (verification, email change).

Registration never tells whether an address has an account (see `register`). Each code is consumed by one
atomic statement and every try is counted before the comparison, so racing requests cannot try more than
CODE_MAX_ATTEMPTS codes or use one twice.
"""
from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import set_committed_value

from ...extensions import db
from ...models import AuditLog, EmailCode, User, utcnow
from ..platform import audit, dml, mail
from ..platform.crypto import keyed_hash, same
from .accounts import (
    AccountError,
    ThrottledError,
    check_password,
    email_errors,
    email_format_errors,
    normalize_email,
    username_errors,
)
from .passwords import hash_password, verify_password

CODE_TTL = timedelta(minutes=15)
CODE_MAX_ATTEMPTS = 5
RESEND_AFTER = timedelta(seconds=60)
TOO_MANY_TRIES = "Too many wrong tries. Ask for a new code."
NO_CODE = "There is no code waiting. Ask for a new one."


def wrong_code_message(tries: int) -> str:
    """What a wrong code says after `tries` tries (also what the registration page says for an address that
    already had an account, where every code is wrong: the two must read alike)."""
    if tries > CODE_MAX_ATTEMPTS:
        return TOO_MANY_TRIES
    left = CODE_MAX_ATTEMPTS - tries
    return "That code is not right. " + ("No tries left: ask for a new code." if left <= 0 else
                                         f"{left} {'try' if left == 1 else 'tries'} left.")


def register(username: str, email: str, password: str, *, ip: str | None = None,
             sign_in_url: str | None = None, reset_url: str | None = None) -> User | None:
    """Create a customer account and email it a verification code; None when the email already has an account
    (see `sign_up`, what the registration form calls)."""
    account, is_new = _register(username, email, password, ip=ip, sign_in_url=sign_in_url, reset_url=reset_url)
    return account if is_new else None


def sign_up(username: str, email: str, password: str, *, ip: str | None = None,
            sign_in_url: str | None = None, reset_url: str | None = None) -> int:
    """The registration form: register, and return the id of the code this browser is to confirm.

    Registration never tells whether an email address has an account. When it has one, nothing is created,
    the owner is emailed instead ("someone tried to register with your address; sign in or reset your
    password", with `sign_in_url` / `reset_url`, at most once an hour), and the code to confirm is a decoy: a
    code row nobody was sent, that `confirm_sign_up` and `resend_sign_up` count, expire and replace exactly as
    a real one, on the server (the browser holds only the code's id, the same kind of number either way). The
    password is hashed either way, so both take about as long.

    A taken username is still said to be taken: a username is a handle the visitor chooses and must be unique,
    so the form cannot accept it quietly. It tells the visitor only that some account uses that name, never
    its email address; guessing passwords for it meets the sign-in limits per account."""
    account, is_new = _register(username, email, password, ip=ip, sign_in_url=sign_in_url, reset_url=reset_url)
    if is_new:
        return _existing(_latest_code(account, "verify")).id
    return _new_decoy(account).id


def _register(username: str, email: str, password: str, *, ip: str | None, sign_in_url: str | None,
              reset_url: str | None) -> tuple[User, bool]:
    """(the new account, True), or (the account that already has this address, False)."""
    username = (username or "").strip()
    errors = {"username": username_errors(username), "email": email_format_errors(email)}
    errors["password"] = check_password(password, username=username, email=email).errors
    errors = {k: v for k, v in errors.items() if v}
    if errors:
        raise AccountError(errors)
    normalized = normalize_email(email)
    password_hash = hash_password(password)  # also for a taken address: the same work, the same time
    owner = db.session.scalar(select(User).where(User.email == normalized))
    if owner is None:
        user = User(username=username, email=normalized, password_hash=password_hash, role="customer",
                    password_changed_at=utcnow())
        try:  # two registrations racing for one address or username: the unique indexes decide
            db.session.add(user)
            db.session.flush()
        except IntegrityError:
            # The first write of this request (no savepoint: pysqlite would commit one opened first), so rolling
            # the whole transaction back loses nothing else.
            db.session.rollback()
            owner = db.session.scalar(select(User).where(User.email == normalized))
            if owner is None:
                raise AccountError("That username is taken.", "username") from None
        else:
            issue_code(user, "verify")
            audit.record("user.registered", actor_id=user.id, object_type="user", object_id=user.id, ip=ip)
            return user, True
    _tell_owner_of_registration(owner, ip=ip, sign_in_url=sign_in_url, reset_url=reset_url)
    return owner, False


def _new_decoy(owner: User) -> EmailCode:
    """A code nobody is sent, standing in for a registration with `owner`'s address."""
    now = utcnow()
    record = EmailCode(user_id=owner.id, purpose="decoy", expires_at=now + CODE_TTL, created_at=now,
                       code_hash=keyed_hash(f"{owner.id}:{secrets.token_hex(16)}", "email-code"))
    db.session.add(record)
    db.session.flush()
    return record


def _existing(record: EmailCode | None) -> EmailCode:
    """A code this request has just written (so it exists)."""
    if record is None:
        raise AccountError(NO_CODE, "code")
    return record


def _owner(record: EmailCode) -> User:
    """The account a code belongs to (a foreign key: codes go with their account)."""
    user = db.session.get(User, record.user_id)
    if user is None:
        raise AccountError(NO_CODE, "code")
    return user


def _sign_up_code(code_id: int | None) -> EmailCode:
    record = db.session.get(EmailCode, code_id) if isinstance(code_id, int) else None
    if record is None or record.purpose not in ("verify", "decoy"):
        raise AccountError(NO_CODE, "code")
    return record


def confirm_sign_up(code_id: int, code: str) -> User:
    """The registration page's code: verifies the new account and returns it (the caller signs it in). A decoy
    is counted, expires and runs out of tries like a real code, and is never right. Every try is counted and
    must be committed even when this raises; callers commit."""
    record = _sign_up_code(code_id)
    _spend(record, code, never_right=record.purpose == "decoy")
    user = _owner(record)
    user.email_verified_at = record.used_at
    return user


def resend_sign_up(code_id: int) -> int:
    """"Send me a new code" on the registration page: the id of the new code (a new decoy for a decoy), with the
    same throttle either way (ThrottledError)."""
    record = _sign_up_code(code_id)
    owner = _owner(record)
    if record.purpose == "verify":
        return issue_code(owner, "verify").id
    now = utcnow()
    if record.created_at > now - RESEND_AFTER:
        raise ThrottledError(int((record.created_at + RESEND_AFTER - now).total_seconds()) + 1)
    db.session.execute(update(EmailCode).where(EmailCode.id == record.id, EmailCode.used_at.is_(None))
                       .values(used_at=now).execution_options(synchronize_session=False))
    return _new_decoy(owner).id


def prune_decoys(now: datetime | None = None) -> int:
    """Forget decoy codes a day after they expired (the daily prune job)."""
    cutoff = (now or utcnow()) - timedelta(days=1)
    return dml.changed(delete(EmailCode).where(EmailCode.purpose == "decoy", EmailCode.expires_at < cutoff)
                       .execution_options(synchronize_session=False))


REGISTRATION_NOTICE_EVERY = timedelta(hours=1)


def _tell_owner_of_registration(owner: User, *, ip: str | None, sign_in_url: str | None,
                                reset_url: str | None) -> None:
    """Someone tried to register with `owner`'s address: audit it, and email the owner (at most once an hour, so
    that the form cannot be used to flood someone's mailbox). Deleted accounts have no address left to email."""
    action = "user.registration_with_existing_email"
    recent = db.session.scalar(
        select(AuditLog.id).where(AuditLog.object_type == "user", AuditLog.object_id == str(owner.id),
                                  AuditLog.action == action,
                                  AuditLog.created_at > utcnow() - REGISTRATION_NOTICE_EVERY).limit(1))
    audit.record(action, object_type="user", object_id=owner.id, ip=ip)
    if recent is not None or owner.deleted_at is not None:
        return
    mail.send_template(owner.email, "account_registration_attempt", name=owner.display_name,
                       username=owner.username, sign_in_url=sign_in_url, reset_url=reset_url)


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
    template = "account_verify_code" if purpose == "verify" else "account_new_email_code"
    mail.send_template(new_email or user.email, template, name=user.display_name, code=code,
                       minutes=int(CODE_TTL.total_seconds()) // 60)
    return record


def confirm_code(user: User, purpose: str, code: str) -> None:
    """Check a code; on success apply it (verify / change email). Every try is counted, the right one too, and
    the count must be committed even when this raises (actions.confirm_code does); callers commit."""
    record = _latest_code(user, purpose)
    if record is None:
        raise AccountError(NO_CODE, "code")
    _spend(record, code)
    now = record.used_at
    if purpose == "verify":
        user.email_verified_at = now
    elif purpose == "change_email" and record.new_email is not None:
        if email_errors(record.new_email, exclude_user_id=user.id):
            raise AccountError("That email address is now used by another account.", "code")
        old = user.email
        user.email = record.new_email
        user.email_verified_at = now
        audit.record("user.email_changed", actor_id=user.id, object_type="user", object_id=user.id,
                     before={"email": old}, after={"email": user.email})


def _spend(record: EmailCode, code: str, *, never_right: bool = False) -> None:
    """One try at `record`: raises AccountError (no code waiting, expired, wrong, too many tries) unless `code` is
    right, and then consumes it. Each try is counted before the comparison, in one statement on the row, so
    however many requests race at most CODE_MAX_ATTEMPTS tries are ever compared; only one can consume it."""
    now = utcnow()
    if record.used_at is not None:
        raise AccountError(NO_CODE, "code")
    if record.expires_at < now:
        raise AccountError("That code has expired. Ask for a new one.", "code")
    tries = db.session.execute(
        update(EmailCode).where(EmailCode.id == record.id, EmailCode.used_at.is_(None),
                                EmailCode.attempts < CODE_MAX_ATTEMPTS)
        .values(attempts=EmailCode.attempts + 1).returning(EmailCode.attempts)
        .execution_options(synchronize_session=False)).scalar_one_or_none()
    if tries is None:  # used meanwhile (another request, or a newer code replaced it), or out of tries
        row = db.session.execute(select(EmailCode.used_at).where(EmailCode.id == record.id)).first()
        if row is None or row.used_at is not None:
            raise AccountError(NO_CODE, "code")
        raise AccountError(TOO_MANY_TRIES, "code")
    set_committed_value(record, "attempts", tries)
    if never_right or not same(record.code_hash, keyed_hash(f"{record.user_id}:{(code or '').strip()}", "email-code")):
        raise AccountError(wrong_code_message(tries), "code")
    if not dml.changed(
            update(EmailCode).where(EmailCode.id == record.id, EmailCode.used_at.is_(None))
            .values(used_at=now).execution_options(synchronize_session=False)):
        raise AccountError(NO_CODE, "code")
    set_committed_value(record, "used_at", now)


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
