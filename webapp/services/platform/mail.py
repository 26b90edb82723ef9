"""Email: every message is a row first, then delivered by the worker.

With MAIL_SERVER set the worker sends it over SMTP; otherwise it is kept in the
development outbox (/dev/outbox). Failed attempts are retried by RQ with backoff;
each failure is logged and recorded on the row, and after the last retry the row is
marked failed (never dropped). `requeue_stale` re-enqueues rows stuck in "queued"
(e.g. Redis was down when they were written).
"""
from __future__ import annotations

import logging
import re
import smtplib
import ssl
from collections.abc import Mapping
from datetime import timedelta
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any

from flask import current_app
from markupsafe import Markup, escape
from rq import Retry
from sqlalchemy import select, update

from ...extensions import db
from ...models import OutboundEmail, utcnow
from ...models.mail import EmailStatus
from . import queues

log = logging.getLogger(__name__)
_LINK = re.compile(r"https?://[^\s<>\"']+?(?=[.,;:!?)]*(?:\s|$))")
RETRY_INTERVALS = [10, 30, 120, 600, 1800]
LOGO = "img/email-logo.png"  # under static/: the emails' logo (a PNG: mail clients do not all show SVG)
DELIVER_JOB = "jobs.email.deliver_email"  # by name: jobs call the services, never the other way round


def send(recipient: str, subject: str, body_text: str, body_html: str | None = None) -> OutboundEmail:
    """Queue an email; it is handed to the worker once the caller's transaction commits."""
    message = OutboundEmail(recipient=recipient, subject=subject[:200], body_text=body_text, body_html=body_html)
    db.session.add(message)
    db.session.flush()
    _enqueue_after_commit(message.id)
    return message


def render(template: str, /, **context: object) -> tuple[str, str, str]:
    """(subject, text, html) of the email `template`: templates/email/<template>.txt, whose `subject` block is
    the subject and whose `body` block is the text; the HTML part is templates/email/<template>.html when the
    email wants its own layout, otherwise the text's paragraphs (escaped; the shop's own links clickable) in
    email/base.html, with the logo, the main link (`action_label`/`action_url` blocks) as a button and a footer
    with the shop's address and its Contact and Privacy pages. Both end with the text's `signature` block
    (SHOP_NAME and PUBLIC_URL unless the email replaces it; one that does carries no other link in either part).
    Rendered with the app's Jinja environment but no request: links in the context must come from
    webapp.links.public_url (or the `public_url` template global), never from a request's Host."""
    env = current_app.jinja_env
    config = current_app.config
    values = {"shop_name": config["SHOP_NAME"], "shop_url": (config.get("PUBLIC_URL") or "").rstrip("/"), **context}
    text_template = env.get_template(f"email/{template}.txt")
    base = env.get_template("email/base.txt")

    def block(name: str) -> str:
        source = text_template if name in text_template.blocks else base
        function = source.blocks.get(name)
        return "".join(function(text_template.new_context(values))).strip() if function else ""

    subject = block("subject")
    text = text_template.render(values).strip()
    body = block("body")
    signature = block("signature").removeprefix("--").strip()
    own_signature = "signature" in text_template.blocks  # an email with no link but its own
    shop_url = str(values["shop_url"])
    action_url = block("action_url")
    html_template = env.select_template([f"email/{template}.html", "email/base.html"])
    html = html_template.render(
        values, subject=subject, paragraphs=_paragraphs(body, shop_url), signature=_paragraphs(signature, shop_url),
        action_url=action_url if _own(action_url, shop_url) else "", action_label=block("action_label") or "Open",
        logo=LOGO, shop_address=shop_address_line(), footer_links=not own_signature)
    return " ".join(subject.split()), text + "\n", html


def shop_address_line() -> str:
    """SHOP_ADDRESS on one line (the emails' footer)."""
    address = current_app.config["SHOP_ADDRESS"]
    place = " ".join(str(part) for part in (address.get("postcode"), address.get("city")) if part)
    return ", ".join(str(part) for part in (address.get("full_name"), address.get("line1"), address.get("line2"),
                                            place, address.get("region"), address.get("country")) if part)


def _own(url: str, shop_url: str) -> bool:
    """A URL on the shop's own PUBLIC_URL (the only links an email from the shop offers)."""
    return bool(shop_url) and (url == shop_url or url.startswith(shop_url + "/") or url.startswith(shop_url + "?"))


