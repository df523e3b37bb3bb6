from decimal import Decimal

import pytest

from generator.money import AmountError, format_wan, format_yuan, parse_amount, percent


@pytest.mark.parametrize("raw, expected", [
    (60000, "60000"), ("6万元", "60000"), ("60,000元", "60000"), ("44366.5万元", "443665000"),
    (0.1, "0.1"), ("1,234.56", "1234.56"), ("1.5万", "15000"), (" 2000 元 ", "2000"), ("６万元", "60000"), ("１，０００", "1000"),
])
def test_parse_amount(raw, expected):
    if expected is None:
        with pytest.raises(AmountError):
            parse_amount(raw)
    else:
        assert parse_amount(raw) == Decimal(expected)


@pytest.mark.parametrize("raw", ["六万元", "60000美元", True, None, "1.234", "1e5"])
def test_parse_amount_refuses(raw):
    with pytest.raises(AmountError):
        parse_amount(raw)


def test_formats():
    assert format_yuan(Decimal("1234567.5")) == "1,234,567.50"
    assert format_yuan(Decimal("60000.00")) == "60,000"
    assert format_wan(Decimal("443665000")) == "44,366.5"
    assert format_wan(Decimal("12345")) == "1.2345"


def test_percent_rounds_half_up_and_is_never_forced_to_100():
    assert percent(Decimal(1), Decimal(8)) == Decimal("12.5")
    assert percent(Decimal("0.0005"), Decimal(1)) == Decimal("0.1")
    shares = [percent(Decimal(1), Decimal(3))] * 3
    assert sum(shares) == Decimal("99.9")
    assert percent(Decimal(1), Decimal(0)) is None
