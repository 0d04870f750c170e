"""The bytes the hub keeps for a quote: one whole gRPC message, the same as betterproto2's."""

from datetime import datetime, timezone
from decimal import Decimal

import pytest

from crypto_service.convert import encode_price_update
from crypto_service.domain.money import format_decimal
from crypto_service.domain.prices.hub import Quote
from crypto_service.generated import crypto as pb
from crypto_service.server.prices import framed_price_update


@pytest.mark.parametrize("quote", [
    Quote("BTC", Decimal("93391.23769"), Decimal("-1.234567"),
          datetime(2026, 11, 26, 4, 57, 0, 315085, tzinfo=timezone.utc)),
    Quote("SHIB", Decimal("0.000000000000000001"), Decimal("0"),
          datetime(1970, 1, 1, tzinfo=timezone.utc)),
    Quote("X", Decimal("12345678901234567890.123456789012345678"), Decimal("100"),
          datetime(2030, 1, 1, 0, 0, 0, 1, tzinfo=timezone.utc)),
])
def test_a_price_update_is_encoded_as_betterproto2_would_and_framed_whole(quote):
    expected = pb.PriceUpdate(symbol=quote.symbol, price_usd=format_decimal(quote.price_usd),
                              change_24h_percent=format_decimal(quote.change_24h_percent),
                              timestamp=quote.updated_at)
    assert "E" not in expected.price_usd
    assert encode_price_update(quote) == bytes(expected)
    framed = framed_price_update(quote)
    assert framed[0] == 0 and int.from_bytes(framed[1:5], "big") == len(framed) - 5
    assert pb.PriceUpdate.parse(framed[5:]) == expected
