"""Live prices: the hub that fans them out, the stream rules, and the feeds that write them
(simulator, CoinGecko import and sync) with their cross-process publication."""
