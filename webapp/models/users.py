"""People's tables: accounts (users), their addresses, emailed codes, recovery codes, sign-in history, and the
audit log of who did what. Changed through services.people (accounts, registration, twofactor, staff) and
services.platform.audit."""
from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from flask_login import UserMixin
from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, Text, false, func, true
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import Model
from .types import UTCDateTime, utcnow

ROLES = ("customer", "author", "admin")


class User(UserMixin, Model):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint("role IN ('customer', 'author', 'admin')", name="role_valid"),
        CheckConstraint("wallet_balance_cents >= 0", name="wallet_balance_nonnegative"),
        Index("ix_users_role", "role"),
        Index("ix_users_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(30))
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    full_name: Mapped[str | None] = mapped_column(String(120))
    role: Mapped[str] = mapped_column(String(16), default="customer", server_default="customer")
    is_active_account: Mapped[bool] = mapped_column(default=True, server_default=true())
    email_verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Bumped on password change/reset, deactivation and "sign out everywhere": a sign-in waiting for its
    # second factor (auth.session.set_pending) stops matching. Sessions themselves end in user_sessions.
    session_version: Mapped[int] = mapped_column(default=1, server_default="1")
    totp_secret: Mapped[str | None] = mapped_column(String(255))  # encrypted (services.platform.crypto)
    totp_enabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    totp_last_step: Mapped[int | None] = mapped_column()  # last accepted TOTP time step (no replays)
    password_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Change only through services.circulation.wallet (conditional UPDATE + a WalletEntry per change).
    wallet_balance_cents: Mapped[int] = mapped_column(default=0, server_default="0")
    # Renew a rental by itself before it is due when nobody waits and the plan allows it (the customer's choice).
    auto_renew_rentals: Mapped[bool] = mapped_column(default=False, server_default=false())

    addresses: Mapped[list[Address]] = relationship(
        back_populates="user", cascade="all, delete-orphan", order_by="Address.id", lazy="selectin"
    )

    # The token of the signed-in session this request belongs to (services.people.sessions); set at sign-in and by
    # the user loader, never stored on the row. Flask-Login keeps get_id() in the session and remember cookies.
    if TYPE_CHECKING:  # typed for mypy; at run time a plain class attribute, so SQLAlchemy maps no column
        login_token: str | None
    else:
        login_token = None

    def get_id(self) -> str:
        return f"{self.id}:{self.login_token or ''}"

    @property
    def is_active(self) -> bool:  # Flask-Login: deactivated users cannot log in
        return self.is_active_account and self.deleted_at is None

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def is_verified(self) -> bool:
        return self.email_verified_at is not None

    @property
    def has_2fa(self) -> bool:
        return self.totp_enabled_at is not None

    @property
    def display_name(self) -> str:
        return self.full_name or self.username

    def __repr__(self) -> str:
        return f"<User {self.username}>"


Index("uq_users_username_lower", func.lower(User.username), unique=True)


class Address(Model):
    __tablename__ = "addresses"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    full_name: Mapped[str] = mapped_column(String(120))
    line1: Mapped[str] = mapped_column(String(200))
    line2: Mapped[str | None] = mapped_column(String(200))
    city: Mapped[str] = mapped_column(String(100))
    region: Mapped[str | None] = mapped_column(String(100))
    postcode: Mapped[str] = mapped_column(String(20))
    country: Mapped[str] = mapped_column(String(2))
    phone: Mapped[str | None] = mapped_column(String(40))
    is_default: Mapped[bool] = mapped_column(default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    user: Mapped[User] = relationship(back_populates="addresses")

    def one_line(self) -> str:
        parts = [self.full_name, self.line1, self.line2, self.city, self.region, self.postcode, self.country]
        return ", ".join(p for p in parts if p)


class EmailCode(Model):
    """A one-time 6-digit code sent by email (verification or email change), stored hashed. A "decoy" stands in
    for a registration with an address that already has an account: a code nobody was sent, on the owner's
    row, that the registration page counts, expires and replaces exactly like a real one (services.people.registration)."""

    __tablename__ = "email_codes"
    __table_args__ = (
        CheckConstraint("purpose IN ('verify', 'change_email', 'decoy')", name="purpose_valid"),
        Index("ix_email_codes_user_purpose", "user_id", "purpose", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    purpose: Mapped[str] = mapped_column(String(20))
    code_hash: Mapped[str] = mapped_column(String(128))
    new_email: Mapped[str | None] = mapped_column(String(254))
    attempts: Mapped[int] = mapped_column(default=0)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class RecoveryCode(Model):
    __tablename__ = "recovery_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(128))
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class LoginEvent(Model):
    """Sign-in history shown on the security page (successes and failures)."""

    __tablename__ = "login_events"
    __table_args__ = (Index("ix_login_events_user_created", "user_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    success: Mapped[bool] = mapped_column()
    method: Mapped[str] = mapped_column(String(20))  # password, totp, recovery_code
    ip: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class AuditLog(Model):
    """Every admin action and security event: who, when, what, before/after."""

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_created", "created_at"),
        Index("ix_audit_log_actor_created", "actor_id", "created_at"),
        Index("ix_audit_log_object", "object_type", "object_id"),
        Index("ix_audit_log_action", "action"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(String(60))
    object_type: Mapped[str | None] = mapped_column(String(40))
    object_id: Mapped[str | None] = mapped_column(String(40))
    before: Mapped[dict | None] = mapped_column(JSON)
    after: Mapped[dict | None] = mapped_column(JSON)
    ip: Mapped[str | None] = mapped_column(String(45))
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    actor: Mapped[User | None] = relationship(lazy="joined")
