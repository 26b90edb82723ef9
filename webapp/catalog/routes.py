"""The catalog: home page, book listings (all books, a genre, an author) with filters, a book's page, covers."""
from __future__ import annotations

import hashlib
from typing import Any

from flask import Response, abort, current_app, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from ..extensions import db
from ..htmx import current_url, is_htmx, render_page_or_partial
from ..models import Book, Genre
from ..services.catalog import covers, search
from ..services.circulation import holds
from ..services.commerce import cart, pricing
from . import bp
from .forms import BookFilterForm, PageFilter


def _listing(template: str, *, title: str, fixed: PageFilter | None = None, **context: Any) -> Response:
    genres = list(db.session.scalars(select(Genre).order_by(Genre.name)))
    form = BookFilterForm(request.args, genres)
    query = form.to_query(current_app.config["PAGE_SIZE"], fixed)
    result = search.search_books(query)
    response = render_page_or_partial(template, "catalog/_results.html", form=form, result=result, title=title,
                                      sorts=search.SORTS, languages=search.LANGUAGES, **context)
    if is_htmx():  # the address bar gets the tidy URL, without the form's empty fields
        response.headers["HX-Push-Url"] = current_url(request.args.to_dict(flat=True))
    return response


@bp.get("/")
def home():
    return render_template("catalog/home.html", **search.home_sections())


@bp.get("/books")
def books():
    return _listing("catalog/books.html", title="Books")


@bp.get("/books/<int:book_id>")
@bp.get("/books/<int:book_id>/<slug>")
def book(book_id: int, slug: str | None = None):
    book = search.book_detail(book_id)
    if book is None or not book.active:
        abort(404, "We couldn't find that book. It may have been removed from the catalog.")
    if slug is not None and slug != book.slug:
        return redirect(url_for("catalog.book", book_id=book.id, slug=book.slug), 301)
    user = current_user if current_user.is_authenticated else None
    rent_days = cart.rental_days_limit(user)
    rent_options = [(d, pricing.unit_cents(book, "rent", d)) for d in range(1, rent_days + 1)]
    return render_template("catalog/book.html", book=book, related=search.related_books(book),
                           languages=search.LANGUAGES, hold_panel=holds.panel(user, book.id),
                           rent_options=rent_options, default_days=min(7, rent_days))


@bp.get("/books/<int:book_id>/cover.svg")
def cover(book_id: int):
    book = db.session.get(Book, book_id)
    if book is None:
        abort(404)
    svg = covers.svg_cover(book.title, book.author_names, book.isbn13)
    etag = hashlib.sha1(svg.encode()).hexdigest()
    if request.if_none_match.contains(etag):
        return "", 304
    response = current_app.response_class(svg, mimetype="image/svg+xml")
    response.set_etag(etag)
    response.cache_control.public = True
    response.cache_control.max_age = 86400
    return response


@bp.get("/genres")
def genres():
    return render_template("catalog/genres.html", genres=list(db.session.scalars(select(Genre).order_by(Genre.name))))


@bp.get("/genres/<slug>")
def genre(slug: str):
    found = db.session.scalar(select(Genre).where(Genre.slug == slug))
    if found is None:
        abort(404, "There is no such genre.")
    return _listing("catalog/genre.html", title=found.name, fixed={"genre": found.slug}, genre=found)


@bp.get("/authors/<int:author_id>")
@bp.get("/authors/<int:author_id>/<slug>")
def author(author_id: int, slug: str | None = None):
    found = search.author(author_id)
    if found is None:
        abort(404, "There is no such author.")
    return _listing("catalog/author.html", title=found.name, fixed={"author_id": found.id}, author=found)
