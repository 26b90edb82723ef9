"""Charts as inline SVG, drawn by matplotlib on the server (no JavaScript, no CDN, works offline).

Every chart comes with a text title and an accessible description; the figures are also shown in a table
or offered as CSV next to it, so nobody depends on reading the picture.

Axes stay readable whatever the figures: value ticks are whole units ($1, 1 copy) so no two read the same, a
chart where nothing happened says so instead of drawing "0 0 0 0", and the labels along the time axis are
chosen here (`time_chart`) by measuring them: the densest of a few natural tick sets (every day, week or two
weeks, month, quarter, year) whose labels do not touch, at any period length.
"""
from __future__ import annotations

import io
import math
import re
import threading
from collections.abc import Iterable, Sequence
from datetime import date
from typing import TYPE_CHECKING

from markupsafe import Markup

from ..platform.money import money as format_money  # `money=` is the charts' flag for money axes

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

_LOCK = threading.Lock()  # pyplot keeps global state: one figure at a time per process
INK = "#1f2933"
ACCENT = "#1d4ed8"
SECOND = "#b45309"
GRID = "#d9dee5"
TICK_SIZE = 10  # points, the tick labels' font size (measured below at this size)
MAX_TICKS = 8  # at most this many date labels: fewer read better than many that just fit
EMPTY = "Nothing in this period"
UNITS = ("day", "week", "month")
_ready = False


def _matplotlib() -> None:
    """Import and set up matplotlib on the first chart (call with _LOCK held), not when the module is imported:
    matplotlib and numpy are ~60 MB that a web worker serving the shop never needs, so only the admin and
    report paths pay for them (tests/test_lazy_imports.py keeps it so)."""
    global _ready
    if not _ready:
        import matplotlib

        matplotlib.use("Agg")  # no display; must precede pyplot
        matplotlib.rcParams.update({
            "svg.fonttype": "none",  # text stays text (smaller, searchable, scales)
            "text.parse_math": False,  # "$5 to $10" in a title is text, not TeX
            "svg.hashsalt": "folio",  # deterministic ids: same data, same SVG
            "font.size": 10,
            "axes.edgecolor": GRID,
            "axes.labelcolor": INK,
            "xtick.color": INK,
            "ytick.color": INK,
            "axes.spines.top": False,
            "axes.spines.right": False,
        })
        _ready = True


def _money_axis(value: float, _pos: int | None) -> str:
    """An axis tick in cents, as whole units of the shop's currency ("$1,235")."""
    return format_money(round(value), whole=True)


def _count_axis(value: float, _pos: int | None) -> str:
    return f"{value:,.0f}"


def _finish(fig: Figure, title: str, description: str) -> Markup:
    """The figure as inline SVG markup. Text in it (titles, book names) was escaped by matplotlib's SVG
    writer, so it is marked safe here once and templates never need |safe."""
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None, "Creator": None})
    import matplotlib.pyplot as plt  # loaded by _matplotlib() before any figure exists

    plt.close(fig)
    svg = buffer.getvalue()
    svg = svg[svg.index("<svg"):]  # drop the XML prolog and doctype: this is inlined in HTML
    svg = _without_css(svg)
    safe_title = _xml(title)
    # A labelled image for assistive technology; the figures themselves are in the table beside it.
    svg = svg.replace("<svg ", f'<svg role="img" aria-label="{safe_title}: {_xml(description)}" ', 1)
    svg = re.sub(r'\swidth="[\d.]+pt"\s+height="[\d.]+pt"', ' width="100%"', svg, count=1)
    return Markup(svg)


_STYLE_ATTR = re.compile(r'\sstyle="([^"]*)"')
_STYLE_ELEMENT = re.compile(r"<style[^>]*>.*?</style>", re.S)


def _presentation(match: re.Match[str]) -> str:
    """style="fill: #fff; stroke-width: 2" -> fill="#fff" stroke-width="2" (SVG presentation attributes)."""
    attributes = []
    for declaration in match.group(1).split(";"):
        name, _, value = declaration.partition(":")
        name, value = name.strip(), value.strip()
        if name and value and re.fullmatch(r"[a-z-]+", name):
            attributes.append(f' {name}="{_xml(value)}"')
    return "".join(attributes)


