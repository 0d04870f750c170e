"""The server's TLS (server/tls.py) with real handshakes on loopback: grpclib's client,
grpcio's, raw TLS sockets and plaintext ones; mTLS; rotation; files refused at start."""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path

import grpc
import pytest
from cryptography.hazmat.primitives import serialization

from crypto_service.client import AsyncCryptoClient, RetryPolicy, Unavailable
from crypto_service.generated import crypto as pb
from crypto_service.server.app import App
from crypto_service.server.tls import ServerTLS, TLSConfigError, TLSFiles, server_context
from tests.certs import Handshake, Pair, Pki, client_context, handshake, replace
from tests.client.servers import loopback
from tests.conftest import make_coin

# TLS has nothing to do with the database: SQLite is enough.
pytestmark = pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
ONCE = RetryPolicy(attempts=1)


@asynccontextmanager
async def serving(app: App, tls: ServerTLS) -> AsyncIterator[int]:
    await make_coin("BTC", name="Bitcoin", rank=1, current_price_usd=Decimal("94000.5"))
    async with loopback(app.services, app.codec, ssl=tls.context) as address:
        yield int(address.rsplit(":", 1)[1])


@pytest.fixture
async def tls_port(app: App, pki: Pki) -> AsyncIterator[int]:
    async with serving(app, ServerTLS(TLSFiles(pki.server.cert, pki.server.key))) as port:
        yield port


@pytest.fixture
async def mtls(app: App, pki: Pki) -> AsyncIterator[tuple[int, ServerTLS]]:
    tls = ServerTLS(TLSFiles(pki.server.cert, pki.server.key, pki.ca.file))
    async with serving(app, tls) as port:
        yield port, tls


async def get_coin_name(port: int, **tls) -> str:
    async with AsyncCryptoClient(f"localhost:{port}", retry=ONCE, **tls) as client:
        return (await client.get_coin("BTC")).name


def grpcio_get_coin(port: int, ca: Path, pair: Pair | None = None) -> pb.CoinResponse:
    """GetCoin through grpcio (its own TLS stack), with the betterproto2 message as bytes."""
    credentials = grpc.ssl_channel_credentials(
        root_certificates=ca.read_bytes(),
        private_key=pair.key.read_bytes() if pair else None,
        certificate_chain=pair.cert.read_bytes() if pair else None)
    with grpc.secure_channel(f"localhost:{port}", credentials) as channel:
        call = channel.unary_unary("/crypto.CryptoService/GetCoin",
                                   request_serializer=bytes,
                                   response_deserializer=pb.CoinResponse().parse)
        return call(pb.GetCoinRequest(symbol="BTC"), timeout=10)


async def test_grpclib_client_over_tls(pki, tls_port):
    assert await get_coin_name(tls_port, ca=pki.ca.file) == "Bitcoin"


async def test_grpcio_client_over_tls(pki, tls_port):
    response = await asyncio.to_thread(grpcio_get_coin, tls_port, pki.ca.file)
    assert response.coin.name == "Bitcoin"


async def test_the_server_speaks_h2_over_tls_1_2_or_newer_and_nothing_older(pki, tls_port):
    newest = await asyncio.to_thread(handshake, tls_port, client_context(pki.ca.file))
    assert (newest.version, newest.alpn, newest.error) == ("TLSv1.3", "h2", None)
    tls12 = client_context(pki.ca.file, maximum=ssl.TLSVersion.TLSv1_2)
    assert (await asyncio.to_thread(handshake, tls_port, tls12)).version == "TLSv1.2"


async def test_tls_1_1_is_refused_by_the_server(pki, app, tls_port):
    def tls11(port: int) -> Handshake:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.load_verify_locations(pki.ca.file)
        context.set_ciphers("DEFAULT:@SECLEVEL=0")
        context.minimum_version = context.maximum_version = ssl.TLSVersion.TLSv1_1
        return handshake(port, context)

    with pytest.warns(DeprecationWarning):  # TLS 1.1 is deprecated in Python too
        assert (await asyncio.to_thread(tls11, tls_port)).error is not None
        # The same client completes a handshake with a server that allows TLS 1.1, so the
        # refusal above is the server's.
        permissive = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        permissive.load_cert_chain(pki.server.cert, pki.server.key)
        permissive.set_ciphers("DEFAULT:@SECLEVEL=0")
        permissive.minimum_version = ssl.TLSVersion.TLSv1
        async with loopback(app.services, app.codec, ssl=permissive) as address:
            control = await asyncio.to_thread(tls11, int(address.rsplit(":", 1)[1]))
    assert control.version == "TLSv1.1"


