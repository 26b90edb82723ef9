"""The country list and postcode check of the website's address forms (checkout and the account's address book):
one field and one check, both asking services.people.addresses, which the JSON API asks too."""
from __future__ import annotations

from typing import Any

from wtforms import Field, SelectField

from .services.people import addresses


class CountryField(SelectField):
    """A <select> of countries by name (their two-letter code is sent), the shop's own preselected. A code not
    in the list is refused by `address_problems` with a readable message, not WTForms' "Not a valid choice"."""

    def __init__(self, label: str = "Country", **kwargs: Any) -> None:
        super().__init__(label, choices=addresses.countries, default=addresses.default_country,
                         validate_choice=False, filters=[_upper], **kwargs)


def _upper(value: object) -> object:
    return value.strip().upper() if isinstance(value, str) else value


def address_problems(country: Field, postcode: Field) -> bool:
    """Add the country's and the postcode's problems to their fields; True if there were any."""
    found = False
    problem = addresses.country_problem(country.data)
    if problem:
        country.errors = [*country.errors, problem]
        found = True
    elif not postcode.errors:
        problem = addresses.postcode_problem(country.data, postcode.data)
        if problem:
            postcode.errors = [*postcode.errors, problem]
            found = True
    return found
