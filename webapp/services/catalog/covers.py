"""Generated book covers (SVG): deterministic from the ISBN, no network, no files."""
from __future__ import annotations

import hashlib
import textwrap
from xml.sax.saxutils import escape

PALETTE = [
    ("#1d3557", "#f1faee"), ("#6a040f", "#ffe8d6"), ("#283618", "#fefae0"), ("#3c096c", "#f3e8ff"),
    ("#005f73", "#e9f5f2"), ("#7f4f24", "#fdf0d5"), ("#22223b", "#f2e9e4"), ("#9d0208", "#fff3e6"),
    ("#14213d", "#fca311"), ("#2b2d42", "#edf2f4"), ("#386641", "#f2e8cf"), ("#590d22", "#ffccd5"),
]


def svg_cover(title: str, authors: str, isbn13: str) -> str:
    digest = hashlib.sha256(isbn13.encode()).digest()
    bg, fg = PALETTE[digest[0] % len(PALETTE)]
    band_y = 40 + digest[1] % 60
    lines = textwrap.wrap(title, 16)[:5] or [""]
    title_svg = "".join(
        f'<text x="100" y="{band_y + 60 + i * 26}" font-size="20" font-weight="700" text-anchor="middle">'
        f"{escape(line)}</text>"
        for i, line in enumerate(lines)
    )
    author_line = escape(textwrap.shorten(authors or "", 30, placeholder="…"))
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 200 300" width="200" height="300" role="img" '
        f'aria-label="Cover of {escape(title, {chr(34): "&quot;"})}">'
        f'<rect width="200" height="300" fill="{bg}"/>'
        f'<rect x="12" y="{band_y}" width="176" height="2" fill="{fg}" opacity="0.7"/>'
        f'<rect x="12" y="270" width="176" height="2" fill="{fg}" opacity="0.7"/>'
        f'<g fill="{fg}" font-family="Georgia, serif">{title_svg}'
        f'<text x="100" y="262" font-size="13" text-anchor="middle">{author_line}</text></g></svg>'
    )
