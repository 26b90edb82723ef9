"""Generated covers: every design is valid SVG with the title and author legible inside the 2:3 box."""
import xml.etree.ElementTree as ET

import pytest

from webapp.services.catalog import covers

SVG = "{http://www.w3.org/2000/svg}"


def _texts(svg: str) -> list[ET.Element]:
    return list(ET.fromstring(svg).iter(f"{SVG}text"))


@pytest.mark.parametrize("design", covers.DESIGNS)
def test_each_design_is_valid_svg_with_title_and_author(design):
    svg = covers.svg_cover("The Salt Orchard", "Mira Okafor", "9780000000001", design=design)
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg" and root.get("viewBox") == "0 0 200 300" and root.get("data-design") == design
    assert root.get("role") == "img" and root.get("aria-label") == "Cover of The Salt Orchard by Mira Okafor"
    words = " ".join(t.text or "" for t in _texts(svg))
    assert "The Salt" in words and "Orchard" in words and "Mira Okafor" in words


@pytest.mark.parametrize("design", covers.DESIGNS)
def test_hostile_titles_and_authors_are_escaped(design):
    svg = covers.svg_cover('<script>alert("x")</script> & Co', 'A & B "<img onerror>"', "9780000000002",
                           design=design)
    assert "<script" not in svg and "<img" not in svg
    root = ET.fromstring(svg)  # still well-formed
    assert not list(root.iter(f"{SVG}script"))
    assert "&amp;" in svg and root.get("aria-label").startswith('Cover of <script>alert("x")</script> & Co')


@pytest.mark.parametrize("design", covers.DESIGNS)
@pytest.mark.parametrize("title", [
    "A Field Guide to Quiet Rivers and the Long Roads Between Them, with Maps, Recipes and Several Digressions",
    "Supercalifragilisticexpialidociousnessitudeandthensomemore",
    "x " * 200,
])
def test_long_titles_wrap_inside_the_box(design, title):
    svg = covers.svg_cover(title, "Jonathan R. Whitfield-Harrington and Ottoline Marchbanks", "9780000000003",
                           design=design)
    texts = _texts(svg)
    assert len(texts) >= 2
    for t in texts:
        size, y = float(t.get("font-size")), float(t.get("y"))
        assert 0 < y - size and y <= 300, (t.text, y)
        # what a line can take at its size: a serif face's characters average well under 0.6 em
        assert len(t.text) * size * 0.56 <= 180, t.text


def test_the_design_is_deterministic_and_all_four_are_used():
    chosen = [covers.design_for(f"97800000{n:05d}") for n in range(200)]
    assert chosen == [covers.design_for(f"97800000{n:05d}") for n in range(200)]
    assert set(chosen) == set(covers.DESIGNS)
    svg = covers.svg_cover("Same", "Same", "9780000000004")
    assert svg == covers.svg_cover("Same", "Same", "9780000000004")


def test_fit_shrinks_then_ellipsizes():
    short = covers.fit("Short", 168, 4)
    assert short.size == 22 and short.lines == ["Short"]
    long = covers.fit("word " * 100, 168, 3)
    assert len(long.lines) == 3 and long.lines[-1].endswith("…") and long.size == 13
