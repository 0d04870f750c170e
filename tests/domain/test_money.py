"""Amounts in, plain-notation decimals out."""

from decimal import Decimal

import pytest

from crypto_service.domain.errors import InvalidArgument
from crypto_service.domain.money import format_decimal, parse_amount, round_significant


@pytest.mark.parametrize("value, text", [
    (Decimal("1E-8"), "0.00000001"),
    (Decimal("0E-18"), "0"),
    (Decimal("-0"), "0"),
    (Decimal("1500.000000000000000000"), "1500"),
    (Decimal("1.5E+3"), "1500"),
    (Decimal("-2.250"), "-2.25"),
    (Decimal("123456789012345678.123456789012345678"), "123456789012345678.123456789012345678"),
    (None, "0"),
])
def test_format_decimal_is_plain_and_trimmed(value, text):
    assert format_decimal(value) == text


@pytest.mark.parametrize("text, value", [
    ("0.5", Decimal("0.5")),
    ("10", Decimal("10")),
    ("007.50", Decimal("7.5")),
    ("0.000000000000000001", Decimal("1E-18")),
    ("99999999999999999999.999999999999999999", Decimal("99999999999999999999.999999999999999999")),
])
def test_parse_amount_accepts_positive_exact_amounts(text, value):
    assert parse_amount(text, "amount") == value


@pytest.mark.parametrize("text", ["", "  ", "abc", "NaN", "nan", "Infinity", "-Infinity", "-1",
                                  "0", "0.0", "1e400", "1e-400", "0.0000000000000000001",
                                  "100000000000000000000", "1" * 65, "1,5", "0x10",
                                  # only ASCII digits, point and digits: the contract's grammar
                                  " 10 ", "1e3", "1E+2", "1_000", "+1", ".5", "1.", "\xa01",
                                  "\u0663", "\uff11", "\u00b2", "1\n", "1.5.5"])
def test_parse_amount_rejects_bad_amounts_naming_the_field(text):
    with pytest.raises(InvalidArgument) as info:
        parse_amount(text, "amount")
    assert "amount" in str(info.value)


@pytest.mark.parametrize("value, digits, rounded", [
    ("93355.332001940012781078", 10, "93355.33200"),
    ("0.0000213412345678", 4, "0.00002134"),
    ("0.000000000000000000123", 4, "0E-18"),
    ("123456789012345678.5", 10, "1.234567890E+17"),
    ("0", 10, "0E-18"),
])
def test_round_significant(value, digits, rounded):
    assert round_significant(Decimal(value), digits) == Decimal(rounded)
