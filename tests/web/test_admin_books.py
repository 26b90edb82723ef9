"""Admin books section through the admin client: list (search, filters, sort, htmx partial, bounded queries),
inline price/stock edit, create/edit with a cover, stock adjustments, archive/delete, CSV import and export."""
import csv
import io
import re

import pytest
from PIL import Image
from sqlalchemy import func, select

from webapp.models import AuditLog, BackgroundTask, Book, Genre, Hold, Inventory, StockMovement, User
from webapp.services.inventory import stock
from webapp.services.platform import uploads

HX = {"HX-Request": "true"}


def _post(client, auth, url, data=None, htmx=False, **kwargs):
    headers = {"X-CSRFToken": auth.csrf(client)}
    if htmx:
        headers.update(HX)
    return client.post(url, data=data or {}, headers=headers, **kwargs)


def _png(size=(300, 450)) -> io.BytesIO:
    buffer = io.BytesIO()
    Image.new("RGB", size, (20, 90, 160)).save(buffer, "PNG")
    buffer.seek(0)
    return buffer


NEW_BOOK = {"isbn": "0-306-40615-2", "title": "Salt Roads", "subtitle": "", "authors": "Mira Okafor, Tom Lane",
            "genres": "Travel", "price": "18.00", "rental_week_price": "3.50", "cost_price": "9.00", "stock": "4",
            "low_stock_threshold": "", "pages": "320", "published_on": "2021-05-04", "language": "en",
            "publisher": "Harbour & Finch", "description": "Walking the coast."}


# ---- access ----

@pytest.mark.parametrize("who, status", [("anonymous", 302), ("customer", 403)])
def test_only_admins_reach_the_books_section(app, auth, who, status):
    client = app.test_client()
    if who == "customer":
        auth.user("reader1")
        auth.login("reader1", client=client)
    for url in ("/admin/books", "/admin/books/new", "/admin/books/import", "/admin/books/export.csv"):
        assert client.get(url).status_code == status


# ---- list ----

def test_list_search_filters_sort_and_htmx_partial(admin_client, make_book, db):
    make_book("Alpha <b>Bold</b>", authors=("Zed Writer",), genres=("Poetry",), price_cents=500, on_hand=10)
    beta = make_book("Beta", genres=("Crime",), price_cents=900, on_hand=2, units_sold=40)
    make_book("Gamma", genres=("Crime",), price_cents=100, on_hand=0, active=False)
    crime = db.session.scalar(select(Genre.id).where(Genre.name == "Crime"))

    def titles(query, **kwargs):
        body = admin_client.get(f"/admin/books{query}", **kwargs).get_data(as_text=True)
        return re.findall(r'<th scope="row"><a href="/admin/books/\d+/edit">([^<]+)</a>', body), body

    found, body = titles("")
    assert found == ["Alpha &lt;b&gt;Bold&lt;/b&gt;", "Beta", "Gamma"]  # escaped, sorted by title
    assert "<b>Bold</b>" not in body and 'hx-push-url="true"' in body and "<html" in body
    assert '<th scope="col">ISBN</th>' in body
    assert titles("?q=zed")[0] == ["Alpha &lt;b&gt;Bold&lt;/b&gt;"]
    assert titles(f"?q={beta.isbn13}")[0] == ["Beta"]
    assert titles(f"?genre={crime}&status=active")[0] == ["Beta"]
    assert titles("?stock=low")[0] == ["Beta"] and titles("?stock=out")[0] == ["Gamma"]
    assert titles("?sort=price_desc")[0] == ["Beta", "Alpha &lt;b&gt;Bold&lt;/b&gt;", "Gamma"]
    assert titles("?sort=sold")[0][0] == "Beta"
    found, partial = titles("?stock=in&q=&genre=", headers=HX)
    assert "<html" not in partial and found == ["Alpha &lt;b&gt;Bold&lt;/b&gt;", "Beta"]
    response = admin_client.get("/admin/books?stock=in&q=&genre=", headers=HX)
    assert response.headers["HX-Push-Url"] == "/admin/books?stock=in"
    assert "HX-Request" in response.headers["Vary"]
    # nonsense parameters are ignored, not an error page
    assert admin_client.get("/admin/books?sort=evil&genre=abc&stock=x&page=-3").status_code == 200


