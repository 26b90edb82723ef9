"""RuleError: the one base for "a rule of the shop refused this" across the services.

A service that refuses (a taken username, a price that is not an amount, a code past its limit) raises a
subclass named after its domain (AccountError, CatalogError, DiscountError ...). Views catch RuleError in one
helper (webapp.actions) and show its messages on the form's fields or in a flash, so a new service's error
needs no new view code. Anything else a service raises is a bug or an outage, not a message for people.
"""
from __future__ import annotations


class RuleError(Exception):
    """A rule was broken. `errors` maps field names to messages ("" for the whole form)."""

    def __init__(self, errors: dict[str, list[str]] | str, field_name: str = ""):
        self.errors = errors if isinstance(errors, dict) else {field_name: [errors]}
        super().__init__("; ".join(m for ms in self.errors.values() for m in ms))
