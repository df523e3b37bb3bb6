"""Bar charts drawn at build time as inline SVG: no JavaScript, no library in the browser.

The charts are horizontal bars, one row per bar: the label on its own line (long Chinese
names of fund sources fit a 360 px phone that way), then the bar with its amount at its
end. Bar lengths are exactly proportional to the amounts: computed with Decimal, the
largest bar spans the room left after the widest amount, and each length is rounded to two
decimals only when written. Bars are a dark solid fill and every bar carries its label and
amount as text, so nothing depends on colour and the charts print in black and white.

Every piece of data in the SVG goes through markupsafe's `escape` (as `Markup.format` would
escape it, in a fifth of the time).
"""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal
from typing import Sequence

from markupsafe import Markup, escape

WIDTH = 320  # viewBox units: about one CSS pixel each on a 360 px phone
LABEL_SIZE = 16  # text at least 16 px on a 360 px phone (docs/quality.md)
AMOUNT_SIZE = 16
BAR_TOP = LABEL_SIZE + 6  # the bar's top, below its label line
BAR_HEIGHT = 16
ROW = BAR_TOP + BAR_HEIGHT + 8  # a label line and a bar line
GAP = 4  # between a bar's end and its amount
BAR_FILL = "#24466b"  # dark: prints as near-black on a grey-scale printer
HUNDREDTH = Decimal("0.01")
NARROW_EM = Decimal("0.62")  # the width of a narrow character, in ems


@dataclass(frozen=True)
class Bar:
    label: str
    amount: Decimal
    amount_text: str  # what is written at the bar's end, e.g. 6万元


def text_width(text: str, size: int) -> Decimal:
    """A safe estimate of the width of `text`: wide (CJK, full-width) characters are 1 em."""
    wide = sum(1 for ch in text if unicodedata.east_asian_width(ch) in "WF")
    return (wide + NARROW_EM * (len(text) - wide)) * size


def fit(text: str, size: int, room: int) -> str:
    """`text`, shortened with an ellipsis if it would run past `room` (the table has it in full)."""
    if text_width(text, size) <= room:
        return text
    while text and text_width(text + "…", size) > room:
        text = text[:-1]
    return text + "…"


def bar_lengths(amounts: Sequence[Decimal], longest: Decimal) -> list[Decimal]:
    """Lengths proportional to `amounts`, the largest one `longest`, to the hundredth."""
    largest = max(amounts, default=Decimal(0))
    if largest <= 0:
        return [Decimal(0) for _ in amounts]
    return [(amount * longest / largest).quantize(HUNDREDTH, rounding=ROUND_HALF_UP) for amount in amounts]


def number(value: Decimal) -> str:
    """SVG number text: `153.33`, `230` (no trailing zeros, no exponent)."""
    text = f"{value.quantize(HUNDREDTH, rounding=ROUND_HALF_UP):f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def bar_chart(bars: Sequence[Bar], *, chart_id: str, title: str, desc: str) -> Markup:
    """An accessible SVG (role=img, labelled by its <title> and <desc>) of horizontal bars."""
    amount_room = max((text_width(bar.amount_text, AMOUNT_SIZE) for bar in bars), default=Decimal(0))
    longest = Decimal(WIDTH) - GAP - amount_room.to_integral_value(rounding=ROUND_CEILING)
    lengths = bar_lengths([bar.amount for bar in bars], max(longest, Decimal(0)))
    height = ROW * len(bars) + 4
    rects, texts = [], []
    for index, (bar, length) in enumerate(zip(bars, lengths)):
        top = ROW * index
        texts.append(f'<text x="0" y="{top + LABEL_SIZE + 1}">{escape(fit(bar.label, LABEL_SIZE, WIDTH))}</text>')
        rects.append(f'<rect x="0" y="{top + BAR_TOP}" width="{number(length)}" height="{BAR_HEIGHT}"/>')
        texts.append(f'<text x="{number(length + GAP)}" y="{top + BAR_TOP + BAR_HEIGHT - 2}" font-size="{AMOUNT_SIZE}">'
                     f'{escape(bar.amount_text)}</text>')
    chart_id = escape(chart_id)
    return Markup(
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" '
        f'role="img" aria-labelledby="{chart_id}-t {chart_id}-d">'
        f'<title id="{chart_id}-t">{escape(title)}</title><desc id="{chart_id}-d">{escape(desc)}</desc>'
        f'<g fill="{BAR_FILL}">{"".join(rects)}</g><g font-size="{LABEL_SIZE}" fill="currentColor">{"".join(texts)}</g></svg>'
    )
