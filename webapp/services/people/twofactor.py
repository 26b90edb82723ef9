"""Two-factor authentication: TOTP (pyotp) plus ten one-time recovery codes."""
from __future__ import annotations

import io
import secrets
import time

import pyotp
from flask import current_app
from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm.attributes import set_committed_value

from ...extensions import db
from ...models import RecoveryCode, User, utcnow
from ..platform import audit, dml, locks
from ..platform.crypto import decrypt, encrypt, keyed_hash, same
from .accounts import AccountError
from .passwords import verify_password

RECOVERY_CODES = 10
_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no look-alikes


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(user: User, secret: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=current_app.config["SHOP_NAME"])


def qr_svg(data: str) -> str:
    """An SVG QR code (served inline as an image; no network, no inline script). qrcode is imported here: only
    two-factor setup draws one, so web workers don't hold it from the start."""
    import qrcode
    import qrcode.image.svg

    image = qrcode.make(data, image_factory=qrcode.image.svg.SvgPathImage, box_size=8, border=2)
    buffer = io.BytesIO()
    image.save(buffer)
    return buffer.getvalue().decode()


def _step_matching(secret: str, code: str, for_time: float | None = None) -> int | None:
    """The time step a code belongs to (current step +/- 1), or None."""
    code = (code or "").replace(" ", "")
    if not (code.isdigit() and len(code) == 6):
        return None
    totp = pyotp.TOTP(secret)
    now = for_time or time.time()
    for offset in (0, -1, 1):
        at = now + offset * totp.interval
        if same(totp.at(at), code):
            return int(at // totp.interval)
    return None


def enable(user: User, secret: str, code: str, *, ip: str | None = None) -> list[str]:
    """Confirm the authenticator app with a code; returns the recovery codes (shown once)."""
    step = _step_matching(secret, code)
    if step is None:
        raise AccountError("That code does not match. Check the time on your phone and try the next code.", "code")
    locks.customer(user.id)  # two tabs setting 2FA up at once: the second finds it on and changes nothing
    db.session.refresh(user)
    if user.has_2fa:
        raise AccountError("Two-factor authentication was just turned on (in another window?). Turn it off first "
                           "to set it up again.", "code")
    user.totp_secret = encrypt(secret)
    user.totp_enabled_at = utcnow()
    user.totp_last_step = step
    codes = regenerate_recovery_codes(user)
    audit.record("user.2fa_enabled", actor_id=user.id, object_type="user", object_id=user.id, ip=ip)
    return codes


def regenerate_recovery_codes(user: User) -> list[str]:
    """Ten new codes replacing the old ones; serialised per customer, so two at once leave ten valid, not 20."""
    locks.customer(user.id)
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = "".join(secrets.choice(_ALPHABET) for _ in range(10))
        code = f"{raw[:5]}-{raw[5:]}"
        codes.append(code)
        db.session.add(RecoveryCode(user_id=user.id, code_hash=keyed_hash(f"{user.id}:{raw}", "recovery")))
    return codes


def new_recovery_codes(user: User, password: str, *, ip: str | None = None) -> list[str]:
    """Replace the recovery codes after checking the password; returns the new codes (shown once)."""
    if not verify_password(user.password_hash, password or ""):
        raise AccountError("Your password is not right.", "password")
    codes = regenerate_recovery_codes(user)
    audit.record("user.recovery_codes_regenerated", actor_id=user.id, object_type="user", object_id=user.id, ip=ip)
    return codes


def remaining_recovery_codes(user: User) -> int:
    return len(db.session.scalars(select(RecoveryCode.id).where(RecoveryCode.user_id == user.id,
                                                                RecoveryCode.used_at.is_(None))).all())


def verify(user: User, code: str) -> str | None:
    """'totp' or 'recovery_code' when the code signs the user in (each usable once), else None.

    Each is consumed by one conditional UPDATE, so of many requests racing with one code exactly one wins
    (the row, not the copy of it this request read, decides)."""
    if not user.has_2fa or user.totp_secret is None:
        return None
    code = (code or "").strip()
    step = _step_matching(decrypt(user.totp_secret), code)
    if step is not None:
        won = dml.changed(
            update(User).where(User.id == user.id,
                               or_(User.totp_last_step.is_(None), User.totp_last_step < step))
            .values(totp_last_step=step).execution_options(synchronize_session=False))
        if not won:
            return None  # this step or a later one was already used (a replay, or another request won)
        set_committed_value(user, "totp_last_step", step)
        return "totp"
    raw = code.lower().replace("-", "").replace(" ", "")
    if len(raw) == 10:
        wanted = keyed_hash(f"{user.id}:{raw}", "recovery")
        for record in db.session.scalars(select(RecoveryCode).where(RecoveryCode.user_id == user.id,
                                                                    RecoveryCode.used_at.is_(None))):
            if same(record.code_hash, wanted):
                now = utcnow()
                won = dml.changed(
                    update(RecoveryCode).where(RecoveryCode.id == record.id, RecoveryCode.used_at.is_(None))
                    .values(used_at=now).execution_options(synchronize_session=False))
                if not won:
                    return None  # another request used it first
                set_committed_value(record, "used_at", now)
                return "recovery_code"
    return None


def disable(user: User, password: str, *, ip: str | None = None) -> None:
    if not verify_password(user.password_hash, password or ""):
        raise AccountError("Your password is not right.", "password")
    if user.is_admin:
        raise AccountError("Admins must keep two-factor authentication on.", "password")
    user.totp_secret = None
    user.totp_enabled_at = None
    user.totp_last_step = None
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    audit.record("user.2fa_disabled", actor_id=user.id, object_type="user", object_id=user.id, ip=ip)
