"""The shop's own pages and the contact form. Thin: services.platform.site_pages gives the page,
services.people.contact sends the message."""
from __future__ import annotations

from flask import abort, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from werkzeug.exceptions import HTTPException

from ..actions import FAILED, attempt
from ..errors import http_error, retry_message, wants_json
from ..extensions import limiter
from ..services.people import contact
from ..services.platform import site_pages
from . import bp
from .forms import ContactForm

# Every page but Contact, which has its own view (the form).
_PAGES = ', '.join(f'"{slug}"' for slug in site_pages.SLUGS if slug != "contact")


@bp.get(f"/<any({_PAGES}):slug>")
def page(slug: str) -> ResponseReturnValue:
    found = site_pages.get(slug)
    if found is None:
        abort(404)
    return render_template("site/page.html", page=found)


def _contact_page(form: ContactForm, status: int = 200) -> ResponseReturnValue:
    found = site_pages.get("contact")
    return render_template("site/contact.html", page=found, form=form), status


@bp.route("/contact", methods=["GET", "POST"])
@limiter.limit("5 per hour", methods=["POST"])
def contact_form() -> ResponseReturnValue:
    form = ContactForm()
    if request.method == "GET" and current_user.is_authenticated:
        form.name.data = form.name.data or current_user.display_name
        form.email.data = form.email.data or current_user.email
    if form.validate_on_submit():
        if form.website.data:  # the honeypot: say "sent", send nothing
            return redirect(url_for("site.contact_sent"), 303)
        user = current_user if current_user.is_authenticated else None
        sent = attempt(form, lambda: contact.send(name=form.name.data, email=form.email.data, topic=form.topic.data,
                                                  message=form.message.data, user=user))
        if sent is not FAILED:
            return redirect(url_for("site.contact_sent"), 303)
    return _contact_page(form)


@bp.get("/contact/sent")
def contact_sent() -> ResponseReturnValue:
    return render_template("site/contact_sent.html")


@bp.errorhandler(429)
def too_many_messages(exc: HTTPException) -> ResponseReturnValue:
    """Over the limit: the form again, with what was typed and when to try again (the error page elsewhere)."""
    if wants_json() or request.endpoint != "site.contact_form":
        return http_error(exc)
    form = ContactForm()
    form.form_errors = ["You have sent several messages in a short time. " + retry_message().replace(
        "Too many attempts. ", "")]
    return _contact_page(form, 429)
