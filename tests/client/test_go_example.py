"""examples/go (grpc-go), built offline from Debian's packages in GOPATH mode as its README
says, against a live `crypto serve` with the bundled coins."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from crypto_service import CryptoClient
from crypto_service.auth import Authenticator
from tests.server.test_process import run_cli, spawn_server

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "go"
GOCODE = Path("/usr/share/gocode/src")
SECRET = "go-example-test-secret-0123456789abcdef"

# What the offline route needs, each with the Debian package that provides it.
TOOLS = {"go": "golang-go", "protoc": "protobuf-compiler", "protoc-gen-go": "protoc-gen-go",
         "protoc-gen-go-grpc": "protoc-gen-go-grpc"}
SOURCES = {
    "google.golang.org/grpc/version.go": "golang-google-grpc-dev",
    "google.golang.org/protobuf/internal/version/version.go": "golang-google-protobuf-dev",
    # registry.go is new in 1.4: with the 1.3 package the client builds, then panics.
    "github.com/golang/protobuf/proto/registry.go": "golang-github-golang-protobuf-1-5-dev",
}
MISSING = sorted({package for tool, package in TOOLS.items() if not shutil.which(tool)}
                 | {package for path, package in SOURCES.items() if not (GOCODE / path).exists()})
needs_go = pytest.mark.skipif(bool(MISSING), reason="the Go example builds from Debian's "
                              f"packages, missing here: apt-get install {' '.join(MISSING)}")


@pytest.fixture(scope="module")
def cryptoclient(tmp_path_factory) -> Path:
    """The binary, from examples/go/build-offline.sh (Go's build cache keeps rebuilds fast)."""
    build = tmp_path_factory.mktemp("go-example")
    done = subprocess.run(["sh", str(EXAMPLE / "build-offline.sh"), str(build)],
                          capture_output=True, text=True, timeout=170, check=False)
    assert done.returncode == 0, f"build-offline.sh failed:\n{done.stdout}{done.stderr}"
    return build / "cryptoclient"


@pytest.fixture(scope="module")
def address(tmp_path_factory) -> Iterator[str]:
    """`crypto serve` on a free port with the bundled coins, requiring tokens for wallets,
    prices held still so the stream's can be compared with GetCoin's."""
    database = tmp_path_factory.mktemp("go-example-db") / "crypto.db"
    env = {**os.environ, "CRYPTO_DATABASE_URL": f"sqlite://{database}",
           "CRYPTO_SIMULATE": "false", "CRYPTO_REQUIRE_AUTH": "true",
           "CRYPTO_JWT_SECRET": SECRET}
    for command in ("migrate", "seed"):
        done = run_cli(command, env=env)
        assert done.returncode == 0, done.stderr
    process, port = spawn_server(env)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        process.kill()  # a graceful stop is tests/server/test_process.py's subject
        process.communicate()


def token(user_id: int, *, admin: bool = False) -> str:
    return Authenticator(SECRET).issue(user_id, admin=admin, ttl=timedelta(minutes=10))


def run_client(binary: Path, address: str, token: str | None) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items()
           if key not in ("CRYPTO_TOKEN", "CRYPTO_ADDRESS")}
    if token:
        env["CRYPTO_TOKEN"] = token
    return subprocess.run([str(binary), address], env=env, capture_output=True, text=True,
                          timeout=60, check=False)