def test_list_paginates_and_keeps_the_filters_in_the_pager(admin_client, make_book):
    for i in range(27):
        make_book(f"Book {i:02d}", genres=("Crime",))
    page1 = admin_client.get("/admin/books?q=book").get_data(as_text=True)
    page2 = admin_client.get("/admin/books?q=book&page=2").get_data(as_text=True)
    assert page1.count('<tr id="book-') == 25 and page2.count('<tr id="book-') == 2
    assert 'href="/admin/books?q=book&amp;page=2"' in page1 and "hx-get=\"/admin/books?q=book&amp;page=2\"" in page1


def test_list_queries_do_not_grow_with_the_rows(admin_client, make_book, count_queries):
    for i in range(3):
        make_book(f"Few {i}", authors=(f"Writer {i}",), genres=("Crime", "Poetry"))
    with count_queries() as few:
        assert admin_client.get("/admin/books", headers=HX).status_code == 200
    for i in range(20):
        make_book(f"Many {i}", authors=(f"Writer {i}", "Second"), genres=("Crime",))
    with count_queries() as many:
        body = admin_client.get("/admin/books", headers=HX).get_data(as_text=True)
    assert body.count('<tr id="book-') == 23
    assert len(many) == len(few), many
    assert len(many) <= 8, many


# ---- inline edit ----

def test_inline_edit_swaps_the_row_and_saves_through_the_ledger(admin_client, auth, make_book, db):
    book = make_book("Inline", price_cents=1000, on_hand=2)
    edit = admin_client.get(f"/admin/books/{book.id}/row/edit", headers=HX).get_data(as_text=True)
    assert f'<tr id="book-{book.id}" class="editing">' in edit
    assert 'name="price" value="10.00"' in edit and 'name="stock" value="2"' in edit
    # one cell spanning the row holds a real form (fields stacked: usable on a phone), posted by htmx
    assert '<td colspan="8" class="row-edit-cell">' in edit and edit.count("<td") == 1
    assert f'hx-post="/admin/books/{book.id}/row"' in edit and 'name="csrf_token"' in edit
    assert 'hx-target="closest tr"' in edit and 'hx-swap="outerHTML"' in edit
    assert '<label for="price-' in edit  # labelled inputs
    saved = _post(admin_client, auth, f"/admin/books/{book.id}/row",
                  {"price": "12.50", "stock": "7", "expected_stock": "2"}, htmx=True)
    body = saved.get_data(as_text=True)
    assert saved.status_code == 200 and f'<tr id="book-{book.id}">' in body and "$12.50" in body
    assert 'data-testid="stock">7' in body and "Saved." in body
    db.session.expire_all()
    assert db.session.get(Book, book.id).price_cents == 1250 and stock.state(book.id).on_hand == 7
    movement = db.session.scalars(select(StockMovement).where(StockMovement.reason == "adjustment")).one()
    boss = db.session.scalars(select(User).where(User.username == "boss")).one()
    assert (movement.on_hand_delta, movement.actor_id) == (5, boss.id) and "Inline edit" in movement.note
    entry = db.session.scalars(select(AuditLog).where(AuditLog.action == "admin.book_updated")).one()
    assert entry.after == {"price_cents": 1250, "on_hand": 7}
    # Cancel shows the plain row again
    assert "Edit<span" in admin_client.get(f"/admin/books/{book.id}/row", headers=HX).get_data(as_text=True)


