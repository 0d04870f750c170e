"""crypto-service: an async gRPC service for cryptocurrency market data and user wallets."""

from importlib import metadata
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # what type checkers and IDEs see of the lazy exports below
    from .client import AsyncCryptoClient, CryptoClient, CryptoError

try:
    __version__ = metadata.version("crypto-service")
except metadata.PackageNotFoundError:  # run from a source tree that was never installed
    __version__ = "0.0.0+unknown"

# Exported lazily: the client imports the generated package, which `crypto gen` and setup.py
# must be able to build before it exists.
_CLIENT_EXPORTS = {"CryptoClient", "AsyncCryptoClient", "CryptoError"}


def __getattr__(name: str) -> Any:
    if name in _CLIENT_EXPORTS:
        from . import client

        return getattr(client, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
