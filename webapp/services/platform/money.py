"""Money, the one way: amounts are integers in the currency's minor unit ("cents") everywhere; this module
turns them into text for people and turns what people type back into cents.

The shop's currency is the CURRENCY setting (ISO 4217, e.g. "usd", "eur", "gbp") and numbers are written
for the LOCALE setting (e.g. "en_US", "en_GB", "de_DE"), both through Babel, so a shop in euros shows
"€12.50" and a currency without minor units (JPY) has none. Outside an application (a script, a unit test)
the defaults are USD and en_US.
"""
from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from babel.numbers import format_currency, get_currency_precision, get_currency_symbol
from flask import current_app, has_app_context

DEFAULT_CURRENCY = "USD"
DEFAULT_LOCALE = "en_US"
# What a person may type for an amount: digits (thousands commas allowed), then optionally a point and decimals.
# The shop's own currency sign in front or its code before or after are allowed and ignored (`_strip_currency`);
# any other sign or letters are refused, so "£12" in a dollar shop or "12kg" is not quietly read as 12.
_AMOUNT = re.compile(r"^(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d+))?$", re.ASCII)
MAX_CENTS = 2**31 - 1  # every money column is a 32-bit integer


class MoneyError(ValueError):
    """Text that is not an amount; the message is written for the person who typed it."""


def currency() -> str:
    """The shop's currency code, upper case (Babel and Stripe both accept it)."""
    if has_app_context():
        return str(current_app.config.get("CURRENCY") or DEFAULT_CURRENCY).upper()
    return DEFAULT_CURRENCY


def locale() -> str:
    if has_app_context():
        return str(current_app.config.get("LOCALE") or DEFAULT_LOCALE)
    return DEFAULT_LOCALE


def digits(code: str | None = None) -> int:
    """How many minor-unit digits the currency has (2 for USD/EUR/GBP, 0 for JPY)."""
    return int(get_currency_precision(code or currency()))


def symbol(code: str | None = None) -> str:
    """The currency's symbol in the shop's locale ("$", "€", "£"), for form labels."""
    return str(get_currency_symbol(code or currency(), locale()))


def to_decimal(cents: int, code: str | None = None) -> Decimal:
    return Decimal(int(cents)).scaleb(-digits(code))


def money(cents: int | None, code: str | None = None, *, whole: bool = False) -> str:
    """Cents as people read them: "$1,234.50", "-$1.00", "€12.00"; "" for None. `whole` rounds to whole
    units ("$1,235"), for chart axes."""
    if cents is None:
        return ""
    code = (code or currency()).upper()
    if whole:
        return str(format_currency(to_decimal(cents, code), code, locale=locale(), format="¤#,##0",
                                   currency_digits=False))
    return str(format_currency(to_decimal(cents, code), code, locale=locale()))


def plain(cents: int | None, code: str | None = None) -> str:
    """Cents as a bare number for a form field ("12.50", no sign or separators); "" for None."""
    if cents is None:
        return ""
    places = digits(code)
    return f"{to_decimal(cents, code):.{places}f}"


def from_decimal(value: Decimal, code: str | None = None) -> int:
    """A Decimal in whole units (a form's DecimalField) as cents, rounded to the currency's minor unit."""
    return int(value.scaleb(digits(code)).to_integral_value())


def _strip_currency(raw: str, code: str | None) -> str:
    """`raw` without the shop's currency sign in front ("$12", "-$12", "$-12") or its code before or after
    ("USD 12", "12 usd"); anything else is left for the amount pattern to refuse."""
    code = (code or currency()).upper()
    upper = raw.upper()
    if upper.startswith(code):
        raw = raw[len(code):]
    elif upper.endswith(code):
        raw = raw[:-len(code)]
    raw = raw.strip()
    sign = symbol(code)
    for prefix in (sign, "-" + sign):
        if raw.startswith(prefix):
            raw = ("-" if prefix.startswith("-") else "") + raw[len(prefix):]
            break
    return raw.strip()


def parse(text: str | None, code: str | None = None, *, what: str = "Amount", maximum: int = MAX_CENTS) -> int | None:
    """What a person typed ("12", "12.5", "1,234.50", "$12.50") as cents; None for an empty field.

    MoneyError names the problem: not a number, negative, more decimals than the currency has, over `maximum`.
    """
    if text is None or not str(text).strip():
        return None
    raw = _strip_currency(str(text).strip(), code)
    if raw.startswith("-") or "-" in raw:
        raise MoneyError(f"{what} cannot be negative.")
    match = _AMOUNT.match(raw)
    if not match:
        raise MoneyError(f"{what} must be an amount like {plain(1250, code)}.")
    whole, fraction = match.group(1).replace(",", ""), match.group(2) or ""
    places = digits(code)
    if len(fraction) > places:
        raise MoneyError(f"{what} can have at most {places} decimal places." if places else
                         f"{what} must be a whole number.")
    try:
        cents = int(Decimal(whole).scaleb(places)) + int(fraction.ljust(places, "0") or "0")
    except InvalidOperation:  # pragma: no cover - the pattern admits digits only
        raise MoneyError(f"{what} must be an amount.") from None
    if cents > maximum:
        raise MoneyError(f"{what} must be at most {money(maximum, code)}.")
    return cents
