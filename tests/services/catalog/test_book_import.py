"""CSV import (background task) and export: header checks, per-row errors, the update rule, savepoints,
progress in batches, and an export that imports back unchanged."""
import csv
import io

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from webapp.models import AuditLog, Author, BackgroundTask, Book, StockMovement, User
from webapp.services.catalog import admin_listing, book_import, editing
from webapp.services.catalog.book_import import ImportRefused
from webapp.services.catalog.isbn import isbn13_from_body
from webapp.services.inventory import stock
from webapp.services.platform import background

GOOD_1 = "9780306406157"
GOOD_2_ISBN10 = "0-19-853453-1"  # -> 9780198534532
BAD_CHECKSUM = "9780306406158"


def _admin(db):
    user = User(username="ops", email="ops@example.com", password_hash="!", role="admin")
    db.session.add(user)
    db.session.commit()
    return user


def _run(db, run_jobs, text: str, user=None) -> BackgroundTask:
    task = background.start("import:books", "Book import: test.csv", params={"filename": "test.csv"},
                            user_id=user.id if user else None, input_text=text)
    db.session.commit()
    run_jobs()
    db.session.expire_all()
    return db.session.get(BackgroundTask, task.id)


def test_header_checks():
    names, rows = book_import.read_csv("\ufeffISBN, Title ,price\n9780306406157,T,1\n\n , , \n")
    assert names == ["isbn", "title", "price"] and len(rows) == 1 and rows[0].number == 2
    names, rows = book_import.read_csv("isbn,title,colour\n9780306406157,T,red\n")  # unknown: ignored, reported
    assert names == ["isbn", "title", "colour"] and rows[0].values == {"isbn": "9780306406157", "title": "T"}
    assert book_import.unknown_columns(names) == ["colour"]
    with pytest.raises(ImportRefused, match="Repeated column: title"):
        book_import.read_csv("isbn,title,title\n")
    with pytest.raises(ImportRefused, match="Missing required column: isbn"):
        book_import.read_csv("title,price\nA,1\n")
    with pytest.raises(ImportRefused, match="Column 3 has no name"):
        book_import.read_csv("isbn,title,\n")
    with pytest.raises(ImportRefused, match="empty"):
        book_import.read_csv("")
    with pytest.raises(ImportRefused, match="UTF-8"):
        book_import.decode("isbn,title\n1,Caf\xe9\n".encode("latin-1"))
    assert book_import.decode("\ufeffisbn\n".encode()) == "isbn\n"


def test_row_numbers_count_the_header_and_quoted_newlines():
    _, rows = book_import.read_csv('isbn,description\n1,"two\nlines"\n\n2,x,extra\n')
    assert [(r.number, r.extra_cells) for r in rows] == [(2, False), (4, True)]
    assert rows[0].values["description"] == "two\nlines"


def test_a_bad_csv_imports_the_good_rows_and_reports_each_bad_one(app, db, run_jobs):
    admin = _admin(db)
    text = (
        "isbn,title,authors,genres,price,stock,published_on\n"
        f"{GOOD_1},Good One,Ann Able; Bo Bell,Poetry,12.50,3,2020-01-31\n"          # row 2: ok
        f"{BAD_CHECKSUM},Wrong ISBN,Ann Able,,5.00,1,\n"                              # row 3: isbn
        "9781861972712,Negative,Cy Cole,,-4.00,1,\n"                                  # row 4: price
        f"{GOOD_2_ISBN10},Good Two,Cy Cole,Poetry;Travel,7,0,\n"                      # row 5: ok
        "9780141439518,Two problems,,,1.00,-2,31/01/2020\n"                           # row 6: 3 problems
        f"{GOOD_1},Again,Ann Able,,1.00,1,\n"                                         # row 7: duplicate
    )
    task = _run(db, run_jobs, text, admin)
    assert task.status == "finished", task.message
    assert task.message.startswith("2 books added, 0 updated, 0 unchanged; 4 rows with errors")
    result = task.result
    assert (result["rows"], result["created"], result["failed"]) == (6, 2, 4)
    problems = {(e["row"], e["column"]) for e in result["errors"]}
    assert problems == {(3, "isbn"), (4, "price"), (6, "authors"), (6, "stock"), (6, "published_on"), (7, "isbn")}
    messages = {(e["row"], e["column"]): e["message"] for e in result["errors"]}
    assert "Not a valid ISBN" in messages[(3, "isbn")] and "negative" in messages[(4, "price")]
    assert "row 2" in messages[(7, "isbn")]
    assert sorted(db.session.scalars(select(Book.title))) == ["Good One", "Good Two"]
    good_two = db.session.scalars(select(Book).where(Book.isbn13 == "9780198534532")).one()
    assert good_two.price_cents == 700 and good_two.author_names == "Cy Cole"
    assert stock.state(good_two.id).on_hand == 0
    # the errors are also the task's CSV download
    rows = list(csv.reader(io.StringIO(task.output_csv)))
    assert rows[0] == ["row", "column", "message"] and len(rows) == 1 + 6
    assert task.input_text is None  # the upload is not kept
    summary = db.session.scalars(select(AuditLog).where(AuditLog.action == "admin.books_imported")).one()
    assert summary.actor_id == admin.id and summary.after["created"] == 2 and summary.after["failed"] == 4