def test_inline_edit_errors_stay_in_the_row(admin_client, auth, make_book, db):
    book = make_book("Inline", price_cents=1000, on_hand=5)
    stock.reserve([(book.id, 3)], reference="order-1")
    db.session.commit()
    bad = _post(admin_client, auth, f"/admin/books/{book.id}/row",
                {"price": "-2", "stock": "1.5", "expected_stock": "5"}, htmx=True)
    body = bad.get_data(as_text=True)
    assert bad.status_code == 200  # htmx 2 swaps 200 only
    assert f'<tr id="book-{book.id}" class="editing">' in body
    assert "Price cannot be negative." in body and "Stock must be a whole number." in body
    assert body.count('aria-invalid="true"') == 2 and 'value="-2"' in body  # what was typed is kept
    below = _post(admin_client, auth, f"/admin/books/{book.id}/row",
                  {"price": "10.00", "stock": "2", "expected_stock": "5"}, htmx=True).get_data(as_text=True)
    assert "3 copies are reserved for checkouts and holds, so stock on hand cannot go below 3." in below
    db.session.expire_all()
    assert db.session.get(Book, book.id).price_cents == 1000 and stock.state(book.id).on_hand == 5
    # no CSRF token: refused, nothing saved
    nocsrf = admin_client.post(f"/admin/books/{book.id}/row", data={"price": "1", "stock": "9"}, headers=HX)
    assert nocsrf.status_code == 400 and stock.state(book.id).on_hand == 5


def test_inline_edit_without_javascript_opens_the_edit_page(admin_client, make_book):
    book = make_book("No JS")
    row = admin_client.get("/admin/books").get_data(as_text=True)
    assert f'href="/admin/books/{book.id}/edit" hx-get="/admin/books/{book.id}/row/edit"' in row
    response = admin_client.get(f"/admin/books/{book.id}/row/edit")
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/admin/books/{book.id}/edit")


# ---- create and edit ----

def test_create_with_a_cover_and_replace_it(app, admin_client, auth, db):
    data = dict(NEW_BOOK, cover=(_png(), "cover.png"))
    response = _post(admin_client, auth, "/admin/books/new", data, content_type="multipart/form-data")
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    book = db.session.scalars(select(Book)).one()
    assert book.isbn13 == "9780306406157" and book.author_names == "Mira Okafor, Tom Lane"
    assert book.price_cents == 1800 and book.cover_path.startswith("covers/")
    first = book.cover_path
    assert uploads.path_for(first, "thumb").exists()
    assert stock.state(book.id).on_hand == 4
    shop = admin_client.get(f"/books/{book.id}").get_data(as_text=True)
    assert f'/media/covers/{first.split("/")[1]}-full.jpg' in shop
    edit = admin_client.get(f"/admin/books/{book.id}/edit").get_data(as_text=True)
    assert 'value="Mira Okafor, Tom Lane"' in edit and 'value="18.00"' in edit and "Remove the current cover" in edit
    # replacing the cover removes the old files once saved
    data = dict(NEW_BOOK, cover=(_png((120, 180)), "new.png"))
    data.pop("stock")
    assert _post(admin_client, auth, f"/admin/books/{book.id}/edit", data,
                 content_type="multipart/form-data").status_code == 303
    db.session.expire_all()
    second = db.session.get(Book, book.id).cover_path
    assert second != first and uploads.path_for(second).exists() and not uploads.path_for(first).exists()
    assert _post(admin_client, auth, f"/admin/books/{book.id}/edit", dict(NEW_BOOK, remove_cover="y"),
                 content_type="multipart/form-data").status_code == 303
    db.session.expire_all()
    assert db.session.get(Book, book.id).cover_path is None and not uploads.path_for(second).exists()
    actions = db.session.scalars(select(AuditLog.action).where(AuditLog.action.like("admin.book%"))
                                 .order_by(AuditLog.id)).all()
    assert actions == ["admin.book_created", "admin.book_updated", "admin.book_updated"]


