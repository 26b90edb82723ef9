"""Admin panel: authors (list and search, create, edit, delete). Every change is audited by services.people.authors."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from ..actions import FAILED, attempt, attempt_flash
from ..clients import client_ip
from ..extensions import db
from ..htmx import render_page_or_partial
from ..services.people import author_admin
from ..services.people import authors as author_service
from ..services.people.accounts import AccountError
from ..services.platform import uploads
from ..utils import uploaded_file
from . import bp
from .author_forms import AuthorFilterForm, AuthorForm, DeleteForm


@bp.get("/authors")
def authors():
    form = AuthorFilterForm(request.args)
    form.validate()
    result = author_admin.list_authors(q=form.q.data or "",
                                         page=(form.page.data if not form.page.errors else None) or 1)
    return render_page_or_partial("admin/authors.html", "admin/_authors_table.html", form=form, result=result)


def _author_or_404(author_id: int):
    author = author_service.get(author_id)
    if author is None:
        abort(404)
    return author


def _form_page(form: AuthorForm, author=None):
    linked = author_service.linked_user(author) if author else None
    return render_template("admin/author_form.html", form=form, author=author, linked=linked,
                           bank_mask=author_service.masked_bank_account(author) if author else None,
                           has_books=author_service.has_books(author) if author else False,
                           history=author_admin.history(author) if author else [], delete_form=DeleteForm())


@bp.route("/authors/new", methods=["GET", "POST"])
def author_new():
    form = AuthorForm()
    if form.validate_on_submit():
        result = attempt(form, lambda: author_admin.save_author(
            None, actor=current_user, name=form.name.data, bio=form.bio.data, city=form.city.data,
            goodreads_url=form.goodreads_url.data, user_login=form.user_login.data, photo=uploaded_file(form.photo),
            ip=client_ip()))
        if result is not FAILED:
            author, _ = result
            flash(f"Author “{author.name}” created.", "success")
            return redirect(url_for("admin.author_edit", author_id=author.id), 303)
    return _form_page(form)


@bp.route("/authors/<int:author_id>/edit", methods=["GET", "POST"])
def author_edit(author_id: int):
    author = _author_or_404(author_id)
    form = AuthorForm(obj=author)
    if request.method == "GET":
        linked = author_service.linked_user(author)
        form.user_login.data = linked.username if linked else ""
    if form.validate_on_submit():
        result = attempt(form, lambda: author_admin.save_author(
            author, actor=current_user, name=form.name.data, bio=form.bio.data, city=form.city.data,
            goodreads_url=form.goodreads_url.data, user_login=form.user_login.data, photo=uploaded_file(form.photo),
            remove_photo=form.remove_photo.data, ip=client_ip()))
        if result is not FAILED:
            for stored in result[1]:
                uploads.delete(stored)
            flash(f"Author “{author.name}” saved.", "success")
            return redirect(url_for("admin.author_edit", author_id=author.id), 303)
        db.session.refresh(author)  # show the stored values next to the form after a rollback
    return _form_page(form, author)


@bp.post("/authors/<int:author_id>/delete")
def author_delete(author_id: int):
    author = _author_or_404(author_id)
    if not DeleteForm().validate_on_submit():
        abort(400)
    name = author.name
    photos = attempt_flash(lambda: author_admin.delete_author(author, actor=current_user, ip=client_ip()),
                           AccountError, f"Author “{name}” deleted.")
    if photos is FAILED:
        return redirect(url_for("admin.author_edit", author_id=author_id), 303)
    for stored in photos:
        uploads.delete(stored)
    return redirect(url_for("admin.authors"), 303)
