"""Generated book covers (SVG) for books without an uploaded one: deterministic from the ISBN, no network, no files.

Four designs, so a shelf does not look like one template repeated: a typographic cover with a band, a geometric
pattern, a landscape silhouette and a framed classic. The ISBN's digest picks the design, palette and details;
a genre leans the choice (Travel and Science to landscapes, Classics and Poetry to the framed one). Title and
author are always set in a panel of their own with strong contrast, wrapped to fit the 2:3 box (smaller type
for long titles, an ellipsis past the last line), and escaped. The route caches the result per book version.
"""
from __future__ import annotations

import hashlib
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

VERSION = "2"  # in the cover's cache key and ETag: a new drawing is served at once after a deploy
WIDTH, HEIGHT = 200, 300
DESIGNS = ("band", "geometric", "landscape", "framed")
# (dark, light, accent): text is light on dark or dark on light, never on the accent.
PALETTE = [
    ("#1d3557", "#f1faee", "#e63946"), ("#6a040f", "#ffe8d6", "#dda15e"), ("#283618", "#fefae0", "#bc6c25"),
    ("#3c096c", "#f3e8ff", "#c77dff"), ("#005f73", "#e9f5f2", "#94d2bd"), ("#7f4f24", "#fdf0d5", "#c1121f"),
    ("#22223b", "#f2e9e4", "#9a8c98"), ("#14213d", "#fff4e0", "#fca311"), ("#2b2d42", "#edf2f4", "#ef233c"),
    ("#386641", "#f2e8cf", "#a7c957"), ("#590d22", "#ffccd5", "#ff8fa3"), ("#0b3954", "#f5f5f0", "#ff5a5f"),
]
_LEANS = {"Travel": "landscape", "Science": "landscape", "Classics": "framed", "Poetry": "framed",
          "Philosophy": "framed", "Business": "geometric", "Science Fiction": "geometric"}
_CHAR_EM = 0.56  # a serif face's mean advance, in ems: how many characters fit a line


@dataclass(frozen=True)
class _Text:
    size: int
    lines: list[str]

    @property
    def height(self) -> float:
        return len(self.lines) * self.size * 1.2


def fit(text: str, width: float, max_lines: int, sizes: tuple[int, ...] = (22, 20, 18, 16, 14, 13)) -> _Text:
    """The largest size at which `text` wraps into `max_lines` lines of `width` units; at the smallest size the
    last line ends with an ellipsis when it still does not fit. Long words are broken rather than overflow."""
    text = " ".join(text.split()) or " "
    for size in sizes:
        per_line = max(4, int(width / (size * _CHAR_EM)))
        lines = textwrap.wrap(text, per_line)
        if len(lines) <= max_lines:
            return _Text(size, lines)
    lines = textwrap.wrap(text, per_line)
    last = textwrap.shorten(" ".join(lines[max_lines - 1:]), per_line, placeholder="…")
    if last == "…":  # one long word: cut it
        last = lines[max_lines - 1][:per_line - 1] + "…"
    return _Text(sizes[-1], lines[:max_lines - 1] + [last])


def _lines(block: _Text, x: float, top: float, fill: str, *, weight: str = "700", style: str = "",
           anchor: str = "middle") -> str:
    """`block` as <text> rows whose first baseline sits one size below `top`."""
    extra = f' font-style="{style}"' if style else ""
    return "".join(
        f'<text x="{x}" y="{top + block.size * (1 + 1.2 * i):.1f}" font-size="{block.size}" font-weight="{weight}" '
        f'text-anchor="{anchor}" fill="{fill}"{extra}>{escape(line)}</text>'
        for i, line in enumerate(block.lines))


def _author(authors: str, width: float) -> _Text:
    return fit(authors or "", width, 1, sizes=(14, 13, 12, 11))


def _band(d: bytes, title: str, authors: str, pal: tuple[str, str, str]) -> str:
    dark, light, accent = pal
    head = fit(title, 168, 5)
    band_h = head.height + 28
    band_y = min(70 + d[3] % 40, 250 - band_h)
    by = _author(authors, 168)
    return (f'<rect width="200" height="300" fill="{dark}"/>'
            f'<rect x="0" y="{band_y:.1f}" width="200" height="{band_h:.1f}" fill="{light}"/>'
            f'<rect x="0" y="{band_y - 8:.1f}" width="200" height="4" fill="{accent}"/>'
            f'<rect x="0" y="{band_y + band_h + 4:.1f}" width="200" height="4" fill="{accent}"/>'
            + _lines(head, 100, band_y + 12, dark)
            + f'<rect x="80" y="262" width="40" height="1.5" fill="{light}" opacity="0.6"/>'
            + _lines(by, 100, 266, light, weight="400"))


