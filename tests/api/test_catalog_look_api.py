"""The API's book schemas carry format and series (issue 17): read on the public book, written by staff."""
from __future__ import annotations


def _series(db, book, name, number, fmt="paperback"):
    book.series_name, book.series_number, book.format = name, number, fmt
    db.session.commit()


def test_api_exposes_and_accepts_format_and_series(client, db, make_book, admin_api):
    book = make_book("The Marrow Tide")
    _series(db, book, "The Marrow Coast", 1, "hardcover")
    got = client.get(f"/api/v1/books/{book.id}").get_json()
    assert (got["format"], got["series_name"], got["series_number"]) == ("hardcover", "The Marrow Coast", 1)
    new = {"isbn": "978-0-306-40615-7", "title": "The Marrow Salt", "authors": ["Ada"], "price": {"cents": 999},
           "format": "hardcover", "series_name": "The Marrow Coast", "series_number": 2}
    made = admin_api.post("/api/v1/admin/books", json=new)
    assert made.status_code == 201, made.get_json()
    assert made.get_json()["series_number"] == 2 and made.get_json()["format"] == "hardcover"
    refused = admin_api.patch(f"/api/v1/admin/books/{made.get_json()['id']}", json={"format": "scroll"})
    assert refused.status_code == 422 and "format" in refused.get_json()["error"]["fields"]