async def test_a_plaintext_client_fails_its_handshake_and_the_server_serves_on(pki, tls_port):
    with pytest.raises(Unavailable, match="connection failed"):
        await get_coin_name(tls_port)  # no TLS: HTTP/2 in the clear

    def plaintext_preface() -> bytes:
        with socket.create_connection(("127.0.0.1", tls_port), timeout=10) as raw:
            raw.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
            return raw.recv(100)

    assert await asyncio.to_thread(plaintext_preface) == b""  # closed, no HTTP/2 SETTINGS
    assert await get_coin_name(tls_port, ca=pki.ca.file) == "Bitcoin"


async def test_a_certificate_from_another_ca_is_refused_by_the_client(pki, tls_port):
    with pytest.raises(Unavailable, match="CERTIFICATE_VERIFY_FAILED"):
        await get_coin_name(tls_port, ca=pki.other.file)


# mTLS


async def test_mtls_accepts_a_client_certificate_from_the_client_ca(pki, mtls):
    port, _ = mtls
    assert await get_coin_name(port, ca=pki.ca.file, cert=pki.client.cert,
                               key=pki.client.key) == "Bitcoin"
    response = await asyncio.to_thread(grpcio_get_coin, port, pki.ca.file, pki.client)
    assert response.coin.name == "Bitcoin"


@pytest.mark.parametrize("who", ["no certificate", "another CA's certificate"])
async def test_mtls_refuses_at_the_handshake(pki, mtls, who):
    port, _ = mtls
    pair = None if who == "no certificate" else pki.stranger
    tls13 = await asyncio.to_thread(handshake, port, client_context(pki.ca.file, pair))
    tls12 = await asyncio.to_thread(handshake, port, client_context(
        pki.ca.file, pair, maximum=ssl.TLSVersion.TLSv1_2))
    # TLS 1.2: the handshake itself fails. TLS 1.3: the client's side of it completes before
    # the server checks the certificate, and then the server ends the connection unanswered.
    assert tls12.version is None and tls12.error is not None
    assert tls13.error is not None
    tls = {"cert": pair.cert, "key": pair.key} if pair else {}
    with pytest.raises(Unavailable):
        await get_coin_name(port, ca=pki.ca.file, **tls)
    with pytest.raises(grpc.RpcError) as info:
        await asyncio.to_thread(grpcio_get_coin, port, pki.ca.file, pair)
    assert info.value.code() == grpc.StatusCode.UNAVAILABLE


# Rotation (the SIGHUP path end to end is in test_tls_process.py)


async def test_rotation_changes_new_handshakes_and_keeps_open_connections(pki, app, tmp_path,
                                                                          caplog):
    live = Pair(tmp_path / "live.pem", tmp_path / "live.key")
    replace(live, pki.server)
    tls = ServerTLS(TLSFiles(live.cert, live.key))
    successor = pki.other.issue("successor")
    async with serving(app, tls) as port, \
            AsyncCryptoClient(f"localhost:{port}", ca=pki.ca.file, retry=ONCE) as old:
        assert (await old.get_coin("BTC")).name == "Bitcoin"
        replace(live, successor)
        assert tls.reload()
        after = await asyncio.to_thread(handshake, port, client_context(pki.other.file))
        assert after.server_org == "another-ca"
        assert (await asyncio.to_thread(handshake, port, client_context(pki.ca.file))).error \
            == "CERTIFICATE_VERIFY_FAILED"
        # The connection made before goes on with the certificate it was made with.
        assert (await old.get_coin("BTC")).name == "Bitcoin"

        live.cert.write_text("not a certificate\n")
        caplog.clear()
        with caplog.at_level(logging.ERROR, logger="crypto_service.server"):
            assert not tls.reload()
        assert [r.getMessage() for r in caplog.records] == [
            f"TLS files not reloaded, still serving the previous ones: TLS certificate "
            f"{live.cert}: not a PEM file with a certificate in it"]
        kept = await asyncio.to_thread(handshake, port, client_context(pki.other.file))
        assert kept.server_org == "another-ca"


