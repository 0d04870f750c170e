"""`crypto serve --metrics-port` as deployed: `--workers 2` summed into one scrape, a real
Prometheus server scraping it, and JSON logs read back line by line."""

from __future__ import annotations

import asyncio
import json
import shutil
import signal
import subprocess
import time
import urllib.parse
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from grpclib.client import Channel
from grpclib.exceptions import GRPCError

from crypto_service.auth import Authenticator
from crypto_service.generated import crypto as pb
from tests.server.test_process import BIN, free_port, run_cli
from tests.server.test_workers import ACCESS_LINE
from tests.telemetry.deploy_files import ALERT_RULES, dashboard_queries, series_in
from tests.telemetry.scrape import eventually, grpc, parse, scrape, value

PROMETHEUS = shutil.which("prometheus")


# For what does not depend on the database: one backend is enough.
SQLITE_ONLY = pytest.mark.parametrize("settings", ["sqlite"], indirect=True)


def start_serving(env: dict, *args: str, listeners: int = 1) -> subprocess.Popen:
    """`crypto serve ARGS` once `listeners` processes log that they serve."""
    process = subprocess.Popen([str(BIN / "crypto"), "serve", "--host", "127.0.0.1", *args],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True)
    head = []
    while sum("serving crypto.CryptoService" in line for line in head) < listeners:
        line = process.stdout.readline()
        if not line:
            process.wait(10)
            raise AssertionError("".join(head))
        head.append(line)
    process.head = "".join(head)
    return process


def stop(process: subprocess.Popen) -> str:
    """SIGTERM, then everything it wrote; the process must have stopped cleanly."""
    process.send_signal(signal.SIGTERM)
    try:
        output = process.head + process.communicate(timeout=30)[0]
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, output
    return output


async def get_coins(port: int, symbols: list[str], *, metadata: dict | None = None) -> None:
    """Each call on its own connection: with workers, the kernel picks one per connection."""
    for symbol in symbols:
        channel = Channel("127.0.0.1", port)
        try:
            await pb.CryptoServiceStub(channel).get_coin(pb.GetCoinRequest(symbol=symbol),
                                                         timeout=10, metadata=metadata)
        except GRPCError:
            pass
        finally:
            channel.close()


def test_workers_report_every_call_in_one_scrape(env, settings):
    assert run_cli("seed", env=env).returncode == 0
    port, metrics_port = free_port(), free_port()
    server = start_serving(env, "--port", str(port), "--workers", "2",
                           "--metrics-port", str(metrics_port), listeners=2)
    try:
        asyncio.run(get_coins(port, ["BTC"] * 30 + ["NOPE"] * 10))
        # Each scrape lands on either worker; every one must report both workers' calls.
        for _ in range(6):
            samples = parse(httpx.get(f"http://127.0.0.1:{metrics_port}/metrics").text)
            get_coin = grpc("GetCoin")
            assert value(samples, "grpc_server_started_total", **get_coin) == 40
            assert value(samples, "grpc_server_handled_total", grpc_code="OK", **get_coin) == 30
            assert value(samples, "grpc_server_handled_total", grpc_code="NotFound",
                         **get_coin) == 10
            assert value(samples, "grpc_server_handling_seconds_count", **get_coin) == 40
            each = 1 if settings.database_url.startswith("sqlite") else settings.db_pool_size
            assert value(samples, "crypto_db_pool_max") == 2 * each
        assert httpx.get(f"http://127.0.0.1:{metrics_port}/readyz").status_code == 200
    finally:
        output = stop(server)
    assert len(set(ACCESS_LINE.findall(output))) == 2, output  # both workers answered


PROMETHEUS_CONFIG = """\
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files: ["{rules}"]
scrape_configs:
  - job_name: crypto
    static_configs:
      - targets: ["127.0.0.1:{port}"]
"""


def api(prometheus_port: int, path: str, **params: str) -> dict:
    url = f"http://127.0.0.1:{prometheus_port}/api/v1/{path}?{urllib.parse.urlencode(params)}"
    try:
        return httpx.get(url, timeout=5).json()
    except httpx.TransportError:  # not listening yet
        return {}


def query(prometheus_port: int, promql: str) -> list:
    body = api(prometheus_port, "query", query=promql)
    return body["data"]["result"] if body.get("status") == "success" else []


@SQLITE_ONLY
@pytest.mark.skipif(PROMETHEUS is None, reason="the prometheus binary is not installed "
                                               "(Debian: apt-get install prometheus)")
