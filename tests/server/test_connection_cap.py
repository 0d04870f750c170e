"""The cap on open connections per process (`max_connections`), with real sockets: the
connection over it gets a GOAWAY a gRPC client reports as UNAVAILABLE, a slot freed is served
again, and the count returns to zero however the connections end, TLS ones that never finish
their handshake included."""

from __future__ import annotations

import asyncio
import resource
import subprocess
import sys
from collections.abc import AsyncIterator

import grpc  # grpcio (installed with grpcio-tools): the C-core client
import pytest
from grpclib.client import Channel
from grpclib.exceptions import StreamTerminatedError
from grpclib.health.v1.health_grpc import HealthStub
from grpclib.health.v1.health_pb2 import HealthCheckRequest
from h2.errors import ErrorCodes
from h2.events import ConnectionTerminated

from crypto_service.client import AsyncCryptoClient, RetryPolicy, Unavailable
from crypto_service.server.app import App, build_app
from crypto_service.server.connection_cap import DESCRIPTOR_HEADROOM
from crypto_service.server.tls import ServerTLS, TLSFiles
from tests.certs import Pki, client_context
from tests.conftest import make_coin
from tests.server.h2_client import RawClient
from tests.server.test_http2_limits import BTC, GET_COIN, assert_serves

SQLITE = pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
CAP = 3
HANDSHAKE_TIMEOUT = 0.5


@pytest.fixture
async def app(db) -> AsyncIterator[App]:
    app = build_app(db.model_copy(update={
        "max_connections": CAP, "http2_handshake_timeout_seconds": HANDSHAKE_TIMEOUT,
        "metrics_port": 0}))
    await make_coin("BTC", rank=1)
    yield app
    app.server.close()
    await app.server.wait_closed()


@pytest.fixture
async def port(app: App) -> int:
    await app.server.start("127.0.0.1", 0)
    return app.server._server.sockets[0].getsockname()[1]


@pytest.fixture
async def tls_port(app: App, pki: Pki) -> int:
    tls = ServerTLS(TLSFiles(pki.server.cert, pki.server.key))
    await app.server.start("127.0.0.1", 0, ssl=tls.context)
    return app.server._server.sockets[0].getsockname()[1]


async def open_count_becomes(app: App, expected: int) -> None:
    async with asyncio.timeout(10):
        while app.server.connections.open != expected:
            await asyncio.sleep(0.01)


def sample(app: App, name: str) -> float | None:
    assert app.metrics is not None
    return app.metrics.registry.get_sample_value(name)


async def refused(port: int) -> ConnectionTerminated:
    """The GOAWAY a connection over the cap gets before the server closes it."""
    client = await RawClient.connect(port)
    try:
        goaway = await client.until(lambda e: isinstance(e, ConnectionTerminated))
        await client.until_closed()
        return goaway
    finally:
        await client.close()


async def grpcio_status(target: str, credentials: grpc.ChannelCredentials | None = None,
                        ) -> grpc.StatusCode:
    """What grpcio's client reports for a GetCoin (without waiting for a ready channel, so the
    refusal is not retried until the deadline)."""
    channel = (grpc.aio.insecure_channel(target) if credentials is None else
               grpc.aio.secure_channel(target, credentials))
    async with channel:
        try:
            await channel.unary_unary(GET_COIN)(BTC, timeout=10)
        except grpc.aio.AioRpcError as exc:
            return exc.code()
    return grpc.StatusCode.OK


@SQLITE
async def test_the_connection_over_the_cap_gets_goaway_and_a_freed_slot_serves_again(app, port):
    served = [await RawClient.connect(port) for _ in range(CAP)]
    for client in served:
        await assert_serves(client)
    assert app.server.connections.open == CAP

    goaway = await refused(port)
    assert (goaway.error_code, goaway.last_stream_id, goaway.additional_data) == (
        ErrorCodes.ENHANCE_YOUR_CALM, 0, b"too_many_connections")
    assert await grpcio_status(f"127.0.0.1:{port}") == grpc.StatusCode.UNAVAILABLE
    # grpclib's channel says a lost connection with StreamTerminatedError, never a status;
    # the service's client turns it into Unavailable (which it retries).
    channel = Channel("127.0.0.1", port)
    try:
        with pytest.raises(StreamTerminatedError):
            await HealthStub(channel).Check(HealthCheckRequest(), timeout=10)
    finally:
        channel.close()
    async with AsyncCryptoClient(f"127.0.0.1:{port}", retry=RetryPolicy(attempts=1)) as client:
        with pytest.raises(Unavailable):
            await client.get_coin("BTC")
    assert sample(app, "crypto_connections_refused_total") >= 4
    assert sample(app, "crypto_connections_open") == CAP

    await served.pop().close()
    await open_count_becomes(app, CAP - 1)
    again = await RawClient.connect(port)
    served.append(again)
    await assert_serves(again)
    for client in served:
        await assert_serves(client)  # the refusals took nothing from the others

    for client in served:
        await client.close()
    await open_count_becomes(app, 0)
    assert sample(app, "crypto_connections_open") == 0


