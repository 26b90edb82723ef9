"""Admin panel: the shop's own pages (About, Contact, Shipping & returns, Privacy, Terms, FAQ), edited as
Markdown with a preview (live with htmx; a Preview button without JavaScript), saved or restored to the
built-in text. Rules and audit are services.platform.site_pages."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

from ..actions import FAILED, attempt, attempt_flash
from ..clients import client_ip
from ..htmx import is_htmx
from ..services.platform import site_pages
from ..services.platform.site_pages import Page, SitePageError
from . import bp
from .site_page_forms import SitePageActionForm, SitePageForm


@bp.get("/pages")
def site_pages_list() -> ResponseReturnValue:
    return render_template("admin/site_pages.html", pages=site_pages.all_pages())


def _page_or_404(slug: str) -> Page:
    found = site_pages.get(slug)
    if found is None:
        abort(404)
    return found


@bp.route("/pages/<slug>", methods=["GET", "POST"])
def site_page_edit(slug: str) -> ResponseReturnValue:
    page = _page_or_404(slug)
    form = SitePageForm() if request.method == "POST" else SitePageForm(title=page.title, body_md=page.body_md)
    # The preview shows what is in the box: the saved page at first, then the text being edited (the Preview
    # button's answer without JavaScript, or a refused save).
    if form.validate_on_submit() and request.form.get("action") != "preview":
        saved = attempt(form, lambda: site_pages.save(slug, form.title.data or "", form.body_md.data or "",
                                                      current_user, ip=client_ip()))
        if saved is not FAILED:
            flash(f"“{saved.title}” is saved and live.", "success")
            return redirect(url_for("admin.site_page_edit", slug=slug), 303)
    return render_template("admin/site_page.html", page=page, form=form,
                           preview=site_pages.render(form.body_md.data or ""),
                           action_form=SitePageActionForm())


@bp.post("/pages/<slug>/preview")
def site_page_preview(slug: str) -> ResponseReturnValue:
    """The live preview (htmx, as the text changes): the rendered Markdown only."""
    _page_or_404(slug)
    form = SitePageForm()
    if not form.validate_on_submit():
        abort(400)
    if not is_htmx():
        return redirect(url_for("admin.site_page_edit", slug=slug), 303)
    return render_template("admin/_site_page_preview.html", preview=site_pages.render(form.body_md.data or ""))


@bp.post("/pages/<slug>/restore")
def site_page_restore(slug: str) -> ResponseReturnValue:
    page = _page_or_404(slug)
    if not SitePageActionForm().validate_on_submit():
        abort(400)
    attempt_flash(lambda: site_pages.restore_default(slug, current_user, ip=client_ip()), SitePageError,
                  f"“{page.title}” shows the built-in text again.")
    return redirect(url_for("admin.site_page_edit", slug=slug), 303)
