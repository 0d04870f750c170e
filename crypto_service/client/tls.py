"""The client's TLS settings as one `ssl.SSLContext`: the options `tls`, `ca`, `cert`, `key`
of `AsyncCryptoClient`, `CryptoClient` and the CLI's `--tls`, `--ca`, `--cert`, `--key`."""

from __future__ import annotations

import os
import ssl
from collections.abc import Mapping
from typing import Any

from ..tls_keys import EncryptedKey, load_cert_chain
from .errors import InvalidTLSOption

FilePath = str | os.PathLike[str]


def client_ssl_context(*, ca: FilePath | None = None, cert: FilePath | None = None,
                       key: FilePath | None = None) -> ssl.SSLContext:
    """TLS 1.2 or newer with ALPN `h2`; the server's certificate verified against `ca` (the
    system's CAs without one) and its host name; `cert` and `key` present a client
    certificate to servers that require one. A file that cannot be used is `InvalidTLSOption`
    naming it."""
    if key is not None and cert is None:
        raise InvalidTLSOption(
            "a client key needs its certificate (--cert, CRYPTO_CLIENT_TLS_CERT)")
    try:
        context = ssl.create_default_context(cafile=ca)
    except OSError as exc:  # ssl.SSLError included
        raise InvalidTLSOption(f"TLS CA file {ca}: {_reason(exc)}") from None
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_alpn_protocols(["h2"])
    if cert is not None:
        try:
            load_cert_chain(context, cert, key)
        except (OSError, EncryptedKey) as exc:
            files = f"{cert} and key {key}" if key is not None else str(cert)
            raise InvalidTLSOption(
                f"TLS client certificate {files}: {_reason(exc)}") from None
    return context


def tls_context(ssl_option: bool | ssl.SSLContext | None, *, tls: bool, ca: FilePath | None,
                cert: FilePath | None, key: FilePath | None) -> bool | ssl.SSLContext | None:
    """What the client connects with: `ssl` as given, or a context made from the TLS options
    (any of which turns TLS on)."""
    if not (tls or ca is not None or cert is not None or key is not None):
        return ssl_option
    if ssl_option is not None:
        raise InvalidTLSOption(
            "give either ssl= or the TLS options (tls, ca, cert, key), not both")
    return client_ssl_context(ca=ca, cert=cert, key=key)


def tls_from_environment(environ: Mapping[str, str]) -> dict[str, Any]:
    """The TLS options from the environment variables the `crypto` command reads too:
    CRYPTO_TLS (1/true/yes/on), CRYPTO_TLS_CA, CRYPTO_CLIENT_TLS_CERT, CRYPTO_CLIENT_TLS_KEY."""
    return {"tls": environ.get("CRYPTO_TLS", "").strip().lower() in ("1", "true", "yes", "on"),
            "ca": environ.get("CRYPTO_TLS_CA") or None,
            "cert": environ.get("CRYPTO_CLIENT_TLS_CERT") or None,
            "key": environ.get("CRYPTO_CLIENT_TLS_KEY") or None}


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLError):
        if exc.reason == "KEY_VALUES_MISMATCH":
            return "the key does not match the certificate"
        return exc.reason or str(exc)
    if isinstance(exc, OSError):
        return exc.strerror or str(exc)
    return "the key is encrypted; give an unencrypted one"
