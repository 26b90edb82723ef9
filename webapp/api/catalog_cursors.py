"""The catalog API's cursors: opaque base64 JSON naming the page, its size and a digest of the search it
continues, checked strictly when they come back (a cursor is client input: every field is re-validated, and text
in it must be text a query string could carry)."""
from __future__ import annotations

import base64
import binascii
import hashlib
import json
from typing import Any

from .errors import ApiError


def cursor_error(message: str) -> ApiError:
    """A cursor this API did not give (or not for this search): 422 on `cursor`, as every listing answers."""
    return ApiError(422, "validation_failed", message, {"cursor": [message]})


def encode(data: dict[str, Any]) -> str:
    raw = json.dumps(data, separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(cursor: str, kind: str) -> dict[str, Any]:
    """A cursor this module made for `kind`, or 422: never trusted beyond its checked fields."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise cursor_error("That cursor is not one this API gave out: pass `next_cursor` as it was.") from None
    if not isinstance(data, dict) or data.get("k") != kind:
        raise cursor_error("That cursor is not one this API gave out: pass `next_cursor` as it was.")
    return data


def int_in(data: dict[str, Any], key: str, low: int, high: int) -> int:
    value = data.get(key)
    if type(value) is not int or not low <= value <= high:
        raise cursor_error("That cursor is not one this API gave out: pass `next_cursor` as it was.")
    return value


def plain_text(value: str) -> bool:
    """Text a query string could carry too: no NUL, no lone surrogate (a cursor is JSON, where "\\ud800" is valid,
    but no database takes it)."""
    if "\x00" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def limit_of(data: dict[str, Any], limit: int | None) -> int:
    """The page size a cursor continues with (a different `limit` sent with it is refused)."""
    per_page = int_in(data, "n", 1, 100)
    if limit is not None and limit != per_page:
        raise cursor_error(f"This cursor continues pages of {per_page}: send limit={per_page} or none.")
    return per_page


def digest(*parts: object) -> str:
    return hashlib.sha1(json.dumps(parts, default=str).encode()).hexdigest()[:16]
