"""Staff actions on user accounts (admin panel). Every change is audited."""
from __future__ import annotations

from sqlalchemy import func, or_, select

from ...extensions import db
from ...models import ROLES, AuditLog, User
from ..platform import audit, mail, paging
from . import accounts, api_tokens, registration
from .accounts import AccountError

STATUSES = {"active": "Active", "unverified": "Unverified", "deactivated": "Deactivated", "deleted": "Deleted"}


def list_users(q: str = "", role: str = "", status: str = "", page: int = 1, per_page: int = 25) -> paging.Page:
    stmt = select(User)
    q = (q or "").strip()[:100]
    if q:
        like = f"%{q.lower().replace('%', '').replace('_', '')}%"
        stmt = stmt.where(or_(func.lower(User.username).like(like), User.email.like(like),
                              func.lower(User.full_name).like(like)))
    if role in ROLES:
        stmt = stmt.where(User.role == role)
    if status == "active":
        stmt = stmt.where(User.is_active_account.is_(True), User.deleted_at.is_(None))
    elif status == "unverified":
        stmt = stmt.where(User.email_verified_at.is_(None), User.deleted_at.is_(None))
    elif status == "deactivated":
        stmt = stmt.where(User.is_active_account.is_(False), User.deleted_at.is_(None))
    elif status == "deleted":
        stmt = stmt.where(User.deleted_at.is_not(None))
    return paging.paginate(stmt.order_by(User.created_at.desc(), User.id.desc()), page, per_page)


def _guard_self(actor: User, user: User, what: str) -> None:
    if actor.id == user.id:
        raise AccountError(f"You cannot {what} your own account.")


def change_role(actor: User, user: User, role: str, *, ip: str | None = None) -> None:
    if role not in ROLES:
        raise AccountError("Unknown role.", "role")
    if role == user.role:
        return
    _guard_self(actor, user, "change the role of")
    before = user.role
    user.role = role
    audit.record("admin.user_role_changed", actor_id=actor.id, object_type="user", object_id=user.id,
                 before={"role": before}, after={"role": role}, ip=ip)


def set_active(actor: User, user: User, active: bool, *, ip: str | None = None) -> None:
    if user.deleted_at is not None:
        raise AccountError("This account was deleted.")
    if user.is_active_account == active:
        return
    _guard_self(actor, user, "deactivate")
    user.is_active_account = active
    if not active:
        accounts.end_sessions(user, reason="deactivated")  # signed out everywhere
    audit.record("admin.user_reactivated" if active else "admin.user_deactivated", actor_id=actor.id,
                 object_type="user", object_id=user.id, before={"active": not active}, after={"active": active}, ip=ip)


def resend_verification(actor: User, user: User, *, ip: str | None = None) -> None:
    if user.is_verified:
        raise AccountError("This email address is already verified.")
    if user.deleted_at is not None:
        raise AccountError("This account was deleted.")
    registration.issue_code(user, "verify")
    audit.record("admin.user_verification_resent", actor_id=actor.id, object_type="user", object_id=user.id, ip=ip)


def force_password_reset(actor: User, user: User, reset_url_for: accounts.ResetUrlFor, *,
                         ip: str | None = None) -> None:
    """Lock the current password, sign the user out everywhere and email a reset link."""
    if user.deleted_at is not None:
        raise AccountError("This account was deleted.")
    _guard_self(actor, user, "force a password reset on")
    user.password_hash = accounts.UNUSABLE_PASSWORD + ":" + user.password_hash[-16:]
    accounts.end_sessions(user, reason="password_reset_by_staff")
    mail.send_template(user.email, "account_password_reset_by_staff", name=user.display_name,
                       link=reset_url_for(accounts.reset_token(user)))
    audit.record("admin.user_password_reset_forced", actor_id=actor.id, object_type="user", object_id=user.id, ip=ip)


def end_sessions(actor: User, user: User, *, ip: str | None = None) -> int:
    """Sign the user out on every device at once (a lost phone, a shared computer). Returns how many ended."""
    ended = accounts.end_sessions(user, reason="ended_by_staff")
    audit.record("admin.user_sessions_ended", actor_id=actor.id, object_type="user", object_id=user.id, ip=ip,
                 after={"sessions_ended": ended})
    return ended


def revoke_api_tokens(actor: User, user: User, *, ip: str | None = None) -> int:
    """End every API token family of the user (a leaked token, a lost laptop with folio-cli signed in): each
    access and refresh token is refused from the next request. The browsers stay signed in. Returns how many
    ended."""
    ended = api_tokens.revoke_all(user.id, reason="revoked_by_staff")
    audit.record("user.api_tokens_revoked", actor_id=actor.id, object_type="user", object_id=user.id, ip=ip,
                 after={"tokens_revoked": ended})
    return ended


def audit_for(user: User, limit: int = 30) -> list[AuditLog]:
    return list(db.session.scalars(
        select(AuditLog).where(or_(AuditLog.actor_id == user.id,
                                   (AuditLog.object_type == "user") & (AuditLog.object_id == str(user.id))))
        .order_by(AuditLog.created_at.desc(), AuditLog.id.desc()).limit(limit)))
