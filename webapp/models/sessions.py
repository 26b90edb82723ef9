"""Signed-in sessions, kept on the server: the cookie (and the remember-me cookie) carries a random token
whose hash names one row here, so signing out, "sign out everywhere", a password change or staff end it at
once, whatever copies of the cookie exist. Change them only through services.people.sessions."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, false
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import Model
from .types import UTCDateTime, utcnow


class UserSession(Model):
    __tablename__ = "user_sessions"
    __table_args__ = (
        Index("ix_user_sessions_user_active", "user_id", "revoked_at", "last_seen_at"),
        Index("ix_user_sessions_last_seen", "last_seen_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)  # what the device list and its buttons name
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 of the cookie's token
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    ip: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(300))
    remember: Mapped[bool] = mapped_column(default=False, server_default=false())
    # users.session_version when the password was checked: a sign-in still in flight when the password changed
    # (or every session was ended) makes a row that is dead on arrival.
    session_version: Mapped[int] = mapped_column(default=1, server_default="1")
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_reason: Mapped[str | None] = mapped_column(String(40))
    # "web": a browser's cookie names this row. "api": a token family of the JSON API (services.people.api_tokens):
    # its access tokens name the row by id, its refresh tokens are rows of ApiRefreshToken. Both are listed on the
    # security page and end the same ways.
    kind: Mapped[str] = mapped_column(String(10), default="web", server_default="web")
    client_name: Mapped[str | None] = mapped_column(String(60))  # what an API client called itself ("folio-cli")


class ApiRefreshToken(Model):
    """Every refresh token a token family was given, by its SHA-256. A token is used once: using it marks the
    row and gives the next one. A used token presented again means it was copied (or a client replayed it), so
    the whole family ends (services.people.api_tokens.refresh)."""
    __tablename__ = "api_refresh_tokens"
    __table_args__ = (Index("ix_api_refresh_tokens_session", "session_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("user_sessions.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