async def test_rotating_the_client_ca_drops_the_old_one(pki, app, tmp_path):
    client_ca = tmp_path / "client-ca.pem"
    client_ca.write_bytes(pki.ca.file.read_bytes())
    tls = ServerTLS(TLSFiles(pki.server.cert, pki.server.key, client_ca))
    newcomer = pki.other.issue("newcomer", "newcomer.example")
    async with serving(app, tls) as port:
        before = [await asyncio.to_thread(handshake, port, client_context(pki.ca.file, pair))
                  for pair in (pki.client, newcomer)]
        assert [h.error is None for h in before] == [True, False]
        client_ca.write_bytes(pki.other.file.read_bytes())
        assert tls.reload()
        after = [await asyncio.to_thread(handshake, port, client_context(pki.ca.file, pair))
                 for pair in (pki.client, newcomer)]
        assert [h.error is None for h in after] == [False, True]


# Files refused at start


def encrypted_key(pair: Pair, target: Path) -> Path:
    key = serialization.load_pem_private_key(pair.key.read_bytes(), password=None)
    target.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"passphrase")))
    return target


def bad_files(pki: Pki, folder: Path, case: str) -> tuple[TLSFiles, str]:
    cert, key = pki.server.cert, pki.server.key
    garbage = folder / "garbage.pem"
    garbage.write_text("hello\n")
    missing = folder / "missing.pem"
    return {
        "missing certificate": (TLSFiles(missing, key),
                                f"TLS certificate {missing}: No such file or directory"),
        "missing key": (TLSFiles(cert, missing), f"TLS key {missing}: No such file or directory"),
        "a directory": (TLSFiles(folder, key), f"TLS certificate {folder}: Is a directory"),
        "not a certificate": (TLSFiles(garbage, key), f"TLS certificate {garbage}: not a PEM "
                              "file with a certificate in it"),
        "a certificate for a key": (TLSFiles(cert, cert), f"TLS key {cert}: not a PEM file "
                                    "with a key in it"),
        "key of another certificate": (TLSFiles(cert, pki.client.key), f"TLS key "
                                       f"{pki.client.key} does not match the certificate "
                                       f"{cert}"),
        "encrypted key": (TLSFiles(cert, encrypted_key(pki.server, folder / "locked.key")),
                          f"TLS key {folder / 'locked.key'} is encrypted"),
        "client CA not a CA file": (TLSFiles(cert, key, garbage), f"TLS client CA {garbage}: "
                                    "not a PEM file"),
        "missing client CA": (TLSFiles(cert, key, missing), f"TLS client CA {missing}: No such "
                              "file or directory"),
    }[case]


CASES = ["missing certificate", "missing key", "a directory", "not a certificate",
         "a certificate for a key", "key of another certificate", "encrypted key",
         "client CA not a CA file", "missing client CA"]


@pytest.mark.parametrize("case", CASES)
def test_unusable_files_are_refused_with_one_clear_line(pki, tmp_path, case, settings):
    files, message = bad_files(pki, tmp_path, case)
    with pytest.raises(TLSConfigError) as info:
        server_context(files)
    assert str(info.value).startswith(message)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("given, message", [
    ({"tls_cert": "c.pem"}, "TLS needs both --tls-cert and --tls-key"),
    ({"tls_key": "k.pem"}, "TLS needs both --tls-cert and --tls-key"),
    ({"tls_client_ca": "ca.pem"}, "--tls-client-ca (CRYPTO_TLS_CLIENT_CA) needs --tls-cert"),
])
def test_incomplete_tls_settings_are_refused(settings, given, message):
    with pytest.raises(TLSConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        TLSFiles.from_settings(settings.model_copy(update={k: Path(v) for k, v in given.items()}))


def test_no_tls_settings_is_plaintext(settings):
    assert TLSFiles.from_settings(settings) is None
