"""Charts as inline SVG, drawn by matplotlib on the server (no JavaScript, no CDN, works offline).

Every chart comes with a text title and an accessible description; the figures are also shown in a table
or offered as CSV next to it, so nobody depends on reading the picture.
"""
from __future__ import annotations

import io
import re
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

from markupsafe import Markup

from ..platform.money import money as format_money  # `money=` is the charts' flag for money axes

if TYPE_CHECKING:
    from matplotlib.figure import Figure

_LOCK = threading.Lock()  # pyplot keeps global state: one figure at a time per process
INK = "#1f2933"
ACCENT = "#1d4ed8"
SECOND = "#b45309"
GRID = "#d9dee5"
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


def line_chart(labels: Sequence[str], series: dict[str, Sequence[float]], *, title: str, money: bool = False,
               description: str = "", height: float = 2.6, width: float = 7.0) -> Markup:
    """One or two lines over time (labels are the x positions, e.g. dates). Money series are in cents."""
    with _LOCK:
        _matplotlib()
        import matplotlib.pyplot as plt
        from matplotlib.ticker import FuncFormatter, MaxNLocator

        fig, ax = plt.subplots(figsize=(width, height))
        colours = [ACCENT, SECOND, "#047857", "#7c3aed"]
        x = range(len(labels))
        for (name, values), colour in zip(series.items(), colours, strict=False):
            ax.plot(x, list(values), color=colour, linewidth=2, label=name, marker="o" if len(labels) <= 31 else None,
                    markersize=3)
        ax.set_title(title, loc="left", color=INK, fontsize=11)
        ax.yaxis.set_major_formatter(FuncFormatter(_money_axis if money else _count_axis))
        ax.yaxis.set_major_locator(MaxNLocator(nbins=5, integer=not money))
        ax.set_ylim(bottom=0)
        step = max(1, len(labels) // 8)
        ax.set_xticks(list(x)[::step], [labels[i] for i in range(0, len(labels), step)], rotation=0)
        ax.grid(axis="y", color=GRID, linewidth=0.8)
        if len(series) > 1:
            ax.legend(frameon=False, loc="upper left")
        return _finish(fig, title, description or f"{len(labels)} points")


def bar_chart(labels: Sequence[str], values: Sequence[float], *, title: str, money: bool = False,
              description: str = "", horizontal: bool = True, width: float = 7.0) -> Markup:
    """Ranked bars (best sellers, genres): horizontal by default so long titles stay readable."""
    labels = [label if len(label) <= 40 else label[:39] + "…" for label in labels]
    with _LOCK:
        _matplotlib()
        import matplotlib.pyplot as plt
        from matplotlib.ticker import FuncFormatter, MaxNLocator

        height = max(1.6, 0.32 * len(labels) + 0.8) if horizontal else 2.8
        fig, ax = plt.subplots(figsize=(width, height))
        formatter = FuncFormatter(_money_axis if money else _count_axis)
        if horizontal:
            positions = range(len(labels))[::-1]
            ax.barh(list(positions), list(values), color=ACCENT)
            ax.set_yticks(list(positions), labels)
            ax.xaxis.set_major_formatter(formatter)
            ax.xaxis.set_major_locator(MaxNLocator(nbins=5, integer=not money))
            ax.grid(axis="x", color=GRID, linewidth=0.8)
        else:
            ax.bar(range(len(labels)), list(values), color=ACCENT)
            ax.set_xticks(range(len(labels)), labels, rotation=30, ha="right")
            ax.yaxis.set_major_formatter(formatter)
            ax.grid(axis="y", color=GRID, linewidth=0.8)
        ax.set_axisbelow(True)
        ax.set_title(title, loc="left", color=INK, fontsize=11)
        return _finish(fig, title, description or f"{len(labels)} bars")
