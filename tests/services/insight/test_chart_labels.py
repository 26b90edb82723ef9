"""Chart axes stay readable: the date labels a chart draws never overlap or leave the picture at any period
length (one day to REPORT_MAX_DAYS, daily and monthly buckets), and a chart where nothing happened says so with
distinct value ticks instead of "0 0 0 0". The boxes are computed from the SVG's own <text> elements (position,
anchor, size, rotation) with DejaVu Sans metrics, the font the SVG names first."""
from __future__ import annotations

import math
import random
import re
import xml.etree.ElementTree as ET
from datetime import date, timedelta

import pytest
from matplotlib.font_manager import FontProperties
from matplotlib.textpath import TextToPath

from webapp.services.insight import charts

SVG = "{http://www.w3.org/2000/svg}"
END = date(2026, 11, 20)
_metrics = TextToPath()


def _box(text: ET.Element) -> tuple[float, float, float, float]:
    size = float(text.get("font-size", "10px").rstrip("px"))
    width, height, descent = _metrics.get_text_width_height_descent(text.text or "", FontProperties(
        family="DejaVu Sans", size=size), ismath=False)
    x, y = float(text.get("x")), float(text.get("y"))
    left = {"start": x, "middle": x - width / 2, "end": x - width}[text.get("text-anchor", "start")]
    corners = [(left, y - height + descent), (left + width, y - height + descent), (left, y + descent),
               (left + width, y + descent)]
    angle = re.match(r"rotate\((-?[\d.]+)", text.get("transform", "rotate(0)"))
    theta = math.radians(float(angle.group(1))) if angle else 0.0
    turned = [(x + (cx - x) * math.cos(theta) - (cy - y) * math.sin(theta),
               y + (cx - x) * math.sin(theta) + (cy - y) * math.cos(theta)) for cx, cy in corners]
    xs, ys = [p[0] for p in turned], [p[1] for p in turned]
    return min(xs), min(ys), max(xs), max(ys)


def _texts(svg: str, group: str) -> list[tuple[str, tuple[float, float, float, float]]]:
    root = ET.fromstring(str(svg))
    found = []
    for g in root.iter(f"{SVG}g"):
        if re.fullmatch(rf"{group}_\d+", g.get("id", "")):
            found += [(t.text or "", _box(t)) for t in g.iter(f"{SVG}text")]
    return found


def _all_texts(svg: str) -> list[tuple[str, tuple[float, float, float, float]]]:
    return [(t.text or "", _box(t)) for t in ET.fromstring(str(svg)).iter(f"{SVG}text")]


def _overlap(a, b) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _view_box(svg: str) -> tuple[float, float, float, float]:
    x, y, w, h = (float(v) for v in ET.fromstring(str(svg)).get("viewBox").split())
    return x, y, x + w, y + h


