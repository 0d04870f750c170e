"""The client over TLS (`ssl=`): a server with a certificate the client trusts."""

import shutil
import ssl
import subprocess
from pathlib import Path

import pytest

from crypto_service.client import AsyncCryptoClient, RetryPolicy, Unavailable
from tests.client.servers import loopback

OPENSSL = shutil.which("openssl")
pytestmark = pytest.mark.skipif(not OPENSSL, reason="openssl is not installed")


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    """A self-signed certificate for localhost, and its key."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run([OPENSSL, "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1", "-subj",
                    "/CN=localhost", "-addext", "subjectAltName=DNS:localhost",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return cert, key


@pytest.fixture
async def tls_port(fake, certificate):
    cert, key = certificate
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    context.set_alpn_protocols(["h2"])
    async with loopback([fake], ssl=context) as address:
        yield address.rsplit(":", 1)[1]


async def test_a_trusted_certificate_serves_the_call(certificate, tls_port):
    context = ssl.create_default_context(cafile=str(certificate[0]))
    context.set_alpn_protocols(["h2"])
    async with AsyncCryptoClient(f"localhost:{tls_port}", ssl=context) as client:
        assert (await client.get_coin("BTC")).name == "Bitcoin"


async def test_an_untrusted_certificate_is_unavailable(tls_port):
    once = RetryPolicy(attempts=1)
    async with AsyncCryptoClient(f"localhost:{tls_port}", ssl=True, retry=once) as client:
        with pytest.raises(Unavailable, match="CERTIFICATE_VERIFY_FAILED"):
            await client.get_coin("BTC")
