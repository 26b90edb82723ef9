"""ISBN handling on python-stdnum: validate, normalise to ISBN-13, build from a 12-digit body."""
from __future__ import annotations

import re

from stdnum import ean as _ean
from stdnum import isbn as _isbn
from stdnum.exceptions import ValidationError


class InvalidISBN(ValueError):
    pass


def normalize(value: str) -> str:
    """Return the ISBN-13 for an ISBN-10 or ISBN-13 (hyphens/spaces allowed); raise InvalidISBN."""
    try:
        return _isbn.to_isbn13(_isbn.validate(value))
    except ValidationError as exc:
        raise InvalidISBN(f"{value!r} is not a valid ISBN: {exc}") from None


def isbn13_from_body(body12: str) -> str:
    return body12 + _ean.calc_check_digit(body12)



_ISBN_SHAPE = re.compile(r"\d{13}|\d{9}[\dX]")


def from_query(text: str) -> str | None:
    """The ISBN-13 a search box's text names, if it is nothing but a valid ISBN-10 or ISBN-13 (hyphens and
    spaces allowed, as printed on a book); else None."""
    compact = re.sub(r"[\s-]", "", text or "").upper()
    if not _ISBN_SHAPE.fullmatch(compact):
        return None
    try:
        return normalize(compact)
    except InvalidISBN:
        return None
