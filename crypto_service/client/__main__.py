"""A demo of the client's calls against a running server:
`python -m crypto_service.client [ADDRESS]` (default: $CRYPTO_ADDRESS, else localhost:50051;
a token for the wallet calls from $CRYPTO_TOKEN, TLS from $CRYPTO_TLS_CA, ... as for the
`crypto` command)."""

from __future__ import annotations

import os
import sys
from itertools import islice

from . import DEFAULT_ADDRESS, CryptoClient, CryptoError, Unimplemented
from .tls import tls_from_environment

STREAMED_UPDATES = 4  # the stream never ends; the demo stops after a few updates


def demo(client: CryptoClient) -> None:
    btc = client.get_coin(symbol="BTC")
    print(f"BTC Price: ${btc.current_price_usd}")

    for coin in client.list_top_coins(10):
        print(f"#{coin.rank} {coin.symbol}: ${coin.current_price_usd}")

    results = client.search_coins("bitcoin")
    print(f"Search 'bitcoin': {', '.join(coin.symbol for coin in results)}")

    try:
        portfolio = client.get_portfolio(user_id=1)
        print(f"Portfolio of user 1: ${portfolio.total_value_usd}")
        for update in islice(client.stream_prices(["BTC", "ETH"], interval=5), STREAMED_UPDATES):
            print(f"{update.symbol}: ${update.price_usd}")
    except Unimplemented as exc:
        print(f"(this server does not offer it yet: {exc})")


def main(argv: list[str]) -> int:
    address = argv[1] if len(argv) > 1 else os.environ.get("CRYPTO_ADDRESS", DEFAULT_ADDRESS)
    try:
        with CryptoClient(address, token=os.environ.get("CRYPTO_TOKEN"),
                          **tls_from_environment(os.environ)) as client:
            demo(client)
    except CryptoError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
