"""The metrics a scrape reports after a known sequence of calls, counted exactly: the gRPC
series as go-grpc-middleware names them, the ledger's outcomes, open and closed streams."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import httpx
import pytest
from grpclib.client import Channel
from grpclib.const import Status
from grpclib.exceptions import GRPCError
from grpclib.health.v1.health_grpc import HealthStub
from grpclib.health.v1.health_pb2 import HealthCheckRequest

from crypto_service.generated import crypto as pb
from crypto_service.server.app import build_app
from crypto_service.server.ops_http import OpsEndpoint
from tests.conftest import make_coin
from tests.server.test_loopback import gate  # noqa: F401 (a fixture, on this module's app)
from tests.telemetry.deploy_files import dashboard_queries, series_in
from tests.telemetry.scrape import eventually, grpc, scrape, value

GO_CODES = ["OK", "Canceled", "Unknown", "InvalidArgument", "DeadlineExceeded", "NotFound",
            "AlreadyExists", "PermissionDenied", "ResourceExhausted", "FailedPrecondition",
            "Aborted", "OutOfRange", "Unimplemented", "Internal", "Unavailable", "DataLoss",
            "Unauthenticated"]


@pytest.fixture
async def app(db):
    """The app with metrics (as with --metrics-port)."""
    return build_app(db.model_copy(update={"metrics_port": 0}))


@pytest.fixture
async def served(app, db):
    """The app serving gRPC and its operations port on loopback."""
    await app.server.start("127.0.0.1", 0)
    ops = OpsEndpoint(app.metrics, app.guard, db.db_pool_size)
    await ops.start("127.0.0.1", 0)
    channel = Channel("127.0.0.1", app.server._server.sockets[0].getsockname()[1])
    try:
        yield app, channel, ops.port
    finally:
        channel.close()
        await ops.close()
        app.server.close()
        await app.server.wait_closed()


def handled(samples, method: str, kind: str = "unary",
            service: str = "crypto.CryptoService") -> dict[str, float]:
    """Every grpc_code of a method, as Go's names, with its count."""
    return {code: value(samples, "grpc_server_handled_total", grpc_code=code,
                        **grpc(method, service, kind)) for code in GO_CODES}


def only(**counts: float) -> dict[str, float]:
    return {code: counts.get(code, 0.0) for code in GO_CODES}


async def test_a_known_sequence_of_calls_is_counted_exactly(served):
    _, channel, port = served
    await make_coin("BTC", rank=1, current_price_usd=Decimal("50000"))
    stub = pb.CryptoServiceStub(channel)

    for _ in range(2):
        await stub.get_coin(pb.GetCoinRequest(symbol="BTC"))
    with pytest.raises(GRPCError):
        await stub.get_coin(pb.GetCoinRequest(symbol="NOPE"))
    deposit = pb.DepositRequest(user_id=1, symbol="BTC", amount="0.5", transaction_id="tx-1")
    await stub.deposit(deposit)
    await stub.deposit(deposit)  # replayed: nothing moves
    with pytest.raises(GRPCError) as refused:
        await stub.withdraw(pb.WithdrawRequest(user_id=1, symbol="BTC", amount="5",
                                               destination_address="bc1-away"))
    assert refused.value.status is Status.FAILED_PRECONDITION
    await HealthStub(channel).Check(HealthCheckRequest(service="crypto.CryptoService"))
    # Two streams, each sent its first update at once (the next would be an hour later);
    # then one is closed by its client.
    streams = [stub.stream_prices(pb.StreamPricesRequest(symbols=["BTC"], interval_seconds=3600))
               for _ in range(2)]
    for stream in streams:
        await anext(stream)

    open_ = await scrape(port)
    assert value(open_, "crypto_price_streams") == 2
    assert handled(open_, "StreamPrices", "server_stream") == only()

    await streams[0].aclose()

    async def closed_stream_counted() -> bool:
        samples = await scrape(port)
        return value(samples, "grpc_server_handled_total", grpc_code="Canceled",
                     **grpc("StreamPrices", kind="server_stream")) == 1

    await eventually(closed_stream_counted)
    samples = await scrape(port)

    get_coin = grpc("GetCoin")
    assert value(samples, "grpc_server_started_total", **get_coin) == 3
    assert handled(samples, "GetCoin") == only(OK=2, NotFound=1)
    assert value(samples, "grpc_server_msg_received_total", **get_coin) == 3
    assert value(samples, "grpc_server_msg_sent_total", **get_coin) == 2
    assert value(samples, "grpc_server_handling_seconds_count", **get_coin) == 3
    assert value(samples, "grpc_server_handling_seconds_bucket", le="+Inf", **get_coin) == 3
    assert handled(samples, "Deposit") == only(OK=2)
    assert handled(samples, "Withdraw") == only(FailedPrecondition=1)
    assert value(samples, "grpc_server_msg_sent_total", **grpc("Withdraw")) == 0
    health = grpc("Check", service="grpc.health.v1.Health")
    assert value(samples, "grpc_server_started_total", **health) == 1
    assert handled(samples, "Check", service="grpc.health.v1.Health") == only(OK=1)
    # A method never called is there with zeros, as go-grpc-middleware initializes them.
    assert handled(samples, "Transfer") == only()

    ledger = {(kind, outcome): value(samples, "crypto_ledger_transactions_total",
                                     kind=kind, outcome=outcome)
              for kind in ("deposit", "withdraw", "transfer")
              for outcome in ("posted", "replayed", "refused")}
    assert {k: v for k, v in ledger.items() if v} == {("deposit", "posted"): 1,
                                                      ("deposit", "replayed"): 1,
                                                      ("withdraw", "refused"): 1}

    stream_prices = grpc("StreamPrices", kind="server_stream")
    assert value(samples, "grpc_server_started_total", **stream_prices) == 2
    assert value(samples, "grpc_server_msg_received_total", **stream_prices) == 2
    assert value(samples, "grpc_server_msg_sent_total", **stream_prices) == 2
    assert handled(samples, "StreamPrices", "server_stream") == only(Canceled=1)
    assert value(samples, "crypto_price_streams") == 1
    assert value(samples, "crypto_price_updates_sent_total") == 2
    assert value(samples, "crypto_price_lag_seconds_count") == 2
    assert value(samples, "crypto_catalog_reload_seconds_count") >= 1

    await streams[1].aclose()

    async def no_stream_open() -> bool:
        return value(await scrape(port), "crypto_price_streams") == 0

    await eventually(no_stream_open)


