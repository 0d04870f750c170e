"""TLS for `crypto serve`: the certificate, key and optional client CA, re-read on SIGHUP.

The listening socket keeps one `SSLContext` for its whole life (asyncio and uvloop take it at
`start`). Its SNI callback, which OpenSSL runs on every ClientHello whether or not the client
names a server, hands the connection the newest context, so `reload` changes what new
handshakes use while connections already made keep theirs. Replacing the whole context,
rather than loading new files into the live one, also lets a rotation drop a client CA:
`load_verify_locations` can only add to a trust store.
"""

from __future__ import annotations

import logging
import ssl
from dataclasses import dataclass
from pathlib import Path

from ..settings import Settings
from ..tls_keys import EncryptedKey, load_cert_chain

log = logging.getLogger("crypto_service.server")

# Forward-secret AEAD suites for TLS 1.2 (HTTP/2 forbids most others); TLS 1.3 suites are
# OpenSSL's defaults, all of which qualify.
TLS12_CIPHERS = "ECDHE+AESGCM:ECDHE+CHACHA20:DHE+AESGCM:DHE+CHACHA20"
PEM_CERTIFICATE = b"-----BEGIN CERTIFICATE-----"
PEM_PRIVATE_KEY = b"PRIVATE KEY-----"


class TLSConfigError(RuntimeError):
    """A TLS setting or file the server cannot use; the message names the file and why."""


@dataclass(frozen=True, slots=True)
class TLSFiles:
    cert: Path
    key: Path
    client_ca: Path | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> TLSFiles | None:
        """The files to serve TLS with, or None for plaintext."""
        cert, key, client_ca = settings.tls_cert, settings.tls_key, settings.tls_client_ca
        if cert is None and key is None:
            if client_ca is not None:
                raise TLSConfigError("--tls-client-ca (CRYPTO_TLS_CLIENT_CA) needs --tls-cert "
                                     "and --tls-key: client certificates are checked over TLS")
            return None
        if cert is None or key is None:
            raise TLSConfigError("TLS needs both --tls-cert and --tls-key (CRYPTO_TLS_CERT, "
                                 "CRYPTO_TLS_KEY)")
        return cls(cert, key, client_ca)

    def describe(self) -> str:
        clients = (f", client certificates required (CA {self.client_ca})"
                   if self.client_ca else "")
        return f"certificate {self.cert}, key {self.key}{clients}"


def _pem(label: str, path: Path, marker: bytes) -> None:
    try:
        text = path.read_bytes()
    except OSError as exc:
        raise TLSConfigError(f"TLS {label} {path}: {exc.strerror or exc}") from None
    if marker not in text:
        raise TLSConfigError(f"TLS {label} {path}: not a PEM file with a {label} in it")


def server_context(files: TLSFiles) -> ssl.SSLContext:
    """A server context holding the files, or TLSConfigError naming what is wrong."""
    _pem("certificate", files.cert, PEM_CERTIFICATE)
    _pem("key", files.key, PEM_PRIVATE_KEY)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers(TLS12_CIPHERS)
    context.set_alpn_protocols(["h2"])
    # No session tickets: a resumed session skips the client-certificate check, so a client
    # whose CA a rotation removed could come back on an old ticket.
    context.options |= ssl.OP_NO_TICKET
    context.num_tickets = 0
    try:
        load_cert_chain(context, files.cert, files.key)
    except EncryptedKey:
        raise TLSConfigError(f"TLS key {files.key} is encrypted: the server needs it "
                             "unencrypted (it cannot ask for a passphrase)") from None
    except ssl.SSLError as exc:
        if exc.reason == "KEY_VALUES_MISMATCH":
            raise TLSConfigError(f"TLS key {files.key} does not match the certificate "
                                 f"{files.cert}") from None
        raise TLSConfigError(f"TLS certificate {files.cert} or key {files.key}: "
                             f"{exc.reason or exc}") from None
    if files.client_ca is not None:
        _pem("client CA", files.client_ca, PEM_CERTIFICATE)
        try:
            context.load_verify_locations(cafile=files.client_ca)
        except ssl.SSLError as exc:
            raise TLSConfigError(f"TLS client CA {files.client_ca}: {exc.reason or exc}") \
                from None
        context.verify_mode = ssl.CERT_REQUIRED
    return context


def reloaded_context(files: TLSFiles) -> ssl.SSLContext | None:
    """`server_context` for a reload: None, and one error line, when the files are unusable."""
    try:
        return server_context(files)
    except TLSConfigError as exc:
        log.error("TLS files not reloaded, still serving the previous ones: %s", exc)
        return None


class ServerTLS:
    """The listening context and the current one; `reload` re-reads the files."""

    def __init__(self, files: TLSFiles) -> None:
        self.files = files
        self._current = server_context(files)
        # Its verify mode (set once from whether there is a client CA) applies to every
        # handshake; the certificate, key and CA store come from the context chosen below.
        self.context = server_context(files)
        self.context.sni_callback = self._choose_context

    @classmethod
    def from_settings(cls, settings: Settings) -> ServerTLS | None:
        files = TLSFiles.from_settings(settings)
        return cls(files) if files else None

    def _choose_context(self, connection: ssl.SSLObject, server_name: str | None,
                        listening: ssl.SSLContext) -> None:
        connection.context = self._current

    def reload(self) -> bool:
        """New handshakes use the files as they are now; if they are unusable, the previous
        ones stay and one error line says why."""
        context = reloaded_context(self.files)
        if context is None:
            return False
        self._current = context
        log.info("TLS files reloaded: new connections use %s", self.files.describe())
        return True
