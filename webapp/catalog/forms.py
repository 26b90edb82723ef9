"""Listing filters: a GET form read from request.args (no CSRF: it changes nothing)."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import TypedDict

from werkzeug.datastructures import MultiDict
from wtforms import BooleanField, Form, IntegerField, SearchField, SelectChoice, SelectField
from wtforms.validators import NumberRange, Optional

from ..models import Genre
from ..security import FiniteDecimalField
from ..services.catalog.cached_reads import GenreRow
from ..services.catalog.search import LANGUAGES, SORTS, BookQuery
from ..services.platform import money


class PageFilter(TypedDict, total=False):
    """What a listing page fixes, whatever its form says: the genre page its genre, the author page its author."""

    genre: str
    author_id: int


class BookFilterForm(Form):
    q = SearchField("Search", validators=[Optional()])
    genre = SelectField("Genre", choices=[SelectChoice("", "All genres")], validators=[Optional()])
    language = SelectField("Language", validators=[Optional()], choices=[SelectChoice("", "Any language")] + [
        SelectChoice(code, name) for code, name in sorted(LANGUAGES.items(), key=lambda kv: kv[1])])
    min_price = FiniteDecimalField("Min price", places=2, validators=[Optional(), NumberRange(min=0, max=100000)])
    max_price = FiniteDecimalField("Max price", places=2, validators=[Optional(), NumberRange(min=0, max=100000)])
    in_stock = BooleanField("In stock only")
    sort = SelectField("Sort by", choices=[SelectChoice(k, v) for k, v in SORTS.items()], validators=[Optional()])
    page = IntegerField("Page", validators=[Optional(), NumberRange(min=1, max=1_000_000)])

    def __init__(self, formdata: MultiDict[str, str], genres: Iterable[Genre | GenreRow], **kwargs: object) -> None:
        super().__init__(formdata, **kwargs)
        self.genre.choices = [SelectChoice("", "All genres")] + [SelectChoice(g.slug, g.name) for g in genres]
        symbol = money.symbol()  # in the shop's currency (a setting)
        self.min_price.label.text = f"Min price ({symbol})"
        self.max_price.label.text = f"Max price ({symbol})"

    @staticmethod
    def has_prices(args: MultiDict[str, str]) -> bool:
        """Whether the address gives a price bound (then the form is read, for its messages)."""
        return bool(args.get("min_price") or args.get("max_price"))

    def price_errors(self) -> list[tuple[str, str]]:
        """(field name, message) for each price field `to_query` could not use."""
        return [(field.name, str(e)) for field in (self.min_price, self.max_price) for e in field.errors]

    def to_query(self, per_page: int, fixed: PageFilter | None = None) -> BookQuery:
        """Build a query from the valid fields; an invalid field is ignored (its error is shown)."""
        self.validate()
        for field in self:  # one message per field is enough ("not a number", not also "out of range")
            field.errors = list(field.errors)[:1]

        def ok(field):
            return field.data if not field.errors else None

        min_price, max_price = ok(self.min_price), ok(self.max_price)
        if min_price is not None and max_price is not None and min_price > max_price:
            self.max_price.errors = list(self.max_price.errors) + ["Must be at least the minimum price."]
            max_price = None
        query = BookQuery(
            q=(self.q.data or "").strip()[:200],
            genre=ok(self.genre) or None,
            language=ok(self.language) or None,
            min_price_cents=None if min_price is None else money.from_decimal(min_price),
            max_price_cents=None if max_price is None else money.from_decimal(max_price),
            in_stock=bool(self.in_stock.data),
            sort=ok(self.sort) or "",
            page=ok(self.page) or 1,
            per_page=per_page,
        )
        return replace(query, **fixed) if fixed else query  # the page's own filter wins over the form's