def test_a_non_image_cover_is_refused_on_the_field(admin_client, auth, db):
    data = dict(NEW_BOOK, cover=(io.BytesIO(b"%PDF-1.4 not an image"), "cover.png"))
    response = _post(admin_client, auth, "/admin/books/new", data, content_type="multipart/form-data")
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert re.search(r'id="cover-feedback"[^>]*>\s*<span class="error-text">That file is not an image', body)
    assert 'value="Salt Roads"' in body  # the rest of the form is kept
    assert db.session.scalar(select(func.count()).select_from(Book)) == 0


def test_a_too_large_cover_is_refused(app, admin_client, auth, db):
    old = app.config["UPLOAD_MAX_BYTES"]
    app.config["UPLOAD_MAX_BYTES"] = 1024
    try:
        data = dict(NEW_BOOK, cover=(_png((1500, 1500)), "big.png"))
        response = _post(admin_client, auth, "/admin/books/new", data, content_type="multipart/form-data")
    finally:
        app.config["UPLOAD_MAX_BYTES"] = old
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "The image is too large" in body
    assert db.session.scalar(select(func.count()).select_from(Book)) == 0


def test_form_validation_messages_are_on_their_fields(admin_client, auth, make_book, db):
    make_book("Taken", isbn13="9780306406157")
    data = dict(NEW_BOOK, title="  ", price="-3", rental_week_price="1.234", pages="0", published_on="31/01/2020")
    body = _post(admin_client, auth, "/admin/books/new", data).get_data(as_text=True)
    for field, message in [("isbn", "Another book"), ("title", "Title is required."),
                           ("price", "Price cannot be negative."), ("rental_week_price", "like 12.50"),
                           ("pages", "at least 1"), ("published_on", "date like")]:
        assert re.search(rf'id="{field}-feedback"[^>]*>\s*<span class="error-text">[^<]*{re.escape(message)}', body), field
    assert db.session.scalar(select(func.count()).select_from(Book)) == 1


def test_author_suggestions_complete_the_last_name_and_escape(admin_client, make_book):
    make_book("One", authors=('Ann "<Able>"',))
    options = admin_client.get("/admin/books/suggest/authors?authors=Tom Lane, an", headers=HX).get_data(as_text=True)
    assert options == '<option value="Tom Lane, Ann &#34;&lt;Able&gt;&#34;"></option>'


# ---- stock ----

def test_stock_adjustment_with_a_reason_writes_the_ledger(admin_client, auth, make_book, db):
    book = make_book("Stocked", on_hand=4)
    page = admin_client.get(f"/admin/books/{book.id}/stock").get_data(as_text=True)
    assert "Stocktake correction" in page and "initial" in page
    bad = _post(admin_client, auth, f"/admin/books/{book.id}/stock", {"delta": "2", "reason": "damaged", "note": ""})
    body = bad.get_data(as_text=True)
    assert bad.status_code == 200 and "use a negative number" in body and "Note is required." in body
    ok = _post(admin_client, auth, f"/admin/books/{book.id}/stock",
               {"delta": "-1", "reason": "damaged", "note": "Water damage"})
    assert ok.status_code == 303
    db.session.expire_all()
    movement = db.session.scalars(select(StockMovement).order_by(StockMovement.id.desc())).first()
    boss = db.session.scalars(select(User).where(User.username == "boss")).one()
    assert (movement.reason, movement.on_hand_delta, movement.note, movement.actor_id) == \
        ("adjustment", -1, "Damaged: Water damage", boss.id)
    page = admin_client.get(f"/admin/books/{book.id}/stock").get_data(as_text=True)
    assert "Damaged: Water damage" in page and 'data-testid="on-hand">3<' in page and "boss" in page


# ---- archive, restore, delete ----

