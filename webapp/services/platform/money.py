"""Money is integer cents everywhere; this is the one way it is written for people."""
from __future__ import annotations


def money(cents: int | None, currency: str = "$") -> str:
    if cents is None:
        return ""
    sign = "-" if cents < 0 else ""
    cents = abs(int(cents))
    return f"{sign}{currency}{cents // 100:,}.{cents % 100:02d}"
