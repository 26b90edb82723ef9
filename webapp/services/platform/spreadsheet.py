"""CSV cells that spreadsheets will not run as formulas (CSV injection): one rule for every export."""
from __future__ import annotations

import re

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"-?\d+(\.\d+)?")


def safe_cell(value: object) -> str:
    """Text as written to a CSV cell: a leading apostrophe when it would start a formula (numbers, negative
    ones included, stay as they are)."""
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_START) and not _NUMBER.fullmatch(text):
        return "'" + text
    return text


def unsafe_cell(text: str) -> str:
    """Undo safe_cell when reading back a file we exported."""
    return text[1:] if text.startswith("'") and text[1:2] in FORMULA_START else text
