"""The rules for a book's values (shared by the admin form and the CSV import): one per kind of value, and
clean_book reporting every problem at once."""
from datetime import date

import pytest

from webapp.services.catalog import book_values
from webapp.services.catalog.book_values import CatalogError, FieldError
from webapp.services.platform import money

ISBN13 = "9780306406157"
ISBN10 = "0-306-40615-2"  # the same book as ISBN13


def test_money_rule():
    assert book_values.parse_money("12.50") == 1250
    assert book_values.parse_money("12.5") == 1250
    assert book_values.parse_money(" $1,299 ") == 129900
    assert book_values.parse_money("0") == 0
    assert book_values.parse_money("", required=False) is None
    for bad, message in [("-1", "cannot be negative"), ("$-3.00", "cannot be negative"), ("12.505", "like 12.50"),
                         ("12,50", "like 12.50"), ("abc", "like 12.50"), ("1e3", "like 12.50"),
                         ("", "is required"), ("100000.01", "at most"), ("abc7", "like 12.50"),
                         ("12kg", "like 12.50"), ("£12", "like 12.50"), (".5", "like 12.50"), ("12.", "like 12.50")]:
        with pytest.raises(FieldError, match=message):
            book_values.parse_money(bad)
    assert money.plain(1250) == "12.50" and money.plain(7) == "0.07"
    assert money.plain(None) == ""


def test_count_rule():
    assert book_values.parse_count("7") == 7 and book_values.parse_count("+7") == 7
    assert book_values.parse_count(" ") is None
    for bad, message in [("-1", "cannot be negative"), ("2.5", "whole number"), ("ten", "whole number"),
                         ("2000000", "at most")]:
        with pytest.raises(FieldError, match=message):
            book_values.parse_count(bad)
    with pytest.raises(FieldError, match="at least 1"):
        book_values.parse_count("0", "Pages", minimum=1)


def test_isbn_rule_checksum_normalising_and_uniqueness(app, make_book):
    assert book_values.parse_isbn(ISBN10) == ISBN13
    assert book_values.parse_isbn("978-0-306-40615-7") == ISBN13
    with pytest.raises(FieldError, match="Not a valid ISBN"):
        book_values.parse_isbn("9780306406158")  # wrong check digit
    with pytest.raises(FieldError, match="required"):
        book_values.parse_isbn("  ")
    book = make_book("Taken", isbn13=ISBN13)
    with pytest.raises(FieldError, match=f"#{book.id}"):
        book_values.parse_isbn(ISBN10)
    assert book_values.parse_isbn(ISBN10, book_id=book.id) == ISBN13  # its own ISBN is fine
    assert book_values.parse_isbn(ISBN10, check_unique=False) == ISBN13


def test_other_rules():
    assert book_values.parse_date("2024-02-29") == date(2024, 2, 29)
    with pytest.raises(FieldError, match="date like"):
        book_values.parse_date("29/02/2024")
    with pytest.raises(FieldError, match="year between"):
        book_values.parse_date("0999-01-01")
    assert book_values.parse_language("") == "en" and book_values.parse_language("PT_BR") == "pt-br"
    with pytest.raises(FieldError):
        book_values.parse_language("english")
    assert book_values.parse_names("Ann, ann ,  Bob  Lee,", "Authors", sep=",", max_len=20, max_count=5) == \
        ["Ann", "Bob Lee"]
    with pytest.raises(FieldError, match="at least one"):
        book_values.parse_names(" , ", "Authors", sep=",", max_len=20, max_count=5, required=True)
    with pytest.raises(FieldError, match="at most 2"):
        book_values.parse_names("a;b;c", "Genres", sep=";", max_len=20, max_count=2)
    with pytest.raises(FieldError, match="control characters"):
        book_values.parse_text("bad\x00title", "Title", 300)


def test_clean_book_reports_every_problem_and_what_a_new_book_needs(app):
    with pytest.raises(CatalogError) as caught:
        book_values.clean_book({"isbn": "123", "price": "-4", "pages": "0", "cost_price": "x"})
    errors = caught.value.errors
    assert set(errors) == {"isbn", "title", "authors", "price", "pages", "cost_price"}
    assert "required for a new book" in errors["title"][0] and "negative" in errors["price"][0]
    clean = book_values.clean_book({"isbn": ISBN10, "title": " The  Book ", "authors": "A. Writer",
                                      "price": "9.99", "rental_week_price": "", "stock": "3"})
    assert clean == {"isbn": ISBN13, "title": "The Book", "authors": ["A. Writer"], "price": 999,
                     "rental_week_price": 0, "stock": 3}
