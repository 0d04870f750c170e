"""Server test fixtures: a CA, the server's certificate and clients' ones, made at test time."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.certs import Pki, TestCA


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    ca, other = TestCA(tmp_path, "crypto-test-ca"), TestCA(tmp_path, "another-ca")
    return Pki(ca, other, ca.issue("server"), ca.issue("client", "client.example"),
               other.issue("stranger", "stranger.example"))
