"""Certificates made at test time with trustme: never a committed key."""

from __future__ import annotations

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