def _paragraphs(text: str, shop_url: str) -> list[Markup]:
    """Plain text as HTML paragraphs: escaped, line breaks kept, and the shop's own links (PUBLIC_URL) made
    clickable. Other URLs stay text: they can only come from what people typed (a name, an address), and an
    email from the shop must not offer a stranger's link to click."""
    def link(match: re.Match[str]) -> str:
        url = match.group(0)
        return f'<a href="{url}">{url}</a>' if _own(url, shop_url) else url

    out = []
    for block in re.split(r"\n\s*\n", text.strip()):
        if block.strip():
            linked = _LINK.sub(link, str(escape(block.strip())))
            out.append(Markup(linked.replace("\n", "<br>\n")))
    return out


def send_template(recipient: str, template: str, /, **context: object) -> OutboundEmail:
    """Queue the email `template` (see `render`) to `recipient`, in the caller's transaction."""
    subject, text, html = render(template, **context)
    return send(recipient, subject, text, html)


def _enqueue_after_commit(message_id: int) -> None:
    retries = current_app.config["MAIL_MAX_RETRIES"]
    queues.enqueue_after_commit(db.session, DELIVER_JOB, message_id, queue_name="email",
                                retry=Retry(max=retries, interval=RETRY_INTERVALS[:retries]))


def deliver(message_id: int, *, final_attempt: bool = False) -> str:
    """Deliver one queued message (called by the worker). Idempotent: a sent message is not resent."""
    message = db.session.get(OutboundEmail, message_id, with_for_update=True)
    if message is None:
        log.warning("email %s no longer exists", message_id)
        return "missing"
    if message.status in (EmailStatus.SENT, EmailStatus.OUTBOX):
        return message.status
    message.attempts += 1
    config = current_app.config
    if not config.get("MAIL_SERVER"):
        message.status = EmailStatus.OUTBOX
        message.sent_at = utcnow()
        db.session.commit()
        return EmailStatus.OUTBOX
    try:
        _smtp_send(message, config)
    except Exception as exc:
        message.last_error = f"{type(exc).__name__}: {exc}"[:2000]
        if final_attempt:
            message.status = EmailStatus.FAILED
        db.session.commit()
        log.error("email %s to %s failed (attempt %s): %s", message.id, message.recipient, message.attempts, exc)
        raise
    message.status = EmailStatus.SENT
    message.sent_at = utcnow()
    message.last_error = None
    db.session.commit()
    return EmailStatus.SENT


def _smtp_send(message: OutboundEmail, config: Mapping[str, Any]) -> None:
    email = EmailMessage()
    email["From"] = config["MAIL_DEFAULT_SENDER"]
    email["To"] = message.recipient
    email["Subject"] = message.subject
    email["Message-ID"] = make_msgid(domain="folio")
    email.set_content(message.body_text)
    if message.body_html:
        email.add_alternative(message.body_html, subtype="html")
    smtp_cls = smtplib.SMTP_SSL if config["MAIL_USE_SSL"] else smtplib.SMTP
    with smtp_cls(config["MAIL_SERVER"], config["MAIL_PORT"], timeout=30) as smtp:
        if config["MAIL_USE_TLS"] and not config["MAIL_USE_SSL"]:
            smtp.starttls(context=ssl.create_default_context())
        if config.get("MAIL_USERNAME"):
            smtp.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"] or "")
        smtp.send_message(email)


def requeue_stale(older_than: timedelta = timedelta(minutes=10)) -> int:
    """Re-enqueue messages still queued after `older_than` (their job never ran)."""
    cutoff = utcnow() - older_than
    ids = db.session.scalars(
        select(OutboundEmail.id).where(OutboundEmail.status == EmailStatus.QUEUED, OutboundEmail.created_at < cutoff).limit(500)
    ).all()
    for message_id in ids:
        queues.enqueue(DELIVER_JOB, message_id, queue_name="email")
    if ids:
        db.session.execute(update(OutboundEmail).where(OutboundEmail.id.in_(ids)).values(created_at=utcnow()))
        db.session.commit()
    return len(ids)


def outbox(limit: int = 100) -> list[OutboundEmail]:
    return list(db.session.scalars(select(OutboundEmail).order_by(OutboundEmail.id.desc()).limit(limit)))
