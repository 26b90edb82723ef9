"""Forms of the admin books section. The field names are the CSV column names, and the values are checked by
services.catalog.book_values (the same rules as the CSV import): these forms carry the values and the CSRF token."""
from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (
    BooleanField,
    Form,
    HiddenField,
    IntegerField,
    SearchField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import NumberRange, Optional

from ..services.catalog.admin_listing import SORTS, STATUS_FILTERS, STOCK_FILTERS
from ..services.catalog.book_values import FORMATS
from ..services.catalog.stock_changes import ADJUST_REASONS
from ..services.platform import money


class BookFilterForm(Form):
    """The list's search, filters and sort: a GET form read from request.args (no CSRF: it changes nothing)."""

    q = SearchField("Search", validators=[Optional()])
    genre = SelectField("Genre", validators=[Optional()], choices=[SelectChoice("", "All genres")])
    stock = SelectField("Stock", validators=[Optional()],
                        choices=[SelectChoice("", "Any stock")] + [SelectChoice(k, v) for k, v in STOCK_FILTERS.items()])
    status = SelectField("Status", validators=[Optional()], choices=[SelectChoice("", "Active and archived")]
                         + [SelectChoice(k, v) for k, v in STATUS_FILTERS.items()])
    sort = SelectField("Sort by", validators=[Optional()], choices=[SelectChoice(k, v) for k, v in SORTS.items()])
    page = IntegerField("Page", validators=[Optional(), NumberRange(min=1, max=100_000)])

    def __init__(self, formdata, genres: list[tuple[int, str]], **kwargs):
        super().__init__(formdata, **kwargs)
        self.genre.choices = [SelectChoice("", "All genres")] + [SelectChoice(str(i), name) for i, name in genres]

    def ok(self, name: str):
        """A field's value, or None when it is invalid or blank (an unknown sort or genre is ignored, not an error
        page). Blank includes whitespace: Optional() takes "   " for empty and skips the choice check, so the raw
        value would get through unchecked."""
        field = self[name]
        if field.errors or (isinstance(field.data, str) and not field.data.strip()):
            return None
        return field.data


class BookForm(FlaskForm):
    isbn = StringField("ISBN", description="ISBN-10 or ISBN-13; saved as ISBN-13.")
    title = StringField("Title")
    subtitle = StringField("Subtitle")
    authors = StringField("Authors", description="Separate names with commas. New names are added as authors.")
    genres = StringField("Genres", description="Separate genres with commas. New names are added as genres.")
    price = StringField("Price", description="Like 12.50.")  # labels name the currency: __init__
    rental_week_price = StringField("Rental price per week", description="Like 2.99; 0 or empty: not for rent.")
    cost_price = StringField("Cost price", description="What the shop pays per copy (optional).")
    stock = StringField("Copies in stock", description="The opening stock count.")
    low_stock_threshold = StringField("Low-stock threshold",
                                      description="Alert when available copies fall to this; empty: the shop default.")
    pages = StringField("Pages")
    published_on = StringField("Published on", description="YYYY-MM-DD")
    language = StringField("Language", description="A code like en, fr or pt-br.")
    publisher = StringField("Publisher")
    description = TextAreaField("Description")
    format = SelectField("Format", choices=[SelectChoice(k, v) for k, v in FORMATS.items()], default="paperback",
                         validate_choice=False)  # the service checks it, with its own message
    series_name = StringField("Series", description="The series it belongs to, if any, like The Marrow Coast.")
    series_number = StringField("Number in the series", description="1 for the first book, 2 for the second ...")
    cover = FileField("Cover image", description="JPEG, PNG, WebP or GIF.")
    remove_cover = BooleanField("Remove the current cover")

    # values passed to the service (stock only when creating: on edit, stock changes on its own page)
    VALUE_FIELDS = ("isbn", "title", "subtitle", "authors", "genres", "price", "rental_week_price", "cost_price",
                    "low_stock_threshold", "pages", "published_on", "language", "publisher", "description", "format",
                    "series_name", "series_number")

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        symbol = money.symbol()  # prices are typed in the shop's currency (a setting)
        self.price.label.text = f"Price ({symbol})"
        self.rental_week_price.label.text = f"Rental price per week ({symbol})"
        self.cost_price.label.text = f"Cost price ({symbol})"

    def values(self, creating: bool) -> dict:
        data = {name: self[name].data for name in self.VALUE_FIELDS}
        if creating:
            data["stock"] = self.stock.data
        return data


class InlineEditForm(FlaskForm):
    """Price and stock edited in the table row (the CSRF token travels in the htmx header)."""

    price = StringField("Price")  # the label names the currency: __init__
    stock = StringField("Stock on hand")
    expected_stock = HiddenField()

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.price.label.text = f"Price ({money.symbol()})"


class StockAdjustForm(FlaskForm):
    delta = StringField("Change", description="Copies to add (+3) or remove (-2).")
    reason = SelectField("Reason", choices=[SelectChoice("", "Choose a reason")]
                         + [SelectChoice(k, label) for k, (label, _, _) in ADJUST_REASONS.items()])
    note = TextAreaField("Note", description="Required: what happened (kept in the stock ledger).")
    # The on-hand count the page showed: a second submission of the same form (double click, resent POST)
    # finds it changed and is refused instead of adding the copies twice.
    expected_on_hand = HiddenField()


class ImportForm(FlaskForm):
    file = FileField("CSV file", description="UTF-8 CSV with a header row; see the columns below.")