def test_an_unknown_column_is_ignored_and_reported(app, db, run_jobs):
    task = _run(db, run_jobs, f"isbn,title,authors,price,colour\n{GOOD_1},T,A,1.00,red\n")
    assert task.status == "finished"
    assert task.message == "1 books added, 0 updated, 0 unchanged; unknown column ignored: colour."
    assert task.result["errors"][0]["row"] == 1 and task.result["errors"][0]["column"] == "colour"
    assert "Unknown column, ignored" in task.result["errors"][0]["message"]
    assert db.session.scalar(select(func.count()).select_from(Book)) == 1


def test_existing_isbn_updates_only_the_columns_in_the_file(app, db, run_jobs, make_book):
    admin = _admin(db)
    book = make_book("Old Title", authors=("Ann Able",), genres=("Poetry",), price_cents=1000, on_hand=5)
    db.session.execute(Book.__table__.update().where(Book.id == book.id).values(cost_cents=400, publisher="P"))
    stock.reserve([(book.id, 2)], reference="order-1")
    db.session.commit()
    # price and stock change; publisher is cleared (present, empty); cost and genres are not in the file: kept
    task = _run(db, run_jobs, f"isbn,price,stock,publisher\n{book.isbn13},11.00,8,\n", admin)
    assert task.result["updated"] == 1, task.result
    db.session.expire_all()
    book = admin_listing.book_for_edit(book.id)
    assert (book.title, book.price_cents, book.cost_cents, book.publisher) == ("Old Title", 1100, 400, None)
    assert [g.name for g in book.genres] == ["Poetry"] and stock.state(book.id) == stock.StockState(8, 2)
    movement = db.session.scalars(select(StockMovement).where(StockMovement.reason == "adjustment")).one()
    assert movement.on_hand_delta == 3 and movement.reference == f"import:{task.id}"
    # an empty stock cell keeps the count; the same values again are "unchanged"
    task = _run(db, run_jobs, f"isbn,price,stock\n{book.isbn13},11.00,\n", admin)
    assert (task.result["unchanged"], task.result["updated"]) == (1, 0)
    assert stock.state(book.id).on_hand == 8
    # title, authors and price cannot be emptied
    task = _run(db, run_jobs, f"isbn,title,price\n{book.isbn13},,\n", admin)
    assert {e["column"] for e in task.result["errors"]} == {"title", "price"}


def test_a_failing_row_leaves_nothing_half_written(app, db, run_jobs, make_book):
    """Row 2's new author is created before its stock is found to be below the reserved copies: the row's
    savepoint rolls both back, and row 3 (the same new author) still works."""
    book = make_book("Reserved", authors=("Ann Able",), on_hand=5)
    stock.reserve([(book.id, 4)], reference="order-1")
    db.session.commit()
    text = ("isbn,title,authors,price,stock\n"
            f"{book.isbn13},Renamed,Brand New,10.00,1\n"
            f"{GOOD_1},Fresh,Brand New,3.00,2\n")
    task = _run(db, run_jobs, text)
    assert task.result["errors"] == [{"row": 2, "column": "stock", "message":
                                      "4 copies are reserved for checkouts and holds, so stock on hand cannot go "
                                      "below 4."}]
    db.session.expire_all()
    kept = admin_listing.book_for_edit(book.id)
    assert (kept.title, kept.author_names) == ("Reserved", "Ann Able")
    assert db.session.scalar(select(func.count()).select_from(Author).where(Author.name == "Brand New")) == 1
    fresh = db.session.scalars(select(Book).where(Book.isbn13 == GOOD_1)).one()
    assert fresh.author_names == "Brand New"


def test_progress_is_reported_in_batches_between_rows(app, db, monkeypatch):
    monkeypatch.setattr(book_import, "BATCH", 50)
    rows = [f"978{n:09d}" for n in range(120)]
    text = "isbn,title,authors,price\n" + "".join(f"{isbn13_from_body(r[:12])},Book {i},Writer {i % 7},1.00\n"
                                                  for i, r in enumerate(rows))
    task = background.start("import:books", "t", input_text=text)
    db.session.commit()
    calls = []

    def progress(done, total=None, message=None):
        calls.append((done, total))
        db.session.commit()

    outcome = book_import.run_import(task, progress)
    assert calls == [(0, 120), (50, 120), (100, 120), (120, 120)]
    assert outcome.result["created"] == 120 and db.session.scalar(select(func.count()).select_from(Book)) == 120
    assert db.session.scalar(select(func.count()).select_from(Author)) == 7