def _without_css(svg: str) -> str:
    """The site's Content-Security-Policy (style-src 'self') blocks inline style attributes and <style>
    elements, so matplotlib's styling is rewritten as presentation attributes, which CSP allows."""
    svg = _STYLE_ELEMENT.sub("", svg)
    svg = _STYLE_ATTR.sub(_presentation, svg)
    # what the removed <style> said for every element, as inherited attributes on the root
    return svg.replace("<svg ", '<svg stroke-linejoin="round" stroke-linecap="butt" ', 1)


def _xml(text: str) -> str:
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;"))


def time_chart(points: Sequence[date], series: dict[str, Sequence[float]], *, unit: str, title: str,
               money: bool = False, description: str = "", height: float = 2.6, width: float = 7.0,
               empty: str = EMPTY) -> Markup:
    """Lines over time: `points` are the first days of the day, week or month (`unit`) buckets. The date labels
    are made here, abbreviated, and thinned until none touches another, from one day to REPORT_MAX_DAYS."""
    if unit not in UNITS:
        raise ValueError(f"unit must be one of {UNITS}")
    return _line(len(points), date_ticks(points, unit), series, title=title, money=money, description=description,
                 height=height, width=width, empty=empty)


Ticks = list[tuple[int, str]]  # (position, label)


def date_ticks(points: Sequence[date], unit: str) -> list[Ticks]:
    """Candidate tick sets for these bucket starts, densest first: every k days or weeks ("3 Mar"), the first
    bucket of every month, 2nd, 3rd or 6th month ("Mar", with the year on the first and on January), of every
    year ("2026"); the last, a lone first label, always fits."""
    sets: list[Ticks] = []
    if unit != "month":
        for k in ((1, 2, 7, 14) if unit == "day" else (1, 2, 4)):
            sets.append([(i, f"{points[i].day} {points[i]:%b}") for i in range(0, len(points), k)])
    month_starts = [i for i in range(len(points))
                    if (i == 0 and (unit == "month" or points[0].day <= (1 if unit == "day" else 7)))
                    or (i > 0 and points[i].month != points[i - 1].month)]
    for every in (1, 2, 3, 6):
        picked = [i for i in month_starts if (points[i].month - 1) % every == 0]
        sets.append([(i, f"{points[i]:%b %Y}" if n == 0 or points[i].month == 1 else f"{points[i]:%b}")
                     for n, i in enumerate(picked)])
    sets.append([(i, f"{points[i].year}") for i in month_starts if points[i].month == 1 or i == 0])
    if points:
        sets.append([(0, f"{points[0].day} {points[0]:%b %Y}" if unit != "month" else f"{points[0]:%b %Y}")])
    return [ticks for ticks in sets if ticks]


def _line(count: int, candidates: list[Ticks], series: dict[str, Sequence[float]], *, title: str, money: bool,
          description: str, height: float, width: float, empty: str) -> Markup:
    with _LOCK:
        _matplotlib()
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(width, height))
        colours = [ACCENT, SECOND, "#047857", "#7c3aed"]
        x = range(count)
        for (name, values), colour in zip(series.items(), colours, strict=False):
            ax.plot(x, list(values), color=colour, linewidth=2, label=name, marker="o" if count <= 31 else None,
                    markersize=3)
        ax.set_title(title, loc="left", color=INK, fontsize=11)
        nothing = _value_axis(ax, "y", [v for values in series.values() for v in values], money)
        ax.set_xlim(-0.5, max(count, 1) - 0.5)
        ticks = _fitting(fig, ax, candidates)
        ax.set_xticks([i for i, _ in ticks], [label for _, label in ticks], rotation=0)
        ax.tick_params(labelsize=TICK_SIZE)
        ax.grid(axis="y", color=GRID, linewidth=0.8)
        if nothing:
            _say_empty(ax, empty)
        elif len(series) > 1:
            ax.legend(frameon=False, loc="upper left")
        about = description or f"{count} points"
        return _finish(fig, title, f"{about}; {empty.lower()}" if nothing else about)


