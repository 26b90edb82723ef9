"""Staff API: books (create, update, archive, restore) and stock changes with a reason, each audited as the
admin panel audits it, stock through the ledger."""
from __future__ import annotations

from sqlalchemy import select

from tests.api.conftest import ApiClient, assert_error
from webapp.models import AuditLog, Book, Inventory, StockMovement, User

NEW_BOOK = {"isbn": "978-0-306-40615-7", "title": "The API Book", "authors": ["Ada Lovelace", "Alan Turing"],
            "genres": ["Computing"], "price": {"cents": 1250, "currency": "USD"},
            "rental_week_price": {"cents": 199}, "stock": 4, "language": "en", "pages": 320,
            "published_on": "2021-05-04", "description": "Engines and machines."}


def audits(db, action: str) -> list[AuditLog]:
    db.session.expire_all()
    return list(db.session.scalars(select(AuditLog).where(AuditLog.action == action).order_by(AuditLog.id)))


def ledger(db, book_id: int) -> list[StockMovement]:
    db.session.expire_all()
    return list(db.session.scalars(select(StockMovement).where(StockMovement.book_id == book_id)
                                   .order_by(StockMovement.id)))



def routes(book_id: int) -> list[tuple[str, str, dict | None]]:
    return [("post", "/api/v1/admin/books", NEW_BOOK),
            ("patch", f"/api/v1/admin/books/{book_id}", {"title": "X"}),
            ("post", f"/api/v1/admin/books/{book_id}/archive", None),
            ("post", f"/api/v1/admin/books/{book_id}/restore", None),
            ("post", f"/api/v1/admin/books/{book_id}/stock", {"change": 1, "reason": "restock", "note": "n"})]


def test_staff_book_routes_refuse_customers_admins_without_2fa_and_strangers(app, db, make_book, customer_api,
                                                                             no2fa_api):
    book = make_book("Guarded", on_hand=2)
    for method, url, body in routes(book.id):
        assert_error(getattr(customer_api, method)(url, json=body), 403, "forbidden")
        assert_error(getattr(no2fa_api, method)(url, json=body), 403, "two_factor_required")
        assert_error(getattr(ApiClient(app), method)(url, json=body), 401, "unauthorized")
    db.session.expire_all()
    assert db.session.get(Book, book.id).title == "Guarded" and db.session.get(Book, book.id).active
    assert db.session.get(Inventory, book.id).on_hand == 2
    assert db.session.scalars(select(AuditLog)).all() == []


def test_create_a_book_with_its_opening_stock_audited(db, admin_api):
    r = admin_api.post("/api/v1/admin/books", json=NEW_BOOK)
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert body["isbn13"] == "9780306406157" and body["title"] == "The API Book"
    assert body["authors"] == ["Ada Lovelace", "Alan Turing"] and body["genres"] == ["Computing"]
    assert body["price"] == {"cents": 1250, "currency": "USD"}
    assert body["rental_week_price"] == {"cents": 199, "currency": "USD"} and body["cost_price"] is None
    assert body["stock"] == {"on_hand": 4, "reserved": 0, "available": 4, "low_stock_threshold": None}
    assert body["published_on"] == "2021-05-04" and body["pages"] == 320 and body["active"] is True
    book = db.session.get(Book, body["id"])
    assert book.price_cents == 1250 and book.author_names == "Ada Lovelace, Alan Turing"
    boss = db.session.scalars(select(User).where(User.username == "boss")).one()
    [created] = audits(db, "admin.book_created")
    assert created.actor_id == boss.id and created.object_id == str(book.id) and created.ip
    assert created.after["stock"] == 4 and created.after["price_cents"] == 1250
    assert [(m.on_hand_delta, m.actor_id) for m in ledger(db, book.id)] == [(4, boss.id)]
    # the same ISBN again is refused on its field
    again = assert_error(admin_api.post("/api/v1/admin/books", json=NEW_BOOK), 422, "validation_failed")
    assert "isbn" in again["fields"] and "already has ISBN" in again["fields"]["isbn"][0]


def test_create_refuses_bad_values_on_their_fields(db, admin_api):
    error = assert_error(admin_api.post("/api/v1/admin/books", json={"title": "  "}), 422, "validation_failed")
    assert {"isbn", "authors", "price", "title"} <= set(error["fields"])
    bad = dict(NEW_BOOK, isbn="978-0-306-40615-8", language="english!", published_on="0999-01-01",
               authors=[], price=None)
    error = assert_error(admin_api.post("/api/v1/admin/books", json=bad), 422, "validation_failed")
    assert {"isbn", "language", "published_on", "authors", "price"} <= set(error["fields"])
    error = assert_error(admin_api.post("/api/v1/admin/books", json=dict(NEW_BOOK, price={"cents": 10**9})), 422)
    assert "price.cents" in error["fields"]
    error = assert_error(admin_api.post("/api/v1/admin/books", json=dict(NEW_BOOK, price={"cents": 100,
                                                                                          "currency": "EUR"})),
                         422, "validation_failed")
    assert "price.currency" in error["fields"]
    error = assert_error(admin_api.post("/api/v1/admin/books", json=dict(NEW_BOOK, colour="red")), 422)
    assert "colour" in error["fields"]
    assert_error(admin_api.post("/api/v1/admin/books", json=dict(NEW_BOOK, stock=-1)), 422)
    assert_error(admin_api.post("/api/v1/admin/books", json=dict(NEW_BOOK, stock="3")), 422)  # strict ints
    assert db.session.scalars(select(Book)).all() == [] and audits(db, "admin.book_created") == []


