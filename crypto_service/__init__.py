"""crypto-service: an async gRPC service for cryptocurrency market data and user wallets."""
