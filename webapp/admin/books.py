"""Admin panel: books (routes registered on the admin blueprint).

The list is a GET form (search, filters, sort) that htmx turns into live filtering of #books-table; each row edits
its price and stock in place (htmx swaps the row for an edit row and back). Everything also works without
JavaScript: the row's Edit link opens the full edit page. The rules are in services.catalog (book_values, editing,
stock_changes)."""
from __future__ import annotations

from datetime import date

from flask import (
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_login import current_user
from markupsafe import escape

from ..actions import FAILED, attempt, attempt_flash
from ..clients import client_ip
from ..extensions import db
from ..htmx import current_url, is_htmx, render_page_or_partial
from ..models.types import db_int
from ..services.catalog import admin_listing, book_import, editing, names, stock_changes
from ..services.catalog.book_values import CatalogError
from ..services.catalog.search import LANGUAGES
from ..services.inventory import stock
from ..services.platform import background, money
from ..utils import safe_next
from . import bp
from .book_forms import BookFilterForm, BookForm, ImportForm, InlineEditForm, StockAdjustForm
from .forms import ActionForm
from .tasks import task_context


def _filters(form: BookFilterForm) -> admin_listing.BookFilters:
    genre = form.ok("genre")
    return admin_listing.BookFilters(q=(form.q.data or "").strip()[:100], genre_id=int(genre) if genre else None,
                                     stock=form.ok("stock") or "", status=form.ok("status") or "",
                                     sort=form.ok("sort") or "title")


def _filter_form() -> BookFilterForm:
    form = BookFilterForm(request.args, admin_listing.genre_choices())
    form.validate()
    return form


def _tidy_args(form) -> dict:
    """The filters the export link carries: the filter form's own fields that are set (never other query
    arguments: one named like url_for's own would change or break the link)."""
    return {k: v for k, v in request.args.items() if v and k in form._fields and k not in ("page", "sort")}


@bp.get("/books")
def books():
    form = _filter_form()
    result = admin_listing.list_books(_filters(form), page=form.ok("page") or 1)
    response = render_page_or_partial("admin/books.html", "admin/_books_table.html", form=form, result=result,
                                      export_args=_tidy_args(form))
    if is_htmx():  # the address bar gets the tidy URL, without the form's empty fields
        response.headers["HX-Push-Url"] = current_url(request.args.to_dict(flat=True))
    return response


@bp.get("/books/export.csv")
def books_export():
    filters = _filters(_filter_form())
    book_import.record_export(filters, actor_id=current_user.id, ip=client_ip())
    db.session.commit()
    name = f"books-{date.today().isoformat()}.csv"
    return Response(stream_with_context(book_import.export_csv(filters)), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"})


@bp.get("/books/suggest/<any(authors, genres):kind>")
def book_suggest(kind: str):
    """<option>s for the authors/genres <datalist>: existing names that complete the last name being typed."""
    typed = request.args.get(kind, "")[:500]
    head = typed.rsplit(",", 1)[0].strip() + ", " if "," in typed else ""
    found = names.suggest_names(kind, typed)
    return "".join(f'<option value="{escape(head + name)}"></option>' for name in found)


# ---- one row: show, edit in place, save ----

def _row_book(book_id: int):
    book = admin_listing.book_for_row(book_id)
    if book is None:
        abort(404)
    return book


def _inline_form(book, **overrides) -> InlineEditForm:
    on_hand = str(book.inventory.on_hand if book.inventory else 0)
    data = {"price": money.plain(book.price_cents), "stock": on_hand, "expected_stock": on_hand}
    data.update(overrides)
    return InlineEditForm(formdata=None, data=data)


@bp.get("/books/<int:book_id>/row")
def book_row(book_id: int):
    if not is_htmx():
        return redirect(url_for("admin.books"))
    return render_template("admin/_book_row.html", book=_row_book(book_id), focus_edit=True)


@bp.get("/books/<int:book_id>/row/edit")
def book_row_edit(book_id: int):
    if not is_htmx():
        return redirect(url_for("admin.book_edit", book_id=book_id))
    book = _row_book(book_id)
    return render_template("admin/_book_row_edit.html", book=book, form=_inline_form(book))


@bp.post("/books/<int:book_id>/row")
def book_row_save(book_id: int):
    book = _row_book(book_id)
    form = InlineEditForm()
    if not form.validate_on_submit():
        form.form_errors = ["Your session expired. Reload the page and try again."]
        return render_template("admin/_book_row_edit.html", book=book, form=form)
    saved = attempt(form, lambda: editing.inline_update(
        book, form.price.data, form.stock.data, expected_stock=form.expected_stock.data, actor_id=current_user.id,
        ip=client_ip()))
    book = _row_book(book_id)
    if saved is FAILED:
        # Errors stay in the row (status 200: htmx 2 swaps it). The count seen is refreshed, so a stock change
        # made meanwhile (a sale) is shown in the hint and the next save applies to it.
        form.expected_stock.data = str(book.inventory.on_hand if book.inventory else 0)
        return render_template("admin/_book_row_edit.html", book=book, form=form)
    if not is_htmx():
        flash(f"Saved “{book.title}”.", "success")
        return redirect(url_for("admin.books"), 303)
    return render_template("admin/_book_row.html", book=book, focus_edit=True, saved=True)


# ---- create and edit ----

def _cover_stream(form: BookForm):
    upload = form.cover.data
    return upload.stream if upload is not None and getattr(upload, "filename", None) else None


def _form_page(form: BookForm, book=None, status: int = 200):
    return render_template("admin/book_form.html", form=form, book=book, languages=LANGUAGES,
                           usage=editing.usage(book.id) if book else [], action_form=ActionForm()), status


@bp.route("/books/new", methods=["GET", "POST"])
def book_new():
    form = BookForm(data={"language": "en", "stock": "0", "format": "paperback"})
    if form.validate_on_submit():
        book = attempt(form, lambda: editing.create_book(form.values(creating=True), actor_id=current_user.id,
                                                         ip=client_ip(), cover=_cover_stream(form)))
        if book is not FAILED:
            flash(f"Added “{book.title}”.", "success")
            return redirect(url_for("admin.book_edit", book_id=book.id), 303)
    return _form_page(form)


def _edit_data(book) -> dict:
    plain = money.plain
    inv = book.inventory
    return {
        "isbn": book.isbn13, "title": book.title, "subtitle": book.subtitle or "",
        "authors": ", ".join(a.name for a in book.authors), "genres": ", ".join(g.name for g in book.genres),
        "price": plain(book.price_cents), "rental_week_price": plain(book.rental_week_cents),
        "cost_price": plain(book.cost_cents),
        "low_stock_threshold": "" if inv is None or inv.low_stock_threshold is None else str(inv.low_stock_threshold),
        "pages": str(book.pages or ""), "published_on": book.published_on.isoformat() if book.published_on else "",
        "language": book.language, "publisher": book.publisher or "", "description": book.description or "",
        "format": book.format, "series_name": book.series_name or "", "series_number": str(book.series_number or ""),
    }


def _edit_book(book_id: int):
    book = admin_listing.book_for_edit(book_id)
    if book is None:
        abort(404)
    return book


@bp.route("/books/<int:book_id>/edit", methods=["GET", "POST"])
def book_edit(book_id: int):
    book = _edit_book(book_id)
    form = BookForm(data=_edit_data(book))
    if form.validate_on_submit():
        saved = attempt(form, lambda: editing.update_book(
            book, form.values(creating=False), actor_id=current_user.id, ip=client_ip(), cover=_cover_stream(form),
            remove_cover=bool(form.remove_cover.data)))
        if saved is not FAILED:
            flash(f"Saved “{book.title}”." if saved.changed else "Nothing to change.", "success")
            return redirect(url_for("admin.book_edit", book_id=book_id), 303)
        book = _edit_book(book_id)
    return _form_page(form, book)


# ---- stock with a reason ----

@bp.route("/books/<int:book_id>/stock", methods=["GET", "POST"])
def book_stock(book_id: int):
    book = _row_book(book_id)
    form = StockAdjustForm()
    if form.validate_on_submit():
        state = attempt(form, lambda: stock_changes.adjust_stock(book, form.delta.data, form.reason.data,
                                                                 form.note.data, actor_id=current_user.id,
                                                                 ip=client_ip(),
                                                                 expected_on_hand=form.expected_on_hand.data))
        if state is not FAILED:
            flash(f"Stock of “{book.title}” is now {state.on_hand} on hand ({state.available} available).", "success")
            return redirect(url_for("admin.book_stock", book_id=book_id), 303)
        book = _row_book(book_id)
    form.expected_on_hand.data = str(stock.state(book_id).on_hand)  # what this page shows, sent back with the form
    return render_template("admin/book_stock.html", book=book, form=form,
                           ledger=stock_changes.recent_ledger(book_id))


# ---- archive, restore, delete ----

def _toggle(book_id: int, action, message: str):
    book = _row_book(book_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    action(book, actor_id=current_user.id, ip=client_ip())
    db.session.commit()
    book = _row_book(book_id)
    if is_htmx():
        return render_template("admin/_book_row.html", book=book, focus_edit=False, status_message=message)
    flash(message, "success")
    return redirect(safe_next(url_for("admin.book_edit", book_id=book_id)), 303)


@bp.post("/books/<int:book_id>/archive")
def book_archive(book_id: int):
    return _toggle(book_id, editing.archive_book, "Archived: hidden from the shop.")


@bp.post("/books/<int:book_id>/restore")
def book_restore(book_id: int):
    return _toggle(book_id, editing.restore_book, "Restored: back in the shop.")


@bp.post("/books/<int:book_id>/delete")
def book_delete(book_id: int):
    book = _row_book(book_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    title = book.title
    done = attempt_flash(lambda: editing.delete_book(book, actor_id=current_user.id, ip=client_ip()),
                         CatalogError, lambda _: (f"Deleted “{title}”.", "success"))
    if done is FAILED:
        return redirect(url_for("admin.book_edit", book_id=book_id), 303)
    return redirect(url_for("admin.books"), 303)


# ---- CSV import ----

@bp.route("/books/import", methods=["GET", "POST"])
def books_import():
    form = ImportForm()
    if form.validate_on_submit():
        upload = form.file.data
        limit = current_app.config["CSV_IMPORT_MAX_BYTES"]
        data = upload.stream.read(limit + 1) if upload is not None and upload.filename else b""
        if upload is None or not upload.filename:
            form.file.errors.append("Choose a CSV file to import.")
        elif len(data) > limit:
            form.file.errors.append(f"The file is too large: the limit is {limit / (1024 * 1024):g} MB.")
        else:
            try:  # the refusal goes on the file field, like the form's own checks above
                started = book_import.start(data, upload.filename, user_id=current_user.id, ip=client_ip())
            except book_import.ImportRefused as exc:
                db.session.rollback()
                form.file.errors.append(str(exc))
            else:
                db.session.commit()
                ignored = (started.params or {}).get("ignored_columns")
                if ignored:
                    flash(f"Unknown column{'s' if len(ignored) > 1 else ''} {', '.join(ignored)} will be ignored; "
                          "the other columns are being imported.", "info")
                return redirect(url_for("admin.books_import", task=started.id), 303)
    task = None
    task_id = db_int(request.args.get("task"))
    if task_id is not None:
        task = background.get(task_id)
        if task is None or task.kind != "import:books":
            task = None
    context = task_context(task) if task is not None else {}
    return render_template("admin/book_import.html", form=form, columns=book_import.COLUMNS,
                           recent=background.recent("import:books"), **context)