def test_export_streams_in_chunks_and_imports_back_unchanged(app, db, run_jobs, make_book):
    admin = _admin(db)
    a = make_book("=cmd|' /C calc'!A0", authors=("Ann Able", "Bo, Bell"), genres=("Poetry", "Travel"),
                  price_cents=1250, on_hand=3, description='Quotes "and"\nnew lines')
    make_book("Archived", active=False, on_hand=0)
    db.session.execute(Book.__table__.update().where(Book.id == a.id).values(cost_cents=None, pages=12,
                                                                               subtitle="-sub"))
    db.session.commit()
    pieces = list(book_import.export_csv(chunk=1))
    assert len(pieces) == 3  # the header, then one piece per chunk of rows
    text = "".join(pieces)
    assert text.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"))))
    assert list(rows[0]) == list(book_import.COLUMNS)
    first = rows[0]
    assert first["title"] == "'=cmd|' /C calc'!A0" and first["subtitle"] == "'-sub"  # not run as formulas
    assert (first["authors"], first["genres"]) == ("Ann Able; Bo, Bell", "Poetry; Travel")
    assert (first["price"], first["cost_price"], first["stock"], first["pages"]) == ("12.50", "", "3", "12")
    archived = list(book_import.export_csv(admin_listing.BookFilters(status="archived")))
    assert "Archived" in "".join(archived) and "calc" not in "".join(archived)
    # round trip: importing the export changes nothing
    task = _run(db, run_jobs, text, admin)
    assert task.result == {"rows": 2, "created": 0, "updated": 0, "unchanged": 2, "failed": 0, "errors": [],
                           "errors_total": 0}, task.result
    db.session.expire_all()
    assert db.session.get(Book, a.id).title == "=cmd|' /C calc'!A0"
    # ... and into an empty catalog it recreates the same books
    db.session.execute(Book.__table__.delete())
    db.session.commit()
    task = _run(db, run_jobs, text, admin)
    assert task.result["created"] == 2, task.result
    again = "".join(book_import.export_csv())
    assert list(csv.DictReader(io.StringIO(again.removeprefix("\ufeff")))) == rows


def test_start_checks_the_file_first(app, db):
    with pytest.raises(ImportRefused, match="no rows"):
        book_import.start(b"isbn,title\n", "x.csv", user_id=None)
    with pytest.raises(ImportRefused, match="Missing required column: isbn"):
        book_import.start(b"title,bogus\n1,2\n", "x.csv", user_id=None)
    assert book_import.start(b"isbn,bogus\n1,2\n", "x.csv", user_id=None).params["ignored_columns"] == ["bogus"]
    task = book_import.start(b"\xef\xbb\xbfisbn,title\n1,2\n", "C:\\fakepath\\mine.csv", user_id=None)
    assert task.params == {"filename": "mine.csv", "rows": 1} and task.input_text == "isbn,title\n1,2\n"


def test_a_batch_the_database_refuses_is_written_again_row_by_row(app, db, run_jobs, monkeypatch):
    """New books are written a batch at a time; when the database refuses the batch, each row gets its own
    savepoint, so only the bad row is lost (and the new author it shares with the others is kept once)."""
    real = editing._set_threshold

    def refuse_13(book_id, threshold):
        if threshold == 13:
            raise IntegrityError("UPDATE inventory", {}, RuntimeError("refused"))
        return real(book_id, threshold)

    monkeypatch.setattr(editing, "_set_threshold", refuse_13)
    text = ("isbn,title,authors,price,low_stock_threshold\n"
            f"{GOOD_1},One,Solo Writer,1.00,2\n"
            "9780198534532,Two,Solo Writer,1.00,13\n"
            "9781861972712,Three,Solo Writer,1.00,\n")
    task = _run(db, run_jobs, text)
    assert task.result["created"] == 2 and task.result["errors"] == [
        {"row": 3, "column": "", "message": "The database refused this row (RuntimeError)."}]
    assert sorted(db.session.scalars(select(Book.title))) == ["One", "Three"]
    assert db.session.scalar(select(func.count()).select_from(Author).where(Author.name == "Solo Writer")) == 1
    assert db.session.scalar(select(func.count()).select_from(AuditLog)
                             .where(AuditLog.action == "admin.book_created")) == 2
