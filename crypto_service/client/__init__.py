"""The Python client of crypto.CryptoService: `AsyncCryptoClient`, `CryptoClient` (blocking),
and the `CryptoError` hierarchy their calls raise."""

from .aio import DEFAULT_ADDRESS, AsyncCryptoClient
from .errors import (
    AlreadyExists,
    Cancelled,
    CryptoError,
    DeadlineExceeded,
    InsufficientFunds,
    Internal,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    ResourceExhausted,
    Unauthenticated,
    Unavailable,
    Unimplemented,
)
from .retry import RetryPolicy
from .sync import CryptoClient

__all__ = [
    "DEFAULT_ADDRESS", "AlreadyExists", "AsyncCryptoClient", "Cancelled", "CryptoClient",
    "CryptoError", "DeadlineExceeded", "InsufficientFunds", "Internal", "InvalidArgument",
    "NotFound", "PermissionDenied", "ResourceExhausted", "RetryPolicy", "Unauthenticated",
    "Unavailable", "Unimplemented",
]
