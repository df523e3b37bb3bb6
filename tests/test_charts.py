"""SVG bar charts: well-formed, accessible, proportional to the amounts, safe with any label."""
from __future__ import annotations

import xml.etree.ElementTree as ET
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st
from markupsafe import Markup

from generator.charts import LABEL_SIZE, WIDTH, Bar, bar_chart, bar_lengths, fit, text_width

SVG = "{http://www.w3.org/2000/svg}"


def chart(amounts, labels=None, **kw):
    labels = labels or [f"第{i}项" for i in range(len(amounts))]
    bars = [Bar(label, Decimal(a), f"{a}元") for label, a in zip(labels, amounts)]
    return ET.fromstring(str(bar_chart(bars, chart_id=kw.get("chart_id", "c"), title=kw.get("title", "按年度"), desc="说明")))


def widths(root) -> list[Decimal]:
    return [Decimal(rect.get("width")) for rect in root.iter(SVG + "rect")]


def test_chart_is_well_formed_and_labelled_by_its_title_and_desc():
    root = chart(["60000", "20000"], chart_id="chart-year")
    assert root.tag == SVG + "svg"
    assert root.get("role") == "img"
    ids = root.get("aria-labelledby").split()
    assert [root.find(SVG + "title").get("id"), root.find(SVG + "desc").get("id")] == ids == ["chart-year-t", "chart-year-d"]
    assert root.find(SVG + "title").text == "按年度"
    assert root.find(SVG + "desc").text == "说明"


def test_bar_lengths_are_proportional_to_the_amounts():
    amounts = ["443665000", "12345.67", "0.01", "0", "221832500"]
    root = chart(amounts)
    lengths = widths(root)
    longest = max(lengths)
    for amount, length in zip(amounts, lengths):
        exact = Decimal(amount) * longest / Decimal("443665000")
        assert abs(length - exact) <= Decimal("0.005"), (amount, length, exact)
    assert lengths[4] * 2 == lengths[0]  # half the amount, half the bar, to the hundredth


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=10**12), min_size=1, max_size=12), st.integers(min_value=1, max_value=320))
def test_bar_lengths_property(fens, longest):
    amounts = [Decimal(f) / 100 for f in fens]
    lengths = bar_lengths(amounts, Decimal(longest))
    largest = max(amounts)
    for amount, length in zip(amounts, lengths):
        assert 0 <= length <= longest
        if largest:
            assert abs(length - amount * longest / largest) <= Decimal("0.005")
            assert length.as_tuple().exponent >= -2
        else:
            assert length == 0


def test_every_bar_carries_its_label_and_amount_as_text():
    # Nothing is told by colour: each bar has a label line and its amount written at its end.
    root = chart(["300", "200", "100"], labels=["甲", "乙", "丙"])
    texts = [t.text for t in root.iter(SVG + "text")]
    assert texts == ["甲", "300元", "乙", "200元", "丙", "100元"]
    assert len(list(root.iter(SVG + "rect"))) == 3
    amounts_x = [Decimal(t.get("x")) for t in root.iter(SVG + "text") if t.text.endswith("元")]
    assert all(x == width + 4 for x, width in zip(amounts_x, widths(root)))


def test_text_stays_inside_the_chart():
    labels = ["中央财政衔接推进乡村振兴补助资金（以工代赈）和省级配套资金及县级整合涉农资金", "短"]
    root = chart(["443665000.01", "5"], labels=labels)
    for element in root.iter(SVG + "text"):
        size = int(element.get("font-size", LABEL_SIZE))
        assert Decimal(element.get("x")) + text_width(element.text, size) <= WIDTH, element.text
    first = next(root.iter(SVG + "text")).text
    assert first.endswith("…") and labels[0].startswith(first[:-1])


def test_labels_are_escaped():
    root = chart(["1"], labels=['<b>A&B</b> "x"'], title="<script>")
    assert next(root.iter(SVG + "text")).text == '<b>A&B</b> "x"'
    assert root.find(SVG + "title").text == "<script>"


def test_an_empty_chart_is_still_valid():
    root = chart([])
    assert list(root.iter(SVG + "rect")) == []
    assert root.get("viewBox") == f"0 0 {WIDTH} 4"


def test_fit_keeps_short_text_and_shortens_long_text():
    assert fit("2024年", 14, 320) == "2024年"
    shortened = fit("资" * 40, 14, 320)
    assert shortened.endswith("…") and text_width(shortened, 14) <= 320 < text_width(shortened[:-1] + "资…", 14)


def _chart_through_markup_format(bars, *, chart_id, title, desc):
    """The chart as it was written with Markup.format (every field escaped by it): the oracle
    for the f-string version, which must give the same text."""
    import unicodedata
    from decimal import ROUND_CEILING

    from markupsafe import Markup

    from generator import charts as c

    def width(text, size):  # a sum of Decimals per character, as text_width once was (from 0: "" is 0)
        return sum((Decimal(1) if unicodedata.east_asian_width(ch) in "WF" else Decimal("0.62") for ch in text), Decimal(0)) * size

    amount_room = max((width(bar.amount_text, c.AMOUNT_SIZE) for bar in bars), default=Decimal(0))
    longest = Decimal(c.WIDTH) - c.GAP - amount_room.to_integral_value(rounding=ROUND_CEILING)
    lengths = c.bar_lengths([bar.amount for bar in bars], max(longest, Decimal(0)))
    rects, texts = [], []
    for index, (bar, length) in enumerate(zip(bars, lengths)):
        top = c.ROW * index
        texts.append(Markup('<text x="0" y="{}">{}</text>').format(top + c.LABEL_SIZE + 1, c.fit(bar.label, c.LABEL_SIZE, c.WIDTH)))
        rects.append(Markup('<rect x="0" y="{}" width="{}" height="{}"/>').format(top + c.BAR_TOP, c.number(length), c.BAR_HEIGHT))
        texts.append(Markup('<text x="{}" y="{}" font-size="{}">{}</text>').format(
            c.number(length + c.GAP), top + c.BAR_TOP + c.BAR_HEIGHT - 2, c.AMOUNT_SIZE, bar.amount_text))
    return Markup(
        '<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {w} {h}" width="{w}" height="{h}" '
        'role="img" aria-labelledby="{id}-t {id}-d">'
        '<title id="{id}-t">{title}</title><desc id="{id}-d">{desc}</desc>'
        '<g fill="{fill}">{rects}</g><g font-size="{size}" fill="currentColor">{texts}</g></svg>'
    ).format(
        w=c.WIDTH, h=c.ROW * len(bars) + 4, id=chart_id, title=title, desc=desc, fill=c.BAR_FILL, size=c.LABEL_SIZE,
        rects=Markup("").join(rects), texts=Markup("").join(texts),
    )


_TEXT = st.text(alphabet="村项目资金<>&\"'ab 1２－…", max_size=40)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(_TEXT, st.integers(0, 10**12), _TEXT), max_size=6),
    st.text(alphabet="ab-<\"&", min_size=1, max_size=8), _TEXT, _TEXT,
)
def test_chart_text_is_what_markup_format_made(rows, chart_id, title, desc):
    bars = [Bar(label, Decimal(fen) / 100, amount) for label, fen, amount in rows]
    made = bar_chart(bars, chart_id=chart_id, title=title, desc=desc)
    assert isinstance(made, Markup)
    assert str(made) == str(_chart_through_markup_format(bars, chart_id=chart_id, title=title, desc=desc))
