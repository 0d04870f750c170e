# The Python examples of the seed guide (crypto-grpc-guide.md), pasted as they are written
# there: "3. Test with Client", then "Python Client" under "Usage Examples". Only the import
# path differs (the guide's is a Django app's module). The test swaps in its server's address.
from crypto_service import CryptoClient

# Create client
client = CryptoClient('localhost:50051')

# Get Bitcoin info
btc = client.get_coin(symbol='BTC')
print(f"BTC Price: ${btc.current_price_usd}")

# List top coins
top_10 = client.list_top_coins(10)
for coin in top_10:
    print(f"#{coin.rank} {coin.symbol}: ${coin.current_price_usd}")

# Context manager (auto-closes connection)
with CryptoClient('localhost:50051') as client:
    # Get coin
    btc = client.get_coin(symbol='BTC')
    print(f"BTC: ${btc.current_price_usd}")

    # Search coins
    results = client.search_coins('bitcoin')

    # Get portfolio
    portfolio = client.get_portfolio(user_id=1)
    print(f"Total: ${portfolio.total_value_usd}")

    # Stream prices (blocking)
    for update in client.stream_prices(['BTC', 'ETH'], interval=5):
        print(f"{update.symbol}: ${update.price_usd}")