def _points(days: int, unit: str) -> list[date]:
    start = END - timedelta(days=days - 1)
    if unit == "day":
        return [start + timedelta(days=i) for i in range(days)]
    months, at = [], date(start.year, start.month, 1)
    while at <= END:
        months.append(at)
        at = date(at.year + at.month // 12, at.month % 12 + 1, 1)
    return months


def _assert_readable(svg: str, points: int) -> list[str]:
    labels = _texts(svg, "xtick")
    assert 1 <= len(labels) <= max(charts.MAX_TICKS, 1)
    assert len(labels) >= min(points, 2), [t for t, _ in labels]
    boxes = _all_texts(svg)  # tick labels of both axes, the title, an empty-state message
    for n, (text, box) in enumerate(boxes):
        for other, other_box in boxes[n + 1:]:
            assert not _overlap(box, other_box), f"{text!r} overlaps {other!r}"
    left, top, right, bottom = _view_box(svg)
    for text, box in boxes:
        assert left <= box[0] and box[2] <= right and top <= box[1] and box[3] <= bottom, f"{text!r} leaves the chart"
    values = [t for t, _ in _texts(svg, "ytick")]
    assert len(values) == len(set(values)) >= 2, values  # distinct value ticks
    return [t for t, _ in labels]


@pytest.mark.parametrize("unit", ["day", "month"])
@pytest.mark.parametrize("days", [1, 7, 30, 31, 90, 365, 731])
@pytest.mark.parametrize("money", [True, False])
def test_date_labels_never_overlap_nor_leave_the_chart(app, days, unit, money):
    assert days <= app.config["REPORT_MAX_DAYS"]
    points = _points(days, unit)
    rng = random.Random(days)
    for values in ([0] * len(points), [rng.randint(0, 250_000 if money else 40) for _ in points]):
        svg = charts.time_chart(points, {"Revenue": values, "Other": values[::-1]}, unit=unit, title="Revenue",
                                money=money, description="figures in the table")
        shown = _assert_readable(svg, len(points))
        assert svg.startswith('<svg role="img" aria-label="Revenue: figures in the table')
        if days == 731 and unit == "day":
            assert any(re.fullmatch(r"[A-Z][a-z]{2} 20\d\d", label) for label in shown), shown  # abbreviated months


@pytest.mark.parametrize("days", [7, 30, 90])
def test_daily_labels_are_short_dates_in_order(days):
    points = _points(days, "day")
    shown = _texts(charts.time_chart(points, {"Sold": [1] * days}, unit="day", title="Sold"), "xtick")
    xs = [box[0] for _, box in shown]
    assert xs == sorted(xs) and all(re.fullmatch(r"\d{1,2} [A-Z][a-z]{2}( 20\d\d)?|[A-Z][a-z]{2}( 20\d\d)?", t)
                                    for t, _ in shown)


def test_weekly_buckets_are_readable_too():
    weeks = [date(2024, 11, 25) + timedelta(weeks=i) for i in range(105)]
    _assert_readable(charts.time_chart(weeks, {"Orders": list(range(105))}, unit="week", title="Orders"), 105)


@pytest.mark.parametrize("money, ticks", [(True, ["$0", "$1"]), (False, ["0", "1"])])
def test_a_chart_where_nothing_happened_says_so_instead_of_zero_ticks(money, ticks):
    svg = charts.time_chart(_points(30, "day"), {"Revenue": [0] * 30}, unit="day", title="Your revenue",
                            money=money, description="from 22 Oct to 20 Nov", empty="No sales in this period")
    assert [t for t, _ in _texts(svg, "ytick")] == ticks
    assert ">No sales in this period<" in svg
    assert 'aria-label="Your revenue: from 22 Oct to 20 Nov; no sales in this period"' in svg
    bars = charts.bar_chart(["In stock", "Low", "Out"], [0, 0, 0], title="Stock")
    assert [t for t, _ in _texts(bars, "xtick")] == ["0", "1"] and ">Nothing in this period<" in bars


@pytest.mark.parametrize("values, ticks", [
    ([85, 0, 40], ["$0", "$1"]),  # under a dollar: not "$0 $0 $1 $1"
    ([1000, 2500, 0], ["$0", "$5", "$10", "$15", "$20", "$25"]),
    ([0, 123_456_00], ["$0", "$25,000", "$50,000", "$75,000", "$100,000", "$125,000"]),
])
def test_money_ticks_are_whole_distinct_and_round(values, ticks):
    svg = charts.time_chart(_points(len(values), "day"), {"Revenue": values}, unit="day", title="R", money=True)
    assert [t for t, _ in _texts(svg, "ytick")] == ticks


def test_count_ticks_are_whole_numbers():
    svg = charts.time_chart(_points(3, "day"), {"Sold": [1, 3, 2]}, unit="day", title="Sold")
    assert [t for t, _ in _texts(svg, "ytick")] == ["0", "1", "2", "3"]


def test_unknown_unit_is_refused():
    with pytest.raises(ValueError):
        charts.time_chart([END], {"A": [1]}, unit="hour", title="A")