def test_archive_from_the_row_hides_the_book_and_restore_brings_it_back(admin_client, auth, make_book, db):
    book = make_book("Shelved")
    row = _post(admin_client, auth, f"/admin/books/{book.id}/archive", htmx=True).get_data(as_text=True)
    assert f'<tr id="book-{book.id}">' in row and "archived" in row and "Restore" in row
    assert admin_client.get(f"/books/{book.id}").status_code == 404
    assert "Shelved" not in admin_client.get("/books?q=shelved").get_data(as_text=True)
    response = _post(admin_client, auth, f"/admin/books/{book.id}/restore")
    assert response.status_code == 303
    assert admin_client.get(f"/books/{book.id}").status_code == 200
    assert admin_client.post(f"/admin/books/{book.id}/archive").status_code == 400  # no CSRF token


def test_delete_only_a_book_no_customer_used(admin_client, auth, make_book, db):
    used = make_book("Held")
    spare = make_book("Mistake")
    customer = User(username="cust", email="c@example.com", password_hash="!")
    db.session.add(customer)
    db.session.flush()
    db.session.add(Hold(user_id=customer.id, book_id=used.id, status="waiting", priority=1))
    db.session.commit()
    edit = admin_client.get(f"/admin/books/{used.id}/edit").get_data(as_text=True)
    assert "It cannot be deleted: it appears in holds. Archive it instead." in edit
    response = _post(admin_client, auth, f"/admin/books/{used.id}/delete")
    assert response.headers["Location"].endswith(f"/admin/books/{used.id}/edit")
    assert "archive it instead" in admin_client.get(response.headers["Location"]).get_data(as_text=True)
    assert db.session.get(Book, used.id) is not None
    response = _post(admin_client, auth, f"/admin/books/{spare.id}/delete")
    assert response.status_code == 303 and response.headers["Location"].endswith("/admin/books")
    assert db.session.scalar(select(func.count()).select_from(Book).where(Book.id == spare.id)) == 0
    assert db.session.scalars(select(AuditLog.action).where(AuditLog.action.like("admin.book_%"))).all() == \
        ["admin.book_deleted"]


# ---- CSV import and export ----

BAD_CSV = (
    "isbn,title,authors,genres,price,stock,colour\n"
    "9780306406157,Good One,Ann Able; Bo Bell,Poetry,12.50,3,red\n"
    "9780306406158,Wrong ISBN,Ann Able,,5.00,1,blue\n"
    "9781861972712,Negative Price,Cy Cole,,-4.00,1,green\n"
    "0-19-853453-1,Good Two,Cy Cole,Poetry;Travel,7,0,\n"
)


def _upload(client, auth, text: str | bytes, name="books.csv"):
    data = {"file": (io.BytesIO(text.encode() if isinstance(text, str) else text), name)}
    return _post(client, auth, "/admin/books/import", data, content_type="multipart/form-data")


def test_a_bad_csv_imports_the_good_rows_and_reports_each_bad_one(admin_client, auth, run_jobs, db):
    # One file with a wrong ISBN, a negative price and an unknown column: the import starts (the unknown column is
    # named and ignored), the good rows are imported, and each problem is reported with row, column and message.
    started = _upload(admin_client, auth, "\ufeff" + BAD_CSV)
    assert started.status_code == 303
    task_id = int(started.headers["Location"].rsplit("task=", 1)[1])
    waiting = admin_client.get(f"/admin/books/import?task={task_id}").get_data(as_text=True)
    assert "Unknown column colour will be ignored" in waiting
    assert f'hx-get="/admin/tasks/{task_id}"' in waiting and 'hx-trigger="load delay:1s"' in waiting
    run_jobs()
    done = admin_client.get(f"/admin/tasks/{task_id}", headers=HX)
    report = done.get_data(as_text=True)
    assert done.status_code == 286  # polling stops
    assert ("2 books added, 0 updated, 0 unchanged; 2 rows with errors, not imported; "
            "unknown column ignored: colour.") in report
    rows = re.findall(r'<tr><td class="num">(\d+)</td><td><code>(\w+)</code></td><td>([^<]+)</td></tr>', report)
    assert [(r, c) for r, c, _ in rows] == [("1", "colour"), ("3", "isbn"), ("4", "price")]
    assert "Unknown column, ignored" in rows[0][2]
    assert "Not a valid ISBN" in rows[1][2] and "Price cannot be negative." in rows[2][2]
    assert sorted(db.session.scalars(select(Book.title))) == ["Good One", "Good Two"]
    # The import page lists it among the previous imports.
    page = admin_client.get("/admin/books/import").get_data(as_text=True)
    assert "Book import: books.csv" in page and "2 rows with errors" in page


