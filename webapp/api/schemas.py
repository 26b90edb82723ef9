"""Schemas shared by the API's areas: the base every schema derives from (no unknown fields, no NUL bytes, ids
and counts within a database integer), money as integer cents plus currency, the error shape and cursor pages.

Each area keeps its own request and response schemas next to its routes; a shape used by two areas lives here."""
from __future__ import annotations

import re
from typing import Any

import marshmallow as ma
from webargs.multidictproxy import MultiDictProxy

from ..models.types import DB_INT_MAX
from ..services.platform import paging
from ..services.platform.money import currency


class ApiSchema(ma.Schema):
    """Refuses fields it does not know (a typo is an error, not silently ignored) and NUL bytes in any string.

    Integers are strict (a JSON body's "5" is not 5), except in a query string, where every value is text:
    there a whole number ("?limit=5") is read as one before the fields see it."""

    class Meta:
        unknown = ma.RAISE

    @ma.pre_load
    def _no_nul_and_query_numbers(self, data: Any, **_: Any) -> Any:
        if _has_nul(data):
            raise ma.ValidationError("Text may not contain NUL characters.")
        if isinstance(data, MultiDictProxy):
            return {key: _query_number(self.fields.get(key), data[key]) for key in data}
        return data


_WHOLE_NUMBER = re.compile(r"[+-]?[0-9]{1,18}")


def _query_number(field: ma.fields.Field | None, value: Any) -> Any:
    """A query value for an integer field (or a list of them) as an int when it is a whole number; anything else
    is left for the field to refuse ("Not a valid integer.")."""
    if isinstance(field, ma.fields.List) and isinstance(value, list):
        return [_query_number(field.inner, v) for v in value]
    if isinstance(field, ma.fields.Integer) and isinstance(value, str) and _WHOLE_NUMBER.fullmatch(value):
        return int(value)
    return value


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_has_nul(v) for v in value)
    return False


def Id(**kwargs: Any) -> ma.fields.Integer:  # noqa: N802 (a field factory, read like a field class)
    """A database id: a positive integer a database integer column holds."""
    return ma.fields.Integer(strict=True, validate=ma.validate.Range(min=1, max=DB_INT_MAX), **kwargs)


def Count(minimum: int = 0, maximum: int = 1000, **kwargs: Any) -> ma.fields.Integer:  # noqa: N802
    return ma.fields.Integer(strict=True, validate=ma.validate.Range(min=minimum, max=maximum), **kwargs)


def Text(maximum: int, minimum: int = 0, **kwargs: Any) -> ma.fields.String:  # noqa: N802
    return ma.fields.String(validate=ma.validate.Length(min=minimum, max=maximum), **kwargs)


class MoneySchema(ma.Schema):
    cents = ma.fields.Integer(required=True, metadata={"description": "Amount in the currency's minor unit."})
    currency = ma.fields.String(required=True, metadata={"example": "USD"})


def money(cents: int | None) -> dict[str, Any] | None:
    """{"cents": 1299, "currency": "USD"}: every amount the API sends."""
    if cents is None:
        return None
    return {"cents": int(cents), "currency": currency()}


def Money(**kwargs: Any) -> ma.fields.Nested:  # noqa: N802
    return ma.fields.Nested(MoneySchema, **kwargs)


class ErrorBodySchema(ma.Schema):
    code = ma.fields.String(required=True, metadata={"description": "Stable, for programs (e.g. not_found)."})
    message = ma.fields.String(required=True, metadata={"description": "For people."})
    # (`fields` would shadow the schema's own attribute of that name: the key is set by data_key)
    field_messages = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.List(ma.fields.String()), required=True,
                                    data_key="fields",
                                    metadata={"description": "Field name to its messages ('' for the whole request)."})


class ErrorSchema(ma.Schema):
    error = ma.fields.Nested(ErrorBodySchema, required=True)


class CursorArgs(ApiSchema):
    """Cursor paging: `limit` items after `cursor` (the `next_cursor` of the page before; absent for the first)."""

    cursor = Text(200, load_default=None)
    limit = Count(1, 100, load_default=20)


class KeysetArgs(CursorArgs):
    """Cursor paging newest first (services.platform.paging.keyset: the orders, the wallet's statement): a cursor
    of its pattern is a place in the list, anything else is refused here."""

    cursor = ma.fields.String(load_default=None, validate=ma.validate.Regexp(
        paging.CURSOR_PATTERN, error="That cursor is not valid: use the next_cursor of the page before."),
        metadata={"pattern": paging.CURSOR_PATTERN,
                  "description": "The next_cursor of the page before (absent: the newest)."})


class PageInfoSchema(ma.Schema):
    next_cursor = ma.fields.String(allow_none=True, required=True,
                                   metadata={"description": "Pass as `cursor` for the next page; null at the end."})
    limit = ma.fields.Integer(required=True)
