"""Issue 17, hostile, the card buttons through HTTP: "Notify me" and "Place hold" for another shopper's request,
asked twice, on a book in stock or gone, by a stranger, with a ?next= pointing off the site. Never a 500."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from webapp.models import BackInStockRequest, Book, Hold


@pytest.fixture
def two_fans(app, auth, db, make_book):
    book = make_book("Sold Out", on_hand=0)
    auth.user("alice")
    auth.user("mallory")
    alice, mallory = app.test_client(), app.test_client()
    assert auth.login("alice", client=alice).status_code == 303
    assert auth.login("mallory", client=mallory).status_code == 303
    return book.id, alice, mallory


def _rows(db) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(BackInStockRequest).where(
        BackInStockRequest.notified_at.is_(None)))


def test_notify_twice_is_one_row_and_nobody_cancels_anothers(auth, db, two_fans):
    book_id, alice, mallory = two_fans
    for _ in range(3):
        assert auth.post(f"/books/{book_id}/notify", client=alice).status_code == 303
    assert _rows(db) == 1
    for _ in range(2):  # mallory has no request of her own: cancelling one cancels nothing of alice's
        assert auth.post(f"/books/{book_id}/notify/cancel", client=mallory).status_code == 303
    assert _rows(db) == 1
    r = auth.post(f"/books/{book_id}/notify/cancel", {"user_id": "1"}, client=mallory,
                  query_string={"user_id": "1"})
    assert r.status_code == 303 and _rows(db) == 1
    assert auth.post(f"/books/{book_id}/notify/cancel", client=alice).status_code == 303
    assert _rows(db) == 0


def test_strangers_are_sent_to_sign_in_and_nothing_is_stored(app, auth, db, two_fans):
    book_id, _, _ = two_fans
    stranger = app.test_client()
    for url in (f"/books/{book_id}/notify", f"/books/{book_id}/notify/cancel", f"/books/{book_id}/hold"):
        r = auth.post(url, client=stranger)
        assert r.status_code in (302, 303) and "/login" in r.headers["Location"], url
    assert _rows(db) == 0 and db.session.scalar(select(func.count()).select_from(Hold)) == 0


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/", "/\\evil.example", "/\t/evil.example",
                                    "javascript:alert(1)", "http:/evil.example"])
def test_next_never_leaves_the_site(auth, db, two_fans, target):
    book_id, alice, _ = two_fans
    for url in (f"/books/{book_id}/notify", f"/books/{book_id}/notify/cancel", f"/books/{book_id}/hold"):
        r = auth.post(url, {"next": target}, client=alice, query_string={"next": target})
        assert r.status_code in (200, 303), (url, r.status_code)
        location = r.headers.get("Location", "")
        assert location.startswith("/") and not location.startswith(("//", "/\\", "/\t")), (url, location)


def test_notify_for_a_book_in_stock_missing_or_withdrawn(auth, db, make_book, two_fans):
    _, alice, _ = two_fans
    in_stock = make_book("On Shelf", on_hand=3)
    gone = make_book("Withdrawn", on_hand=0)
    db.session.get(Book, gone.id).active = False
    db.session.commit()
    assert auth.post(f"/books/{in_stock.id}/notify", client=alice).status_code == 303
    assert auth.post(f"/books/{gone.id}/notify", client=alice).status_code in (303, 404)
    for bad in ("999999", "0", "-1", "abc", "99999999999999999999999"):
        assert auth.post(f"/books/{bad}/notify", client=alice).status_code in (404, 405), bad
        assert alice.get(f"/books/{bad}/notify").status_code == 404, bad
    assert _rows(db) == 0


def test_place_hold_twice_is_one_hold(auth, db, two_fans):
    book_id, alice, _ = two_fans
    for _ in range(3):
        assert auth.post(f"/books/{book_id}/hold", client=alice).status_code in (200, 303)
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(Hold).where(Hold.book_id == book_id)) == 1
