"""How the client commands reach a server: their connection options, defined once here, and
the client made from them. A new connection option is a parameter in `OPTIONS`, a field of
`Connection`, and an argument where `client()` makes the client."""

from __future__ import annotations

import dataclasses
import inspect
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:  # imported lazily at run time: see cli/__init__.py
    from ..client import CryptoClient


def _option(name: str, annotation: Any, default: Any) -> inspect.Parameter:
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default,
                             annotation=annotation)


OPTIONS = [
    _option("address", Annotated[str | None, typer.Option(
        "--address", metavar="HOST:PORT", envvar="CRYPTO_ADDRESS", show_default=False,
        help="The server [default: localhost:50051].")], None),
    _option("token", Annotated[str | None, typer.Option(
        "--token", metavar="JWT", envvar="CRYPTO_TOKEN", show_default=False,
        help="Bearer token for wallet calls.")], None),
    _option("timeout", Annotated[float, typer.Option(
        "--timeout", metavar="SECONDS", min=0.001,
        help="Deadline of each call, retries included (a stream has none).")], 10.0),
    _option("tls", Annotated[bool, typer.Option(
        "--tls", envvar="CRYPTO_TLS",
        help="Connect over TLS, verifying the server against the system's CAs (or --ca).")],
        False),
    _option("ca", Annotated[str | None, typer.Option(
        "--ca", metavar="PATH", envvar="CRYPTO_TLS_CA", show_default=False,
        help="PEM CA file to verify the server with (implies --tls).")], None),
    _option("cert", Annotated[str | None, typer.Option(
        "--cert", metavar="PATH", envvar="CRYPTO_CLIENT_TLS_CERT", show_default=False,
        help="PEM client certificate, for servers that require one (mTLS; implies --tls).")],
        None),
    _option("key", Annotated[str | None, typer.Option(
        "--key", metavar="PATH", envvar="CRYPTO_CLIENT_TLS_KEY", show_default=False,
        help="The client certificate's PEM private key.")], None),
]


@dataclasses.dataclass(frozen=True)
class Connection:
    address: str | None
    token: str | None
    timeout: float
    tls: bool
    ca: str | None
    cert: str | None
    key: str | None

    @classmethod
    def pop_from(cls, arguments: dict[str, Any]) -> Connection:
        """Takes this class's options out of a command's arguments."""
        return cls(**{f.name: arguments.pop(f.name) for f in dataclasses.fields(cls)})

    def client(self) -> CryptoClient:
        from ..client import DEFAULT_ADDRESS, CryptoClient

        return CryptoClient(self.address or DEFAULT_ADDRESS, token=self.token,
                            timeout=self.timeout, tls=self.tls, ca=self.ca, cert=self.cert,
                            key=self.key)
