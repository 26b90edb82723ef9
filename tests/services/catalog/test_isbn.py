import pytest

from webapp.services.catalog.isbn import InvalidISBN, isbn13_from_body, normalize


def test_isbn10_is_converted_to_isbn13():
    assert normalize("0-306-40615-2") == "9780306406157"


def test_isbn13_with_hyphens_is_normalised():
    assert normalize("978-0-306-40615-7") == "9780306406157"


@pytest.mark.parametrize("bad", ["9780306406158", "0306406153", "12345", "", "97803064061X7"])
def test_bad_checksums_and_shapes_are_rejected(bad):
    with pytest.raises(InvalidISBN):
        normalize(bad)


def test_check_digit_is_computed():
    assert isbn13_from_body("978030640615") == "9780306406157"
