"""The Python client of crypto.CryptoService: `AsyncCryptoClient`, `CryptoClient` (blocking),
the typed results their calls return (money as `Decimal`), and the `CryptoError` hierarchy
their calls raise."""

from .aio import DEFAULT_ADDRESS, DEFAULT_TIMEOUT, AsyncCryptoClient
from .errors import (
    AlreadyExists,
    Cancelled,
    CryptoError,
    DeadlineExceeded,
    InsufficientFunds,
    Internal,
    InvalidAddress,
    InvalidTLSOption,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    ResourceExhausted,
    Unauthenticated,
    Unavailable,
    Unimplemented,
)
from .results import (
    Coin,
    CoinList,
    CoinPage,
    Holding,
    LedgerTransaction,
    MarketStats,
    Portfolio,
    Posted,
    PriceUpdate,
    Transfer,
    TransactionPage,
    Wallet,
    WalletList,
)
from .retry import RetryPolicy
from .sync import CryptoClient

__all__ = [
    "DEFAULT_ADDRESS", "DEFAULT_TIMEOUT", "AlreadyExists", "AsyncCryptoClient", "Cancelled",
    "Coin", "CoinList", "CoinPage", "CryptoClient", "CryptoError", "DeadlineExceeded",
    "Holding", "InsufficientFunds", "Internal", "InvalidAddress", "InvalidArgument",
    "InvalidTLSOption", "LedgerTransaction", "MarketStats", "NotFound", "PermissionDenied", "Portfolio", "Posted",
    "PriceUpdate", "ResourceExhausted", "RetryPolicy", "Transfer", "TransactionPage",
    "Unauthenticated", "Unavailable", "Unimplemented", "Wallet", "WalletList",
]
