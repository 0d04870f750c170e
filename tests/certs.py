"""Certificates made at test time with trustme: never a committed key."""

from __future__ import annotations

import os
import socket
import ssl
from dataclasses import dataclass
from pathlib import Path

import trustme

SERVER_NAMES = ("localhost", "127.0.0.1", "::1")


@dataclass(frozen=True)
class Pair:
    cert: Path  # the leaf and its chain, PEM
    key: Path


class TestCA:
    """A CA in `folder`: `file` is its certificate, `issue` writes a leaf's files."""

    __test__ = False  # not a pytest test class

    def __init__(self, folder: Path, name: str) -> None:
        self.name = name
        self.folder = folder
        self._ca = trustme.CA(organization_name=name)
        self.file = folder / f"{name}-ca.pem"
        self._ca.cert_pem.write_to_path(str(self.file))

    def issue(self, name: str, *identities: str) -> Pair:
        """A certificate for `identities` (default: this host's loopback names)."""
        leaf = self._ca.issue_cert(*(identities or SERVER_NAMES), common_name=name,
                                   organization_name=self.name)
        pair = Pair(self.folder / f"{name}.pem", self.folder / f"{name}.key")
        pair.cert.write_bytes(b"".join(blob.bytes() for blob in leaf.cert_chain_pems))
        leaf.private_key_pem.write_to_path(str(pair.key))
        return pair


@dataclass
class Pki:
    ca: TestCA
    other: TestCA  # a CA the server does not trust
    server: Pair
    client: Pair
    stranger: Pair  # a client certificate from `other`


def client_context(ca: Path, pair: Pair | None = None, *,
                   maximum: ssl.TLSVersion | None = None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(ca))
    context.set_alpn_protocols(["h2"])
    if pair is not None:
        context.load_cert_chain(pair.cert, pair.key)
    if maximum is not None:
        context.maximum_version = maximum
    return context


@dataclass
class Handshake:
    version: str | None = None
    alpn: str | None = None
    server_org: str | None = None
    error: str | None = None  # why the connection failed (an OpenSSL reason), else None


def handshake(port: int, context: ssl.SSLContext) -> Handshake:
    """A TLS connection to the port, and whether the server answers HTTP/2 on it: with TLS 1.3
    a refused client certificate ends the connection after the client's side of the
    handshake, so the client sends the HTTP/2 preface and reads once."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        try:
            with context.wrap_socket(raw, server_hostname="localhost") as conn:
                subject = dict(pair[0] for pair in conn.getpeercert()["subject"])
                made = Handshake(conn.version(), conn.selected_alpn_protocol(),
                                 subject.get("organizationName"))
                conn.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
                if not conn.recv(1):  # the server's SETTINGS frame, or the alert
                    made.error = "closed without an alert"
                return made
        except ssl.SSLError as exc:
            return Handshake(error=exc.reason)


def replace(pair: Pair, by: Pair) -> None:
    """Overwrites the files as a deploy would: each written whole, then renamed over."""
    for source, target in ((by.cert, pair.cert), (by.key, pair.key)):
        staged = target.with_suffix(".new")
        staged.write_bytes(source.read_bytes())
        os.replace(staged, target)
