"""The money module: amounts written and read in the shop's currency (CURRENCY, LOCALE), never guessed."""
from __future__ import annotations

import pytest

from webapp.services.platform import money


def test_amounts_are_written_in_the_shop_currency(app, monkeypatch):
    with app.app_context():
        assert money.money(123450) == "$1,234.50"
        assert money.money(-100) == "-$1.00"
        assert money.money(None) == ""
        assert money.money(123456, whole=True) == "$1,235"
        assert money.plain(1250) == "12.50" and money.plain(None) == ""
        monkeypatch.setitem(app.config, "CURRENCY", "eur")
        assert money.money(1250) == "€12.50" and money.symbol() == "€"
        monkeypatch.setitem(app.config, "CURRENCY", "jpy")
        assert money.money(1250) == "¥1,250" and money.plain(1250) == "1250" and money.digits() == 0
        monkeypatch.setitem(app.config, "CURRENCY", "gbp")
        monkeypatch.setitem(app.config, "LOCALE", "en_GB")
        assert money.money(99) == "£0.99"


@pytest.mark.parametrize("text, cents", [
    ("12", 1200), ("12.5", 1250), ("12.50", 1250), ("1,234.50", 123450), ("$1,012.50", 101250), ("$ 12", 1200),
    ("USD 12", 1200), ("12 usd", 1200), (" 0 ", 0), ("", None), (None, None),
])
def test_what_people_type_is_read_as_cents(app, text, cents):
    with app.app_context():
        assert money.parse(text) == cents


@pytest.mark.parametrize("text, message", [
    ("-1", "cannot be negative"), ("$-3.00", "cannot be negative"), ("-$3", "cannot be negative"),
    ("12.345", "at most 2 decimal places"), ("abc", "like 12.50"), ("abc7", "like 12.50"), ("12kg", "like 12.50"),
    ("£12", "like 12.50"), ("EUR 12", "like 12.50"), (".5", "like 12.50"), ("12.", "like 12.50"),
    ("1,23", "like 12.50"), ("12$", "like 12.50"), ("1e3", "like 12.50"), ("99999999999", "at most"),
])
def test_anything_else_is_refused_with_a_reason(app, text, message):
    """Another currency's sign or code is refused, not read as this shop's money (a supplier's £ price list
    imported into a dollar shop must not become dollars)."""
    with app.app_context():
        with pytest.raises(money.MoneyError, match=message):
            money.parse(text)


def test_a_euro_shop_reads_its_own_sign_and_refuses_the_dollar(app, monkeypatch):
    with app.app_context():
        monkeypatch.setitem(app.config, "CURRENCY", "eur")
        assert money.parse("€12.50") == 1250 and money.parse("12.50 EUR") == 1250
        with pytest.raises(money.MoneyError):
            money.parse("$12.50")
