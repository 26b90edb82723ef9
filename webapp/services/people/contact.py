"""The contact form: a visitor's message goes to staff by email, and the visitor gets an acknowledgement.

Staff receive it at CONTACT_EMAIL, or (unset) every active admin, as the low-stock digest does. The
acknowledgement goes to an address anyone can type, so it quotes nothing the visitor wrote (not the name, not
the message): the form cannot be used to mail a stranger someone else's words. Rate-limited by the view.
"""
from __future__ import annotations

import logging

from flask import current_app
from sqlalchemy import select

from ...extensions import db
from ...models import User
from ..platform import mail
from ..platform.errors import RuleError
from .accounts import AccountError, normalize_email

log = logging.getLogger(__name__)

# What the message is about: value -> the words people and staff see.
TOPICS = {
    "order": "An order",
    "rental": "Renting and returns",
    "plan": "Membership plans",
    "book": "Finding a book",
    "other": "Something else",
}
NAME_MAX = 100
MESSAGE_MIN = 10
MESSAGE_MAX = 5000


class ContactError(RuleError):
    """A message that cannot be sent as given."""


def staff_recipients() -> list[str]:
    """CONTACT_EMAIL, or every active admin's address."""
    configured = current_app.config.get("CONTACT_EMAIL")
    if configured:
        return [configured]
    return list(db.session.scalars(select(User.email).where(
        User.role == "admin", User.is_active_account.is_(True), User.deleted_at.is_(None)).order_by(User.id)))


def send(*, name: str, email: str, topic: str, message: str, user: User | None = None) -> str:
    """Queue the message to staff and the acknowledgement to `email` (in the caller's transaction); returns
    the normalised address. ContactError names the fields that are wrong."""
    name = " ".join((name or "").split())
    message = (message or "").replace("\r\n", "\n").strip()
    errors: dict[str, list[str]] = {}
    if not name:
        errors["name"] = ["Tell us your name."]
    elif len(name) > NAME_MAX:
        errors["name"] = [f"Keep your name to {NAME_MAX} characters."]
    try:
        address = normalize_email(email)
    except AccountError as exc:
        errors["email"] = exc.errors["email"]
        address = ""
    if topic not in TOPICS:
        errors["topic"] = ["Choose what your message is about."]
    if len(message) < MESSAGE_MIN:
        errors["message"] = [f"Write a little more (at least {MESSAGE_MIN} characters) so we can help."]
    elif len(message) > MESSAGE_MAX:
        errors["message"] = [f"Keep the message to {MESSAGE_MAX:,} characters (it has {len(message):,})."]
    if errors:
        raise ContactError(errors)
    recipients = staff_recipients()
    if not recipients:
        log.error("contact form: no CONTACT_EMAIL and no active admin to send a message to")
        raise ContactError("Messages can't be delivered just now. Please try again later.")
    for recipient in recipients:
        mail.send_template(recipient, "contact_message", name=name, email=address, topic=TOPICS[topic],
                           message=message, user=user)
    mail.send_template(address, "contact_received", topic=TOPICS[topic])
    return address