@SQLITE
async def test_connections_the_server_closes_are_released_too(app, port):
    silent = [await RawClient.connect(port, preface=False) for _ in range(CAP)]
    assert app.server.connections.open == CAP
    for client in silent:  # closed by the server at the handshake timeout
        await client.until_closed()
    await open_count_becomes(app, 0)
    client = await RawClient.connect(port)
    try:
        await assert_serves(client)
    finally:
        await client.close()


async def stalled_tls(port: int, sent: bytes) -> asyncio.StreamWriter:
    """A TCP connection to the TLS port that sends `sent` and never finishes the handshake."""
    _, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(sent)
    return writer


@SQLITE
async def test_tls_handshakes_count_from_the_accept_and_are_released_when_they_fail(
        app, pki, tls_port):
    # Each holds a descriptor from the accept; asyncio never tells the protocol of them again.
    stalled = [await stalled_tls(tls_port, sent) for sent in (b"", b"", b"\x16\x03\x01")]
    await open_count_becomes(app, CAP)
    async with AsyncCryptoClient(f"localhost:{tls_port}", ca=pki.ca.file,
                                 retry=RetryPolicy(attempts=1)) as client:
        with pytest.raises(Unavailable):
            await client.get_coin("BTC")

    await open_count_becomes(app, 0)  # at the handshake timeout
    for writer in stalled:
        writer.close()
    # A handshake that fails at once (not TLS) is released too.
    failed = await stalled_tls(tls_port, b"not TLS at all, " * 64)
    await open_count_becomes(app, 0)
    failed.close()
    async with AsyncCryptoClient(f"localhost:{tls_port}", ca=pki.ca.file,
                                 retry=RetryPolicy(attempts=1)) as client:
        assert (await client.get_coin("BTC")).symbol == "BTC"
        assert app.server.connections.open == 1
    await open_count_becomes(app, 0)


@SQLITE
async def test_a_tls_client_over_the_cap_reads_the_goaway(app, pki, tls_port):
    served = [await asyncio.open_connection("127.0.0.1", tls_port, ssl=client_context(
        pki.ca.file), server_hostname="localhost") for _ in range(CAP)]
    await open_count_becomes(app, CAP)
    credentials = grpc.ssl_channel_credentials(pki.ca.file.read_bytes())
    assert await grpcio_status(f"localhost:{tls_port}", credentials) == (
        grpc.StatusCode.UNAVAILABLE)
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", tls_port, ssl=client_context(pki.ca.file), server_hostname="localhost")
    try:
        async with asyncio.timeout(10):
            received = await reader.read()  # to the end: the server closed
    finally:
        writer.close()
    assert received.endswith(b"too_many_connections")  # the GOAWAY's debug data, last
    for _, writer in served:
        writer.close()
    await open_count_becomes(app, 0)


def descriptors_after(max_connections: int, limits: tuple[int, int]) -> tuple[int, str]:
    """The soft open-file limit after `ensure_descriptors` in a process started with `limits`
    (soft, hard), and what it logged."""
    script = ("import logging, resource, sys\n"
              "from crypto_service.server.connection_cap import ensure_descriptors\n"
              "logging.basicConfig(stream=sys.stderr)\n"
              f"ensure_descriptors({max_connections}, 10)\n"
              "print(resource.getrlimit(resource.RLIMIT_NOFILE)[0])\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          check=True, timeout=60,
                          preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, limits))
    return int(done.stdout), done.stderr


def test_the_soft_open_file_limit_is_raised_to_fit_the_cap_or_a_warning_says_why_not():
    assert descriptors_after(1000, (512, 4096)) == (1000 + 10 + DESCRIPTOR_HEADROOM, "")
    soft, logged = descriptors_after(10_000, (512, 4096))
    assert soft == 4096
    assert "CRYPTO_MAX_CONNECTIONS=10000 needs about" in logged
    assert f"lower CRYPTO_MAX_CONNECTIONS to {4096 - 10 - DESCRIPTOR_HEADROOM}" in logged
