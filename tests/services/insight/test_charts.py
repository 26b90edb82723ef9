"""Server-drawn SVG charts: labelled for assistive technology, deterministic, and user text escaped."""
from datetime import date

from webapp.services.insight import charts

NOV = [date(2026, 11, 1), date(2026, 11, 2), date(2026, 11, 3)]


def test_line_chart_is_inline_accessible_svg():
    svg = charts.time_chart(NOV, {"Revenue": [1000, 2500, 0]}, unit="day", title="Revenue", money=True,
                            description="daily revenue, 1 to 3 November")
    assert svg.startswith('<svg role="img" aria-label="Revenue: daily revenue, 1 to 3 November"')
    assert "<?xml" not in svg and 'width="100%"' in svg
    assert ">$25<" in svg and ">$2,500<" not in svg  # money axis in dollars, from cents
    assert ">1 Nov<" in svg and ">3 Nov<" in svg
    assert svg == charts.time_chart(NOV, {"Revenue": [1000, 2500, 0]}, unit="day", title="Revenue",
                                    money=True, description="daily revenue, 1 to 3 November")


def test_bar_chart_escapes_book_titles():
    svg = charts.bar_chart(["<script>alert(1)</script>", "Plain"], [3, 1], title="Best <sellers>")
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    assert 'aria-label="Best &lt;sellers&gt;: 2 bars"' in svg


def test_charts_carry_no_inline_css_so_the_content_security_policy_keeps_them_styled():
    svg = charts.time_chart(NOV[:2], {"Sold": [1, 2], "Rented": [2, 1]}, unit="day", title="Copies")
    assert "style=" not in svg and "<style" not in svg
    assert 'stroke="#1d4ed8"' in svg and 'stroke="#b45309"' in svg  # both series keep their colours
    assert 'fill="none"' in svg  # lines are not filled black


def test_money_axis_is_in_the_shops_currency(app, monkeypatch):
    monkeypatch.setitem(app.config, "CURRENCY", "eur")
    svg = charts.bar_chart(["A", "B"], [250000, 100000], title="Revenue", money=True)
    assert ">€2,500<" in svg and "$" not in svg  # ticks every €500, from cents
