"""Forms for the admin authors screens: the list's filters, the author editor, the delete button."""
from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import BooleanField, Form, IntegerField, SearchField, StringField, TextAreaField, URLField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from ..services.people import authors


class AuthorFilterForm(Form):
    q = SearchField("Search", validators=[Optional()])
    page = IntegerField("Page", validators=[Optional(), NumberRange(min=1, max=100000)])


class AuthorForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(message="Enter the author's name."),
                                           Length(max=authors.NAME_MAX)],
                       description="As printed on the books. The web address (slug) follows the name.")
    bio = TextAreaField("Bio", validators=[Optional(), Length(max=authors.BIO_MAX)],
                        description=f"Up to {authors.BIO_MAX:,} characters.")
    city = StringField("City", validators=[Optional(), Length(max=authors.CITY_MAX)])
    goodreads_url = URLField("Goodreads page", validators=[Optional(), Length(max=255)],
                             description=f"Optional. An https link on goodreads.com, e.g. {authors.GOODREADS_EXAMPLE}")
    photo = FileField("Photo", description="JPEG, PNG, WebP or GIF; replaces the current photo.")
    remove_photo = BooleanField("Remove the current photo")
    user_login = StringField("Linked account (username or email)", validators=[Optional(), Length(max=254)],
                             description="Lets that account see this author's dashboard and edit the profile. "
                                         "A customer account becomes an author account. Leave empty to unlink.")


class DeleteForm(FlaskForm):
    """A bare POST with a CSRF token."""