@needs_go
def test_runs_the_quick_start_against_the_service(cryptoclient, address):
    with CryptoClient(address, token=token(1, admin=True)) as client:
        client.deposit(1, "BTC", "0.5", transaction_id="go-example-btc")
        client.deposit(1, "ETH", "2.25", transaction_id="go-example-eth")
        btc, eth = client.get_coin("BTC"), client.get_coin("ETH")
        top = client.list_top_coins(10)
        portfolio = client.get_portfolio(1)

    done = run_client(cryptoclient, address, token(1))

    assert done.returncode == 0, done.stderr
    holdings = [f"  {h.symbol} {h.balance} = ${h.value_usd} ({h.percentage}%)"
                for h in portfolio.holdings]
    assert [h.symbol for h in portfolio.holdings] == ["BTC", "ETH"]
    stream = [f"{c.symbol}: ${c.current_price_usd} ({c.price_change_24h_percent}%)"
              for c in (btc, eth, btc)]  # in the order asked, at once, then every second
    assert done.stdout.splitlines() == [
        f"BTC Price: ${btc.current_price_usd}",
        *[f"#{c.rank} {c.symbol}: ${c.current_price_usd}" for c in top],
        f"Portfolio of user 1: ${portfolio.total_value_usd}",
        *holdings,
        *stream,
    ]
    assert [c.rank for c in top] == list(range(1, 11)) and top[0].symbol == "BTC"
    # Decimal strings arrive intact: the total is exactly what the holdings are worth.
    assert Decimal(portfolio.total_value_usd) == (Decimal("0.5") * Decimal(btc.current_price_usd)
                                                  + Decimal("2.25") * Decimal(eth.current_price_usd))


@needs_go
def test_a_refused_call_is_one_line_on_stderr_and_exit_1(cryptoclient, address):
    done = run_client(cryptoclient, address, token=None)  # wallets need a token here

    assert done.returncode == 1
    assert done.stderr == ("error: GetPortfolio: Unauthenticated: this call needs a bearer token: "
                           "send request metadata 'authorization: Bearer <token>'\n")
    lines = done.stdout.splitlines()
    assert lines[0].startswith("BTC Price: $") and len(lines) == 11  # the coins came first


@needs_go
def test_go_generate_makes_the_package_the_offline_build_compiles(cryptoclient, tmp_path):
    """The module route's `go generate` (main.go's directive) writes the same cryptopb as
    build-offline.sh; run offline here, so only the generation step is checked."""
    copy = tmp_path / "examples" / "go"
    shutil.copytree(EXAMPLE, copy, ignore=shutil.ignore_patterns("build", "cryptopb",
                                                                  "cryptoclient"))
    shutil.copytree(ROOT / "proto", tmp_path / "proto")
    env = {**os.environ, "GOPROXY": "off", "GOFLAGS": "-mod=mod", "GO111MODULE": "on"}
    done = subprocess.run(["go", "generate"], cwd=copy, env=env, capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    offline = cryptoclient.parent / "src" / "example.com" / "cryptoclient" / "cryptopb"
    names = ["crypto_service.pb.go", "crypto_service_grpc.pb.go"]
    assert sorted(p.name for p in (copy / "cryptopb").iterdir()) == names
    for name in names:
        assert (copy / "cryptopb" / name).read_text() == (offline / name).read_text()


@needs_go
def test_go_mod_requires_the_versions_the_offline_build_used():
    """go.mod names the grpc-go and protobuf-go versions CI built and ran the client with."""
    grpc = re.search(r'const Version = "([^"]+)"',
                     (GOCODE / "google.golang.org/grpc/version.go").read_text())[1]
    parts = dict(re.findall(r"\b(Major|Minor|Patch)\s*=\s*(\d+)",
                            (GOCODE / "google.golang.org/protobuf/internal/version/version.go")
                            .read_text()))
    protobuf = f"{parts['Major']}.{parts['Minor']}.{parts['Patch']}"
    done = subprocess.run(["go", "mod", "edit", "-json"], cwd=EXAMPLE, capture_output=True,
                          text=True, timeout=30, check=True)
    required = {r["Path"]: r["Version"] for r in json.loads(done.stdout)["Require"]}
    assert required["google.golang.org/grpc"] == f"v{grpc}"
    assert required["google.golang.org/protobuf"] == f"v{protobuf}"


def test_docs_show_the_tested_go_client():
    """docs/EXAMPLES.md's Go code is examples/go/main.go, character for character."""
    docs = (ROOT / "docs" / "EXAMPLES.md").read_text()
    blocks = re.findall(r"^```go\n(.*?)^```$", docs, flags=re.DOTALL | re.MULTILINE)
    assert blocks == [(EXAMPLE / "main.go").read_text()]
