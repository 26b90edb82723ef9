"""The development outbox: every email the shop sent, readable in the browser."""
from __future__ import annotations

from flask import abort, render_template

from ..extensions import db
from ..models import OutboundEmail
from ..services.platform import mail
from . import bp


@bp.get("/outbox")
def outbox():
    return render_template("dev/outbox.html", messages=mail.outbox())


@bp.get("/outbox/<int:message_id>")
def outbox_message(message_id: int):
    message = db.session.get(OutboundEmail, message_id)
    if message is None:
        abort(404)
    return render_template("dev/message.html", message=message)
