"""Plain, aligned text for people (and `--json` for programs). Everything here reads the API's bodies
defensively: a missing or null optional key prints as "-", never a crash."""
from __future__ import annotations

import json
import sys
import textwrap
from collections.abc import Iterable, Sequence
from typing import Any, TextIO

SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£"}


def get(obj: Any, *keys: str | int, default: Any = None) -> Any:
    """obj[k1][k2]... or `default` when any step is missing (or not a dict/list)."""
    for key in keys:
        if isinstance(obj, dict) and isinstance(key, str):
            obj = obj.get(key)
        elif isinstance(obj, list) and isinstance(key, int) and -len(obj) <= key < len(obj):
            obj = obj[key]
        else:
            return default
        if obj is None:
            return default
    return obj


def items_of(body: Any) -> list[Any]:
    """The list in a body: the body itself, or its "items" (paged lists)."""
    if isinstance(body, list):
        return body
    found = get(body, "items")
    return found if isinstance(found, list) else []


def money(value: Any) -> str:
    """{"cents": 1234, "currency": "USD"} as "$12.34" ("-" when missing)."""
    cents = get(value, "cents")
    if not isinstance(cents, int) or isinstance(cents, bool):
        return "-"
    currency = str(get(value, "currency", default="USD")).upper()
    sign = "-" if cents < 0 else ""
    amount = f"{abs(cents) // 100:,}.{abs(cents) % 100:02d}"
    symbol = SYMBOLS.get(currency)
    return f"{sign}{symbol}{amount}" if symbol else f"{sign}{amount} {currency}"


def text(value: Any) -> str:
    if value is None or value == "":
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(text(v) for v in value) or "-"
    return str(value)


def when(value: Any) -> str:
    """An ISO 8601 time as "2026-12-07 10:30" (UTC as the API sends it); other text as it is."""
    if not isinstance(value, str) or not value:
        return "-"
    shown = value.replace("T", " ")
    return shown[:16] if len(shown) >= 16 and shown[4] == "-" else shown


def words(value: Any) -> str:
    """A status code as people read it ("pending_payment" -> "pending payment")."""
    return text(value).replace("_", " ")


def clip(value: str, width: int) -> str:
    return value if len(value) <= width else value[: width - 1] + "…"


class Out:
    """Where a command writes: stdout for results, stderr for problems; `json_mode` prints bodies as they came."""

    def __init__(self, json_mode: bool = False, stdout: TextIO | None = None, stderr: TextIO | None = None):
        self.json_mode = json_mode
        self.stdout = stdout or sys.stdout
        self.stderr = stderr or sys.stderr

    def line(self, value: str = "") -> None:
        print(value, file=self.stdout)

    def raw(self, body: Any) -> None:
        """A body as JSON (an empty answer, as from a 204, prints nothing)."""
        if body is not None:
            print(json.dumps(body, indent=2, ensure_ascii=False), file=self.stdout)

    def error(self, value: str) -> None:
        print(value, file=self.stderr)

    def table(self, headers: Sequence[str], rows: Iterable[Sequence[Any]], *, right: Iterable[int] = ()) -> None:
        """Columns padded to their widest cell; `right`: the columns to align right (amounts, counts)."""
        cells = [[text(c) for c in row] for row in rows]
        widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
        right_cols = set(right)

        def fmt(row: Sequence[str]) -> str:
            out = [c.rjust(widths[i]) if i in right_cols else c.ljust(widths[i]) for i, c in enumerate(row)]
            return "  ".join(out).rstrip()

        self.line(fmt(list(headers)))
        self.line(fmt(["-" * w for w in widths]))
        for row in cells:
            self.line(fmt(row))

    def fields(self, pairs: Iterable[tuple[str, Any]]) -> None:
        """"Label: value" lines with the values aligned."""
        shown = [(label, text(value)) for label, value in pairs]
        width = max((len(label) for label, _ in shown), default=0) + 1
        for label, value in shown:
            self.line(f"{(label + ':').ljust(width)} {value}")

    def paragraph(self, value: Any, indent: str = "  ") -> None:
        if isinstance(value, str) and value.strip():
            for para in value.strip().split("\n"):
                self.line(textwrap.fill(para, width=88, initial_indent=indent, subsequent_indent=indent) or "")