async def test_the_operations_port_answers_health_and_refuses_other_requests(served):

    _, _, port = served
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
        health, ready = await client.get("/healthz"), await client.get("/readyz")
        assert (health.status_code, health.text) == (200, "ok\n")
        assert (ready.status_code, ready.text) == (200, "ready\n")
        assert (await client.get("/nope")).status_code == 404
        assert (await client.post("/metrics")).status_code == 405
        metrics = await client.get("/metrics")
        assert metrics.headers["content-type"].startswith("text/plain")
        # Prometheus asks for OpenMetrics, and gets it.
        open_metrics = await client.get("/metrics", headers={
            "accept": "application/openmetrics-text;version=1.0.0,text/plain;q=0.5"})
        assert open_metrics.headers["content-type"].startswith("application/openmetrics-text")
        assert open_metrics.text.endswith("# EOF\n")


async def test_readyz_is_503_while_draining_and_healthz_stays_200(served, gate):  # noqa: F811

    app, channel, port = served
    entered, release = gate
    await make_coin("BTC", rank=1)
    in_flight = asyncio.create_task(
        pb.CryptoServiceStub(channel).get_coin(pb.GetCoinRequest(symbol="BTC")))
    await entered.wait()
    drain = asyncio.create_task(app.drain(grace_seconds=30))
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
        async def not_ready() -> bool:
            return (await client.get("/readyz")).status_code == 503

        await eventually(not_ready)
        assert (await client.get("/readyz")).text == "not ready: draining\n"
        assert (await client.get("/healthz")).status_code == 200
        assert not drain.done()  # the call in flight is still being waited for
        release.set()
        assert (await in_flight).coin.symbol == "BTC"
        await asyncio.wait_for(drain, 10)
        assert (await client.get("/readyz")).status_code == 503


async def test_the_grafana_dashboard_uses_only_series_the_service_exports(served):
    _, _, port = served
    exported = {name for name, _ in await scrape(port)}
    used = series_in(dashboard_queries())
    assert used and used <= exported, used - exported


async def test_counts_written_once_a_loop_turn_are_what_one_write_a_call_gives():
    """Hot-path counts are written once per turn of the event loop (telemetry/pending.py): the
    same buckets, sum and totals as observing and counting every call on its own, bounds
    included (a duration equal to a bucket's bound falls in that bucket, as in `observe`)."""
    from prometheus_client import CollectorRegistry, Counter, Histogram

    from crypto_service.telemetry.pending import PendingCounts
    from crypto_service.telemetry.metrics import GO_DEFAULT_BUCKETS

    durations = [0, 0.005, 0.0050001, 0.01, 0.3, 2.5, 10, 10.5, 0.004, 0.005]
    registries = []
    for batched in (False, True):
        registry = CollectorRegistry()
        counter = Counter("calls", "calls", registry=registry)
        histogram = Histogram("seconds", "seconds", buckets=GO_DEFAULT_BUCKETS,
                              registry=registry)
        pending = PendingCounts()
        for seconds in durations:
            if batched:
                pending.inc(counter)
                pending.observe(histogram, seconds)
            else:
                counter.inc()
                histogram.observe(seconds)
        if batched:
            assert registry.get_sample_value("calls_total") == 0  # not before the turn ends
        await asyncio.sleep(0)  # the loop turns: the pending counts are written
        registries.append(registry)
    samples = [{(s.name, tuple(sorted(s.labels.items()))): s.value
                for metric in registry.collect() for s in metric.samples
                if not s.name.endswith("_created")}  # when each was made: they differ
               for registry in registries]
    assert samples[0] == samples[1]
    assert samples[1][("seconds_bucket", (("le", "0.005"),))] == 4
    assert samples[1][("calls_total", ())] == len(durations)
