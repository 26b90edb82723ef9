"""Public search by ISBN: an ISBN-10 or ISBN-13, with or without hyphens or spaces, finds that book exactly and
first, on the web listing and in the JSON API (both go through services.catalog.search.search_books)."""
import re

import pytest

from webapp.services.catalog import isbn

ISBN13 = "9780306406157"  # ISBN-10 0-306-40615-2


def card_titles(html: str) -> list[str]:
    return re.findall(r'class="book-title"><a href="[^"]+">([^<]+)</a>', html)


@pytest.fixture
def shelf(app, make_book):
    wanted = make_book("Signals And Noise", isbn13=ISBN13, authors=("Rae Ikeda",))
    # Decoys: the same digits in another book's title and description (a word search would find these).
    make_book(f"Puzzle {ISBN13}", description=f"Not 978-0-306-40615-7 at all: {ISBN13} and 0306406152.")
    make_book("Noise Signals Again")
    return wanted


@pytest.mark.parametrize("q", [ISBN13, "978-0-306-40615-7", "978 0 306 40615 7", "0306406152", "0-306-40615-2",
                               " 0 306 40615 2 "])
def test_the_web_listing_finds_the_book_by_isbn(client, shelf, q):
    page = client.get("/books", query_string={"q": q}).get_data(as_text=True)
    assert card_titles(page) == ["Signals And Noise"]  # exactly, and first: the decoys are not results
    assert "Puzzle" not in page


@pytest.mark.parametrize("q", ["978-0-306-40615-7", "0306406152", "0 306 40615 2"])
def test_the_api_finds_the_book_by_isbn(client, shelf, q):
    r = client.get("/api/v1/books", query_string={"q": q})
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert [item["id"] for item in body["items"]] == [shelf.id]
    assert body["items"][0]["isbn13"] == ISBN13 and body["total"] == 1 and body["page"]["next_cursor"] is None


def test_an_isbn_with_filters_that_exclude_the_book_finds_nothing(client, shelf):
    body = client.get("/api/v1/books", query_string={"q": ISBN13, "language": "de"}).get_json()
    assert body["items"] == [] and body["total"] == 0


def test_an_archived_book_is_not_found_by_isbn(client, app, db, make_book):
    make_book("Gone Book", isbn13="9781861972712", active=False)
    page = client.get("/books", query_string={"q": "978-1-86197-271-2"}).get_data(as_text=True)
    assert "Gone Book" not in page


def test_a_bad_checksum_or_a_short_number_is_a_word_search(client, shelf):
    page = client.get("/books", query_string={"q": "9780306406158"}).get_data(as_text=True)  # wrong check digit
    assert "Signals And Noise" not in page
    page = client.get("/books", query_string={"q": "signals"}).get_data(as_text=True)  # words still work
    assert sorted(card_titles(page)) == ["Noise Signals Again", "Signals And Noise"]


def test_from_query():
    assert isbn.from_query("0-306-40615-2") == ISBN13
    assert isbn.from_query("080442957X") == "9780804429573"
    assert isbn.from_query("080442957x") == "9780804429573"
    assert isbn.from_query("9780306406158") is None
    assert isbn.from_query("signals") is None
    assert isbn.from_query("978-0306") is None
    assert isbn.from_query("") is None
