"""Amounts of money: parsed into `Decimal` yuan, shown in 元 or 万元.

Clerks write amounts the way they appear on paper: `60000`, `60000.50`, `"60,000元"`,
`"6万元"`, `"44366.5万元"`. Floats never touch money: YAML numbers are re-read from their
text, so `0.1` stays exactly one jiao.
"""
from __future__ import annotations

import re
import unicodedata
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

_AMOUNT = re.compile(r"^\s*(?P<num>[+-]?[0-9][0-9,，]*(?:\.[0-9]+)?)\s*(?P<unit>万元|万|元)?\s*$")
FEN = Decimal("0.01")
WAN = Decimal(10000)


class AmountError(ValueError):
    pass


def parse_amount(value) -> Decimal:
    """Yuan as an exact Decimal, from a YAML int/float/str. Raises AmountError in plain words."""
    if isinstance(value, bool) or value is None:
        raise AmountError("is not an amount of money")
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        # repr() gives the shortest text that reads back as this float: the clerk's digits.
        text = repr(value)
    else:
        text = str(value)
    # Full-width digits and commas from a Chinese input method mean the same amount.
    match = _AMOUNT.match(unicodedata.normalize("NFKC", text))
    if not match:
        raise AmountError(f"{text!r} is not an amount of money (write e.g. 60000, \"6万元\" or \"60,000元\")")
    digits = match["num"].replace(",", "").replace("，", "")
    try:
        amount = Decimal(digits)
    except InvalidOperation:  # pragma: no cover - the pattern only admits numbers
        raise AmountError(f"{text!r} is not an amount of money") from None
    if match["unit"] in ("万元", "万"):
        amount *= WAN
    if amount != amount.quantize(FEN):
        raise AmountError(f"{text!r} has fractions of a fen")
    return amount


def normalize(amount: Decimal) -> Decimal:
    """Whole yuan without a fraction (`2000`), otherwise to the fen (`2000.50`)."""
    quantized = amount.quantize(FEN)
    return quantized if quantized != quantized.to_integral_value() else quantized.quantize(Decimal(1))


def format_yuan(amount: Decimal) -> str:
    """`1234567.5` -> `1,234,567.50`; whole yuan without decimals: `60,000`."""
    amount = normalize(amount)
    return f"{amount:,.2f}" if amount.as_tuple().exponent < 0 else f"{amount:,}"


def format_wan(amount: Decimal) -> str:
    """`443665000` -> `44,366.5`: 万元, trailing zeros dropped, never rounded.

    An amount to the fen has at most six decimals in 万元, so all six are kept: a figure in
    万元 must agree to the fen with the same figure in 元 (`12,345.67` -> `1.234567`).
    """
    wan = (amount / WAN).quantize(Decimal("0.000001"), rounding=ROUND_HALF_UP).normalize()
    if wan == wan.to_integral_value():
        wan = wan.quantize(Decimal(1))
    return f"{wan:,f}"


def shown_in_wan(amount: Decimal) -> bool:
    """Large whole-yuan sums also read in 万元 (at most four decimals, still exact).

    With jiao or fen the 万元 figure would need six decimals (`2,381.507944`) or be rounded,
    so such sums are shown in 元 only: every figure on the site agrees to the fen.
    """
    return amount >= 100000 and amount == amount.to_integral_value()


def percent(part: Decimal, whole: Decimal) -> Decimal | None:
    """A share to one decimal, rounded half up; None when the whole is zero."""
    if not whole:
        return None
    return (part * 100 / whole).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
