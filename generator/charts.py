"""Bar charts drawn at build time as inline SVG: no JavaScript, no library in the browser.

The charts are horizontal bars, one row per bar: the label on its own line (long Chinese
names of fund sources fit a 360 px phone that way), then the bar with its amount at its
end. Bar lengths are exactly proportional to the amounts: computed with Decimal, the
largest bar spans the room left after the widest amount, and each length is rounded to two
decimals only when written. Bars are a dark solid fill and every bar carries its label and
amount as text, so nothing depends on colour and the charts print in black and white.

Data reaches the SVG only through `Markup.format`, which escapes it.
"""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal
from typing import Sequence

from markupsafe import Markup

WIDTH = 320  # viewBox units: about one CSS pixel each on a 360 px phone
LABEL_SIZE = 16  # text at least 16 px on a 360 px phone (docs/quality.md)
AMOUNT_SIZE = 16
BAR_TOP = LABEL_SIZE + 6  # the bar's top, below its label line
BAR_HEIGHT = 16
ROW = BAR_TOP + BAR_HEIGHT + 8  # a label line and a bar line
GAP = 4  # between a bar's end and its amount
BAR_FILL = "#24466b"  # dark: prints as near-black on a grey-scale printer
HUNDREDTH = Decimal("0.01")


@dataclass(frozen=True)
class Bar:
    label: str
    amount: Decimal
    amount_text: str  # what is written at the bar's end, e.g. 6万元


def text_width(text: str, size: int) -> Decimal:
    """A safe estimate of the width of `text`: wide (CJK, full-width) characters are 1 em."""
    ems = sum(Decimal(1) if unicodedata.east_asian_width(ch) in "WF" else Decimal("0.62") for ch in text)
    return ems * size


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
        texts.append(Markup('<text x="0" y="{}">{}</text>').format(top + LABEL_SIZE + 1, fit(bar.label, LABEL_SIZE, WIDTH)))
        rects.append(Markup('<rect x="0" y="{}" width="{}" height="{}"/>').format(top + BAR_TOP, number(length), BAR_HEIGHT))
        texts.append(Markup('<text x="{}" y="{}" font-size="{}">{}</text>').format(
            number(length + GAP), top + BAR_TOP + BAR_HEIGHT - 2, AMOUNT_SIZE, bar.amount_text))
    return Markup(
        '<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {w} {h}" width="{w}" height="{h}" '
        'role="img" aria-labelledby="{id}-t {id}-d">'
        '<title id="{id}-t">{title}</title><desc id="{id}-d">{desc}</desc>'
        '<g fill="{fill}">{rects}</g><g font-size="{size}" fill="currentColor">{texts}</g></svg>'
    ).format(
        w=WIDTH, h=height, id=chart_id, title=title, desc=desc, fill=BAR_FILL, size=LABEL_SIZE,
        rects=Markup("").join(rects), texts=Markup("").join(texts),
    )
