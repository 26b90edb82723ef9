"""Listing filters: a GET form read from request.args (no CSRF: it changes nothing)."""
from __future__ import annotations

from decimal import Decimal

from wtforms import BooleanField, Form, IntegerField, SearchField, SelectChoice, SelectField
from wtforms.validators import NumberRange, Optional

from ..security import FiniteDecimalField
from ..services.catalog.search import LANGUAGES, SORTS, BookQuery


class BookFilterForm(Form):
    q = SearchField("Search", validators=[Optional()])
    genre = SelectField("Genre", choices=[SelectChoice("", "All genres")], validators=[Optional()])
    language = SelectField("Language", validators=[Optional()], choices=[SelectChoice("", "Any language")] + [
        SelectChoice(code, name) for code, name in sorted(LANGUAGES.items(), key=lambda kv: kv[1])])
    min_price = FiniteDecimalField("Min price ($)", places=2,
                                   validators=[Optional(), NumberRange(min=0, max=100000)])
    max_price = FiniteDecimalField("Max price ($)", places=2,
                                   validators=[Optional(), NumberRange(min=0, max=100000)])
    in_stock = BooleanField("In stock only")
    sort = SelectField("Sort by", choices=[SelectChoice(k, v) for k, v in SORTS.items()], validators=[Optional()])
    page = IntegerField("Page", validators=[Optional(), NumberRange(min=1, max=1_000_000)])

    def __init__(self, formdata, genres, **kwargs):
        super().__init__(formdata, **kwargs)
        self.genre.choices = [SelectChoice("", "All genres")] + [SelectChoice(g.slug, g.name) for g in genres]

    def to_query(self, per_page: int, **fixed) -> BookQuery:
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
        values = dict(
            q=(self.q.data or "").strip()[:200],
            genre=ok(self.genre) or None,
            language=ok(self.language) or None,
            min_price_cents=_cents(min_price),
            max_price_cents=_cents(max_price),
            in_stock=bool(self.in_stock.data),
            sort=ok(self.sort) or "",
            page=ok(self.page) or 1,
            per_page=per_page,
        )
        values.update(fixed)
        return BookQuery(**values)


def _cents(value: Decimal | None) -> int | None:
    return None if value is None else int((value * 100).to_integral_value())
