"""ISBN handling on python-stdnum: validate, normalise to ISBN-13, build from a 12-digit body."""
from __future__ import annotations

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