def _geometric(d: bytes, title: str, authors: str, pal: tuple[str, str, str]) -> str:
    dark, light, accent = pal
    shapes = []
    shape = d[4] % 3
    for row in range(5):
        for col in range(5):
            x, y, on = 20 + col * 40, 20 + row * 32, (d[5 + row] >> col) & 1
            colour = accent if on else light
            if shape == 0:
                shapes.append(f'<circle cx="{x}" cy="{y}" r="{12 if on else 6}" fill="{colour}" opacity="0.9"/>')
            elif shape == 1:
                shapes.append(f'<path d="M{x - 14} {y + 12}L{x} {y - 12}L{x + 14} {y + 12}Z" fill="{colour}" '
                              f'opacity="{0.95 if on else 0.35}"/>')
            else:
                shapes.append(f'<rect x="{x - 12}" y="{y - 12}" width="24" height="24" rx="{6 if on else 12}" '
                              f'fill="{colour}" opacity="{0.95 if on else 0.4}"/>')
    head = fit(title, 164, 4)
    by = _author(authors, 164)
    panel_y = 300 - 40 - head.height - by.height - 24
    return (f'<rect width="200" height="300" fill="{dark}"/>' + "".join(shapes)
            + f'<rect x="10" y="{panel_y:.1f}" width="180" height="{300 - panel_y - 10:.1f}" fill="{light}"/>'
            + _lines(head, 100, panel_y + 12, dark)
            + _lines(by, 100, 300 - 26 - by.height, dark, weight="400"))


def _landscape(d: bytes, title: str, authors: str, pal: tuple[str, str, str]) -> str:
    dark, light, accent = pal
    ridges = []
    for layer in range(3):
        base = 190 + layer * 28
        points = [f"0,{base}"]
        for step in range(1, 8):
            points.append(f"{step * 200 / 7:.0f},{base - (d[8 + layer * 7 + step] % 50):.0f}")
        points += ["200,300", "0,300"]
        ridges.append(f'<polygon points="{" ".join(points)}" fill="{dark}" opacity="{0.45 + layer * 0.25:.2f}"/>')
    head = fit(title, 168, 4)
    sun_x, sun_y = 40 + d[30] % 120, max(head.height + 58, 120 + d[31] % 40)
    by = _author(authors, 168)
    return ('<defs><linearGradient id="sky" x1="0" y1="0" x2="0" y2="1">'
            f'<stop offset="0" stop-color="{dark}"/><stop offset="1" stop-color="{accent}"/></linearGradient></defs>'
            '<rect width="200" height="300" fill="url(#sky)"/>'
            f'<circle cx="{sun_x}" cy="{sun_y}" r="18" fill="{light}" opacity="0.85"/>' + "".join(ridges)
            + f'<rect x="0" y="0" width="200" height="{head.height + 30:.1f}" fill="{dark}" opacity="0.85"/>'
            + _lines(head, 100, 14, light)
            + f'<rect x="0" y="{300 - by.height - 20:.1f}" width="200" height="{by.height + 20:.1f}" fill="{dark}"/>'
            + _lines(by, 100, 300 - by.height - 12, light, weight="400"))


def _framed(d: bytes, title: str, authors: str, pal: tuple[str, str, str]) -> str:
    dark, light, accent = pal
    head = fit(title, 140, 6, sizes=(20, 18, 16, 14, 13, 12))
    by = fit(authors or "", 140, 2, sizes=(13, 12, 11))
    top = 150 - (head.height + 30 + by.height) / 2
    ornament_y = top + head.height + 14
    return (f'<rect width="200" height="300" fill="{light}"/>'
            f'<rect x="10" y="10" width="180" height="280" fill="none" stroke="{dark}" stroke-width="3"/>'
            f'<rect x="18" y="18" width="164" height="264" fill="none" stroke="{dark}" stroke-width="1"/>'
            f'<path d="M100 {26 + d[6] % 4}l8 8-8 8-8-8z" fill="{accent}"/>'
            f'<path d="M100 {258 + d[6] % 4}l8 8-8 8-8-8z" fill="{accent}"/>'
            + _lines(head, 100, top, dark)
            + f'<rect x="70" y="{ornament_y:.1f}" width="60" height="1.5" fill="{dark}"/>'
            + _lines(by, 100, ornament_y + 10, dark, weight="400", style="italic"))


_DRAW: dict[str, Callable[[bytes, str, str, tuple[str, str, str]], str]] = {
    "band": _band, "geometric": _geometric, "landscape": _landscape, "framed": _framed}


def design_for(isbn13: str, genre: str | None = None) -> str:
    """Which design a book gets: mostly by its ISBN, half of the time its genre's lean when it has one."""
    digest = hashlib.sha256(isbn13.encode()).digest()
    lean = _LEANS.get(genre or "")
    if lean is not None and digest[2] % 2 == 0:
        return lean
    return DESIGNS[digest[1] % len(DESIGNS)]


def svg_cover(title: str, authors: str, isbn13: str, genre: str | None = None, design: str | None = None) -> str:
    """The cover as an SVG document (`design` forces one of DESIGNS; tests use it)."""
    digest = hashlib.sha256(isbn13.encode()).digest()
    chosen = design or design_for(isbn13, genre)
    body = _DRAW[chosen](digest, title, authors, PALETTE[digest[0] % len(PALETTE)])
    label = f"Cover of {title}" + (f" by {authors}" if authors else "")
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" '
            f'height="{HEIGHT}" role="img" aria-label={quoteattr(label)} data-design="{chosen}">'
            f'<title>{escape(label)}</title><g font-family="Georgia, \'Times New Roman\', serif">{body}</g></svg>')
