"""Outgoing email: every message is a row before it is sent (services.platform.mail writes and delivers it),
so a message is never lost to a Redis outage or a failed SMTP server."""
from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import Model
from .types import UTCDateTime, utcnow

STATUSES = ("queued", "sent", "outbox", "failed")


class EmailStatus(StrEnum):
    """Where an email is: queued for the worker, sent over SMTP, kept in the development outbox (no
    MAIL_SERVER), or failed after the last retry (kept, never dropped)."""

    QUEUED = "queued"
    SENT = "sent"
    OUTBOX = "outbox"
    FAILED = "failed"


class OutboundEmail(Model):
    """Every email Folio sends: delivered by the worker via SMTP, or kept in the dev outbox."""

    __tablename__ = "outbound_emails"
    __table_args__ = (
        CheckConstraint("status IN ('queued','sent','outbox','failed')", name="status_valid"),
        Index("ix_outbound_emails_status_created", "status", "created_at"),
        Index("ix_outbound_emails_recipient", "recipient"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    recipient: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(200))
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(10), default=EmailStatus.QUEUED)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