def _fitting(fig: Figure, ax: Axes, candidates: list[Ticks]) -> Ticks:
    """The densest candidate of at most MAX_TICKS labels whose boxes, measured at TICK_SIZE, keep a gap of
    most of a character between neighbours (so a browser's slightly wider font still fits); else the sparsest."""
    from matplotlib.font_manager import FontProperties

    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]  # Agg canvas
    font = FontProperties(size=TICK_SIZE)
    gap = TICK_SIZE * fig.dpi / 72 * 0.8
    widths: dict[str, float] = {}

    def width(label: str) -> float:
        if label not in widths:
            widths[label] = renderer.get_text_width_height_descent(label, font, ismath=False)[0] * 1.1
        return widths[label]

    for ticks in candidates:
        if len(ticks) > MAX_TICKS and ticks is not candidates[-1]:
            continue
        at = [float(ax.transData.transform((i, 0))[0]) for i, _ in ticks]
        if all(at[n + 1] - at[n] >= (width(ticks[n][1]) + width(ticks[n + 1][1])) / 2 + gap
               for n in range(len(ticks) - 1)):
            return ticks
    return candidates[-1] if candidates else []


def _value_axis(ax: Axes, which: str, values: Iterable[float], money: bool) -> bool:
    """Ticks in whole units (cents for money: whole dollars), so no two read alike: 0 to a round top in at most
    about five steps. True when every value is zero (the axis then reads 0 to 1 unit and the chart says so)."""
    from matplotlib.ticker import FixedLocator, FuncFormatter

    unit = 100 if money else 1
    listed = list(values)
    top, bottom = max([0, *listed]), min([0, *listed])
    nothing = top == bottom == 0
    step = unit if nothing else _nice_step((top - bottom) / unit / 5) * unit
    low, high = math.floor(bottom / step) * step, max(math.ceil(top / step) * step, step)
    ticks = [low + n * step for n in range(round((high - low) / step) + 1)]
    axis = ax.yaxis if which == "y" else ax.xaxis
    axis.set_major_locator(FixedLocator(ticks))
    axis.set_major_formatter(FuncFormatter(_money_axis if money else _count_axis))
    (ax.set_ylim if which == "y" else ax.set_xlim)(low, high)
    return nothing


def _nice_step(raw: float) -> int:
    """The smallest whole 1, 2, 2.5 or 5 times a power of ten at least `raw` (at least 1)."""
    if raw <= 1:
        return 1
    power = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 2.5, 5, 10):
        step = factor * power
        if step >= raw and step == int(step):
            return int(step)
    return int(10 * power)


def _say_empty(ax: Axes, message: str) -> None:
    ax.text(0.5, 0.5, message, transform=ax.transAxes, ha="center", va="center", color=INK, fontsize=11)


def bar_chart(labels: Sequence[str], values: Sequence[float], *, title: str, money: bool = False,
              description: str = "", horizontal: bool = True, width: float = 7.0, empty: str = EMPTY) -> Markup:
    """Ranked bars (best sellers, genres): horizontal by default so long titles stay readable."""
    labels = [label if len(label) <= 40 else label[:39] + "…" for label in labels]
    with _LOCK:
        _matplotlib()
        import matplotlib.pyplot as plt

        height = max(1.6, 0.32 * len(labels) + 0.8) if horizontal else 2.8
        fig, ax = plt.subplots(figsize=(width, height))
        if horizontal:
            positions = range(len(labels))[::-1]
            ax.barh(list(positions), list(values), color=ACCENT)
            ax.set_yticks(list(positions), labels)
            nothing = _value_axis(ax, "x", values, money)
            ax.grid(axis="x", color=GRID, linewidth=0.8)
        else:
            ax.bar(range(len(labels)), list(values), color=ACCENT)
            ax.set_xticks(range(len(labels)), labels, rotation=30, ha="right")
            nothing = _value_axis(ax, "y", values, money)
            ax.grid(axis="y", color=GRID, linewidth=0.8)
        ax.set_axisbelow(True)
        ax.set_title(title, loc="left", color=INK, fontsize=11)
        if nothing:
            _say_empty(ax, empty)
        about = description or f"{len(labels)} bars"
        return _finish(fig, title, f"{about}; {empty.lower()}" if nothing else about)