def test_update_changes_only_the_fields_sent_and_audits_the_difference(db, make_book, admin_api):
    book = make_book("Old Title", authors=("Ann Author",), price_cents=1500, on_hand=3)
    r = admin_api.patch(f"/api/v1/admin/books/{book.id}",
                        json={"title": "New Title", "price": {"cents": 1799}, "subtitle": None,
                              "low_stock_threshold": 2})
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["title"] == "New Title" and body["price"]["cents"] == 1799 and body["authors"] == ["Ann Author"]
    assert body["stock"]["on_hand"] == 3 and body["stock"]["low_stock_threshold"] == 2
    [updated] = audits(db, "admin.book_updated")
    assert updated.before["title"] == "Old Title" and updated.after["title"] == "New Title"
    assert updated.before["price_cents"] == 1500 and updated.after["price_cents"] == 1799
    assert "authors" not in updated.after  # unchanged: not in the diff
    error = assert_error(admin_api.patch(f"/api/v1/admin/books/{book.id}", json={"title": None}), 422)
    assert error["fields"] == {"title": ["Title is required."]}
    assert "pages" in assert_error(admin_api.patch(f"/api/v1/admin/books/{book.id}", json={"pages": 0}),
                                   422)["fields"]
    assert_error(admin_api.patch(f"/api/v1/admin/books/{book.id}", json={"stock": 9}), 422)  # stock: /stock only
    db.session.expire_all()
    assert db.session.get(Book, book.id).title == "New Title"
    assert_error(admin_api.patch("/api/v1/admin/books/999999", json={"title": "X"}), 404, "not_found")
    assert_error(admin_api.patch("/api/v1/admin/books/99999999999999", json={"title": "X"}), 404, "not_found")


def test_archive_and_restore_are_audited_and_idempotent(db, make_book, admin_api):
    book = make_book("Shelved")
    r = admin_api.post(f"/api/v1/admin/books/{book.id}/archive")
    assert r.status_code == 200 and r.get_json()["active"] is False
    assert admin_api.post(f"/api/v1/admin/books/{book.id}/archive").status_code == 200
    assert len(audits(db, "admin.book_archived")) == 1
    assert db.session.get(Book, book.id).active is False
    r = admin_api.post(f"/api/v1/admin/books/{book.id}/restore")
    assert r.status_code == 200 and r.get_json()["active"] is True
    [restored] = audits(db, "admin.book_restored")
    assert restored.before == {"active": False} and restored.after == {"active": True}
    for action in ("archive", "restore"):
        assert_error(admin_api.post(f"/api/v1/admin/books/424242/{action}"), 404, "not_found")


def test_stock_change_writes_one_ledger_row_and_an_audit_entry(db, make_book, admin_api):
    book = make_book("Counted", on_hand=5)
    before = len(ledger(db, book.id))
    r = admin_api.post(f"/api/v1/admin/books/{book.id}/stock",
                       json={"change": 3, "reason": "restock", "note": "Delivery from the distributor",
                             "expected_on_hand": 5})
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["stock"]["on_hand"] == 8 and body["stock"]["available"] == 8
    assert body["movement"]["on_hand_delta"] == 3 and body["movement"]["reason"] == "restock"
    assert body["movement"]["actor"] == "boss" and "Delivery from the distributor" in body["movement"]["note"]
    rows = ledger(db, book.id)
    assert len(rows) == before + 1 and rows[-1].on_hand_delta == 3 and rows[-1].reason == "restock"
    [entry] = audits(db, "admin.book_stock_adjusted")
    assert entry.before == {"on_hand": 5} and entry.after == {"on_hand": 8} and "+3" in entry.note

    r = admin_api.post(f"/api/v1/admin/books/{book.id}/stock",
                       json={"change": -2, "reason": "damaged", "note": "Water damage"})
    assert r.status_code == 200 and r.get_json()["stock"]["on_hand"] == 6
    assert db.session.get(Inventory, book.id).on_hand == 6


def test_stock_change_refusals_change_nothing(db, make_book, admin_api):
    book = make_book("Few Left", on_hand=2)
    url = f"/api/v1/admin/books/{book.id}/stock"
    before = len(ledger(db, book.id))
    below = assert_error(admin_api.post(url, json={"change": -3, "reason": "lost", "note": "Gone"}), 422,
                         "validation_failed")
    assert "change" in below["fields"]
    sign = assert_error(admin_api.post(url, json={"change": -1, "reason": "restock", "note": "x"}), 422)
    assert "change" in sign["fields"]
    assert "change" in assert_error(admin_api.post(url, json={"change": 0, "reason": "other", "note": "x"}),
                                    422)["fields"]
    stale = assert_error(admin_api.post(url, json={"change": 1, "reason": "other", "note": "again",
                                                   "expected_on_hand": 7}), 422)
    assert "changed" in stale["fields"]["change"][0]
    assert "note" in assert_error(admin_api.post(url, json={"change": 1, "reason": "other", "note": "  "}),
                                  422)["fields"]
    assert "reason" in assert_error(admin_api.post(url, json={"change": 1, "reason": "gift", "note": "x"}),
                                    422)["fields"]
    assert "change" in assert_error(admin_api.post(url, json={"change": 10**12, "reason": "other", "note": "x"}),
                                    422)["fields"]
    assert len(ledger(db, book.id)) == before and db.session.get(Inventory, book.id).on_hand == 2
    assert audits(db, "admin.book_stock_adjusted") == []
    assert_error(admin_api.post("/api/v1/admin/books/77777/stock",
                                json={"change": 1, "reason": "restock", "note": "x"}), 404, "not_found")
