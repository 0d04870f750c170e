"""A certificate and its key loaded into an `SSLContext`, for the server and the client alike,
without OpenSSL's passphrase prompt."""

from __future__ import annotations

import os
import ssl


class EncryptedKey(Exception):
    """The key needs a passphrase; the service takes unencrypted keys only."""


def _refuse_passphrase() -> bytes:
    raise EncryptedKey


def load_cert_chain(context: ssl.SSLContext, cert: str | os.PathLike[str],
                    key: str | os.PathLike[str] | None) -> None:
    """`context.load_cert_chain`, raising EncryptedKey where OpenSSL would ask for a
    passphrase on the terminal (a server re-reading its files on SIGHUP would hang there)."""
    context.load_cert_chain(cert, key, password=_refuse_passphrase)
