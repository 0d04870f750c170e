"""The client over TLS: `ssl=`, or `tls`, `ca`, `cert`, `key` (the CLI's --tls, --ca, --cert,
--key), against a server whose certificate, and whose demand for a client one, are real."""

import ssl
from pathlib import Path

import pytest

from crypto_service.client import AsyncCryptoClient, CryptoClient, InvalidTLSOption, RetryPolicy
from crypto_service.client import Unavailable
from tests.certs import Pair, TestCA
from tests.client.servers import loopback, loopback_in_thread
from tests.client.test_client_guide import run_python

ONCE = RetryPolicy(attempts=1)


@pytest.fixture
def ca(tmp_path: Path) -> TestCA:
    return TestCA(tmp_path, "client-test-ca")


@pytest.fixture
def client_pair(ca: TestCA) -> Pair:
    return ca.issue("a-client", "client.example")


def server_context(ca: TestCA, *, require_client_cert: bool = False) -> ssl.SSLContext:
    server = ca.issue("server")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(server.cert, server.key)
    context.set_alpn_protocols(["h2"])
    if require_client_cert:
        context.load_verify_locations(ca.file)
        context.verify_mode = ssl.CERT_REQUIRED
    return context


@pytest.fixture
async def tls_port(fake, ca):
    async with loopback([fake], ssl=server_context(ca)) as address:
        yield address.rsplit(":", 1)[1]


@pytest.fixture
async def mtls_port(fake, ca):
    async with loopback([fake], ssl=server_context(ca, require_client_cert=True)) as address:
        yield address.rsplit(":", 1)[1]


async def test_a_ready_ssl_context_serves_the_call(ca, tls_port):
    context = ssl.create_default_context(cafile=str(ca.file))
    context.set_alpn_protocols(["h2"])
    async with AsyncCryptoClient(f"localhost:{tls_port}", ssl=context) as client:
        assert (await client.get_coin("BTC")).name == "Bitcoin"


async def test_a_ca_file_serves_the_call(ca, tls_port):
    async with AsyncCryptoClient(f"localhost:{tls_port}", ca=ca.file) as client:
        assert (await client.get_coin("BTC")).name == "Bitcoin"


async def test_an_untrusted_certificate_is_unavailable(tls_port):
    for tls in ({"ssl": True}, {"tls": True}):  # the system's CAs do not know the test CA
        async with AsyncCryptoClient(f"localhost:{tls_port}", retry=ONCE, **tls) as client:
            with pytest.raises(Unavailable, match="CERTIFICATE_VERIFY_FAILED"):
                await client.get_coin("BTC")


async def test_the_host_name_is_checked(ca, tls_port):
    elsewhere = ca.issue("elsewhere", "elsewhere.example")
    async with AsyncCryptoClient(f"127.0.0.1:{tls_port}", ca=ca.file, retry=ONCE) as client:
        assert (await client.get_coin("BTC")).name == "Bitcoin"  # 127.0.0.1 is in the cert
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(elsewhere.cert, elsewhere.key)
    context.set_alpn_protocols(["h2"])
    async with loopback([], ssl=context) as address:
        async with AsyncCryptoClient(address.replace("127.0.0.1", "localhost"), ca=ca.file,
                                     retry=ONCE) as client:
            with pytest.raises(Unavailable, match="Hostname mismatch|IP address mismatch"):
                await client.get_coin("BTC")


async def test_a_client_certificate_is_presented_when_given(ca, client_pair, mtls_port):
    async with AsyncCryptoClient(f"localhost:{mtls_port}", ca=ca.file, cert=client_pair.cert,
                                 key=client_pair.key) as client:
        assert (await client.get_coin("BTC")).name == "Bitcoin"
    async with AsyncCryptoClient(f"localhost:{mtls_port}", ca=ca.file, retry=ONCE) as client:
        with pytest.raises(Unavailable):
            await client.get_coin("BTC")


def test_the_blocking_client_takes_the_same_options(fake, ca, client_pair):
    context = server_context(ca, require_client_cert=True)
    with loopback_in_thread([fake], ssl=context) as address, \
            CryptoClient(address.replace("127.0.0.1", "localhost"), ca=str(ca.file),
                         cert=str(client_pair.cert), key=str(client_pair.key)) as client:
        assert client.get_coin("BTC").name == "Bitcoin"


def test_unusable_tls_options_are_a_value_error_naming_the_file(ca, client_pair, tmp_path):
    missing = tmp_path / "missing.pem"
    with pytest.raises(InvalidTLSOption, match=f"TLS CA file {missing}: No such file"):
        AsyncCryptoClient(ca=missing)
    with pytest.raises(InvalidTLSOption, match=f"TLS CA file {client_pair.key}: "):
        AsyncCryptoClient(ca=client_pair.key)
    with pytest.raises(InvalidTLSOption, match="does not match the certificate"):
        AsyncCryptoClient(cert=client_pair.cert, key=ca.issue("other").key)
    with pytest.raises(InvalidTLSOption, match="a client key needs its certificate"):
        AsyncCryptoClient(key=client_pair.key)
    with pytest.raises(InvalidTLSOption, match="either ssl= or the TLS options"):
        AsyncCryptoClient(ssl=True, ca=ca.file)


async def test_the_demo_module_takes_tls_from_the_environment(ca, client_pair, mtls_port):
    address = f"localhost:{mtls_port}"
    code, out, err = await run_python("-m", "crypto_service.client", address, env={
        "CRYPTO_TLS_CA": str(ca.file), "CRYPTO_CLIENT_TLS_CERT": str(client_pair.cert),
        "CRYPTO_CLIENT_TLS_KEY": str(client_pair.key)})
    assert code == 0, err
    assert out.startswith("BTC Price: $94000.5\n")
    missing = ca.folder / "none.pem"
    code, out, err = await run_python("-m", "crypto_service.client", address,
                                      env={"CRYPTO_TLS_CA": str(missing)})
    assert (code, out) == (1, "")
    assert err == f"error: INVALID_ARGUMENT: TLS CA file {missing}: No such file or directory\n"