def test_import_refuses_files_it_cannot_read(app, admin_client, auth, db):
    latin = _upload(admin_client, auth, "isbn,title\n9780306406157,Caf\xe9\n".encode("latin-1"))
    assert "not UTF-8" in latin.get_data(as_text=True)
    old = app.config["CSV_IMPORT_MAX_BYTES"]
    app.config["CSV_IMPORT_MAX_BYTES"] = 50
    try:
        big = _upload(admin_client, auth, "isbn,title\n" + "9780306406157,A long enough title\n" * 5)
    finally:
        app.config["CSV_IMPORT_MAX_BYTES"] = old
    assert "The file is too large" in big.get_data(as_text=True)
    empty = _post(admin_client, auth, "/admin/books/import", {}, content_type="multipart/form-data")
    assert "Choose a CSV file" in empty.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(BackgroundTask)) == 0


def test_export_round_trip(admin_client, auth, run_jobs, make_book, db):
    make_book("Kept", authors=("Ann Able",), genres=("Poetry",), price_cents=1250, on_hand=3)
    make_book("Gone", active=False)
    response = admin_client.get("/admin/books/export.csv?status=active")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    text = response.get_data(as_text=True)
    rows = list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"))))
    assert [r["title"] for r in rows] == ["Kept"]
    assert (rows[0]["authors"], rows[0]["genres"], rows[0]["price"], rows[0]["stock"]) == \
        ("Ann Able", "Poetry", "12.50", "3")
    assert db.session.scalars(select(AuditLog.action).where(AuditLog.action.like("admin.book%"))).all() == \
        ["admin.books_exported"]
    started = _upload(admin_client, auth, text.encode("utf-8"))
    run_jobs()
    task = db.session.get(BackgroundTask, int(started.headers["Location"].rsplit("=", 1)[1]))
    assert task.status == "finished" and task.result["unchanged"] == 1 and task.result["failed"] == 0


def test_the_export_link_follows_the_filters(admin_client, make_book):
    make_book("Any")
    partial = admin_client.get("/admin/books?stock=out&q=&sort=price&page=1", headers=HX).get_data(as_text=True)
    assert 'href="/admin/books/export.csv?stock=out" download>Export these as CSV' in partial
    assert "Export all as CSV" in admin_client.get("/admin/books").get_data(as_text=True)


def test_the_same_stock_adjustment_sent_twice_is_applied_once(admin_client, auth, make_book, db):
    book = make_book("Double Click", on_hand=5)
    page = admin_client.get(f"/admin/books/{book.id}/stock").get_data(as_text=True)
    assert re.search(r'<input[^>]*name="expected_on_hand"[^>]*value="5"', page)
    data = {"delta": "+10", "reason": "restock", "note": "Delivery from the wholesaler", "expected_on_hand": "5",
            "csrf_token": auth.csrf(admin_client)}
    assert admin_client.post(f"/admin/books/{book.id}/stock", data=data).status_code == 303
    again = admin_client.post(f"/admin/books/{book.id}/stock", data=data)
    assert again.status_code == 200 and "perhaps this change was already sent" in again.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Inventory, book.id).on_hand == 15
