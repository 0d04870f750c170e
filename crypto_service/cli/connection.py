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
]


@dataclasses.dataclass(frozen=True)
class Connection:
    address: str | None
    token: str | None
    timeout: float

    @classmethod
    def pop_from(cls, arguments: dict[str, Any]) -> Connection:
        """Takes this class's options out of a command's arguments."""
        return cls(**{f.name: arguments.pop(f.name) for f in dataclasses.fields(cls)})

    def client(self) -> CryptoClient:
        from ..client import DEFAULT_ADDRESS, CryptoClient

        return CryptoClient(self.address or DEFAULT_ADDRESS, token=self.token,
                            timeout=self.timeout)
