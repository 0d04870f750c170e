"""The handshake timeout over TLS: a client that never finishes its TLS handshake is closed
within `http2_handshake_timeout_seconds`, like one that never sends the HTTP/2 preface, not
after asyncio's own 60 seconds; real TLS clients are served all the same."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from crypto_service.client import AsyncCryptoClient, RetryPolicy
from crypto_service.server.app import App, build_app
from crypto_service.server.tls import ServerTLS, TLSFiles
from tests.certs import Pki, client_context, handshake
from tests.conftest import make_coin

pytestmark = pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
TIMEOUT = 0.5
# Far below asyncio's default TLS handshake timeout (60 s), far above TIMEOUT.
CLOSED_WITHIN = 10.0
# A TLS record header announcing a handshake message (a ClientHello) of 512 bytes, and the
# first bytes of that message: the rest never comes.
PARTIAL_CLIENT_HELLO = bytes([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01])


@pytest.fixture
async def app(db) -> App:
    return build_app(db.model_copy(update={"http2_handshake_timeout_seconds": TIMEOUT}))


@pytest.fixture
async def tls_port(app: App, pki: Pki) -> AsyncIterator[int]:
    await make_coin("BTC", name="Bitcoin", rank=1)
    tls = ServerTLS(TLSFiles(pki.server.cert, pki.server.key))
    await app.server.start("127.0.0.1", 0, ssl=tls.context)
    try:
        yield app.server._server.sockets[0].getsockname()[1]
    finally:
        app.server.close()
        await app.server.wait_closed()


async def closed_by_the_server(port: int, sent: bytes) -> bytes:
    """What the server sends to a client that sends `sent` and then nothing, until it closes
    the connection; fails if it has not within CLOSED_WITHIN seconds."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(sent)
        async with asyncio.timeout(CLOSED_WITHIN):
            return await reader.read()  # to the end: the server closed
    finally:
        writer.close()


async def test_a_client_that_sends_nothing_is_closed_within_the_handshake_timeout(tls_port):
    assert await closed_by_the_server(tls_port, b"") == b""


async def test_a_client_that_stalls_in_its_client_hello_is_closed_too(tls_port):
    assert await closed_by_the_server(tls_port, PARTIAL_CLIENT_HELLO) == b""


async def test_real_tls_clients_are_served_after_stalled_ones(pki, tls_port):
    await asyncio.gather(closed_by_the_server(tls_port, b""),
                         closed_by_the_server(tls_port, PARTIAL_CLIENT_HELLO))
    made = await asyncio.to_thread(handshake, tls_port, client_context(pki.ca.file))
    assert (made.version, made.alpn, made.error) == ("TLSv1.3", "h2", None)
    async with AsyncCryptoClient(f"localhost:{tls_port}", ca=pki.ca.file,
                                 retry=RetryPolicy(attempts=1)) as client:
        assert (await client.get_coin("BTC")).name == "Bitcoin"


async def test_a_client_that_finishes_tls_but_sends_no_preface_is_closed_too(pki, tls_port):
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", tls_port, ssl=client_context(pki.ca.file), server_hostname="localhost")
    try:
        async with asyncio.timeout(CLOSED_WITHIN):
            received = await reader.read()  # the server's SETTINGS, then the end
    finally:
        writer.close()
    assert received[3] == 0x04  # the server's SETTINGS frame: HTTP/2 was up


async def test_connections_that_never_finish_tls_leave_nothing_behind(app, tls_port):
    await asyncio.gather(*(closed_by_the_server(tls_port, sent)
                           for sent in (b"", PARTIAL_CLIENT_HELLO, b"not TLS at all")))
    assert not app.server._handlers  # grpclib kept one handler per such connection for good