def test_a_real_prometheus_scrapes_the_calls(env, tmp_path: Path):
    assert run_cli("seed", env=env).returncode == 0
    port, metrics_port, prometheus_port = free_port(), free_port(), free_port()
    server = start_serving(env, "--port", str(port), "--metrics-port", str(metrics_port))
    config = tmp_path / "prometheus.yml"
    config.write_text(PROMETHEUS_CONFIG.format(port=metrics_port, rules=ALERT_RULES))
    prometheus = subprocess.Popen(
        [PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
         f"--web.listen-address=127.0.0.1:{prometheus_port}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        asyncio.run(get_coins(port, ["BTC"] * 5 + ["NOPE"] * 2))
        promql = 'sum(grpc_server_handled_total{grpc_method="GetCoin"})'
        deadline, result = time.monotonic() + 60, []
        while time.monotonic() < deadline:
            assert prometheus.poll() is None, prometheus.stderr.read()
            result = query(prometheus_port, promql)
            if result and result[0]["value"][1] == "7":
                break
            time.sleep(0.5)
        assert result and result[0]["value"][1] == "7", result
        by_code = query(prometheus_port, 'sum by (grpc_code) '
                                         '(grpc_server_handled_total{grpc_method="GetCoin"})')
        assert {r["metric"]["grpc_code"]: r["value"][1] for r in by_code
                if r["value"][1] != "0"} == {"OK": "5", "NotFound": "2"}

        # The example alert rules load, and evaluate over the service's series; the dashboard's
        # queries are valid PromQL over them.
        scraped = parse(httpx.get(f"http://127.0.0.1:{metrics_port}/metrics").text)
        exported = {name for name, _ in scraped}
        deadline, rules = time.monotonic() + 30, []
        while time.monotonic() < deadline:
            groups = api(prometheus_port, "rules").get("data", {}).get("groups", [])
            rules = [rule for group in groups for rule in group["rules"]]
            never = "0001-01-01T00:00:00Z"  # Prometheus' time of a rule not evaluated yet
            if rules and all(rule["lastEvaluation"] != never for rule in rules):
                break
            time.sleep(0.5)
        assert len(rules) == 5 and all(rule["health"] == "ok" for rule in rules), rules
        used = series_in([rule["query"] for rule in rules])
        assert used <= exported, used - exported
        for promql in dashboard_queries():
            assert api(prometheus_port, "query", query=promql)["status"] == "success", promql
    finally:
        prometheus.terminate()
        prometheus.wait(30)
        stop(server)


@SQLITE_ONLY
def test_json_logs_are_one_object_a_line_with_the_access_fields(env):
    assert run_cli("seed", env=env).returncode == 0
    secret = "json-log-test-secret-of-32-bytes!"
    env = {**env, "CRYPTO_LOG_FORMAT": "json", "CRYPTO_JWT_SECRET": secret}
    token = Authenticator(secret).issue(7, admin=False, ttl=timedelta(minutes=5))
    port, metrics_port = free_port(), free_port()
    server = start_serving(env, "--port", str(port), "--metrics-port", str(metrics_port))

    async def calls() -> None:
        await get_coins(port, ["BTC"], metadata={"authorization": f"Bearer {token}"})
        await get_coins(port, ["NOPE"])
        # A stream the client gives up on: grpclib's per-call line must not be at INFO.
        channel = Channel("127.0.0.1", port)
        try:
            stream = pb.CryptoServiceStub(channel).stream_prices(
                pb.StreamPricesRequest(symbols=["BTC"], interval_seconds=3600))
            await anext(stream)
            await stream.aclose()
        finally:
            channel.close()

        async def cancel_seen() -> bool:
            return value(await scrape(metrics_port), "grpc_server_handled_total",
                         grpc_code="Canceled", **grpc("StreamPrices", kind="server_stream")) == 1

        await eventually(cancel_seen)

    try:
        asyncio.run(calls())
    finally:
        output = stop(server)
    records = [json.loads(line) for line in output.splitlines()]  # every line is JSON
    assert all({"time", "level", "logger", "message"} <= set(r) for r in records), records
    access = [r for r in records if r["logger"] == "crypto_service.access"]
    by_code = {r["code"]: r for r in access}
    assert set(by_code) == {"OK", "NOT_FOUND", "CANCELLED"}, access
    ok = by_code["OK"]
    assert ok["method"] == "/crypto.CryptoService/GetCoin" and ok["user"] == 7
    assert isinstance(ok["duration_ms"], float) and ok["peer"].startswith("127.0.0.1:")
    assert "user" not in by_code["NOT_FOUND"]
    assert by_code["CANCELLED"]["method"] == "/crypto.CryptoService/StreamPrices"
    assert not [r for r in records if "Request was cancelled" in r["message"]], records
