"""services.commerce.timeline: every staff note has a customer wording, and the two never cross."""
from __future__ import annotations

import re

import pytest

from webapp.services.commerce import timeline

SAMPLE = {"minutes": "30", "reference": "Bank transfer 42", "ended": "expired", "amount": "$12.00",
          "problem": "a book sold out", "reason": "Out of print", "tracking": "1Z999", "loans": "2 rental loans"}


@pytest.mark.parametrize("kind", list(timeline.WORDINGS))
def test_each_staff_note_reads_back_in_the_customers_words(kind):
    wording = timeline.WORDINGS[kind]
    fields = re.findall(r"\{(\w+)\}", wording.staff)
    note = timeline.staff_note(kind, **{name: SAMPLE[name] for name in fields})
    claimed = [other for other, pattern in timeline._PATTERNS if pattern.fullmatch(note)]
    assert claimed == [kind]  # no two kinds claim the same note
    customer = timeline.customer_note(note)
    assert customer and customer != note or wording.staff == wording.customer
    assert "the customer" not in customer and "staff" not in customer.lower()
    for name in re.findall(r"\{(\w+)\}", wording.customer):
        assert SAMPLE[name] in customer


def test_the_examples_of_the_issue():
    assert timeline.customer_note("Cancelled by the customer.") == "You cancelled this order."
    assert timeline.customer_note("$12.00 refunded to the customer's wallet.") == "$12.00 was returned to your wallet."


def test_unknown_and_empty_notes_are_kept():
    assert timeline.customer_note("Gift wrapped by Sam.") == "Gift wrapped by Sam."
    assert timeline.customer_note(None) is None and timeline.customer_note("") == ""
