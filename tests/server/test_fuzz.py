"""Fuzzing every unary RPC over a real loopback channel: generated raw bodies (random bytes,
protobuf-shaped fields with any number and wire type, cut or corrupted valid messages) and
generated valid messages with extreme values, with odd metadata. No call may end INTERNAL or
UNKNOWN, the server must keep answering, and the ledger must pass the audit afterwards.

In CI: a fixed seed and at least 10,000 bodies. A longer local run (see docs/API.md):
    CRYPTO_FUZZ_EXAMPLES=20000 CRYPTO_FUZZ_SEED=7 .venv/bin/python -m pytest \\
        tests/server/test_fuzz.py -q -s
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections import Counter
from datetime import timedelta
from decimal import Decimal

import betterproto2
import pytest
from google.protobuf.descriptor import FieldDescriptor
from grpclib.client import Channel
from grpclib.const import Cardinality, Status
from grpclib.exceptions import GRPCError
from hypothesis import HealthCheck, given, seed, settings as hypothesis_settings
from hypothesis import strategies as st

from crypto_service.auth import Authenticator
from crypto_service.client.raw import RawCodec
from crypto_service.db import connect
from crypto_service.db.models import Coin
from crypto_service.domain.audit import audit
from crypto_service.generated import crypto as pb
from crypto_service.messages import google_class
from crypto_service.server.app import build_app
from crypto_service.server.codec import _is_repeated
from crypto_service.settings import Settings

EXAMPLES = int(os.environ.get("CRYPTO_FUZZ_EXAMPLES", "520"))
SEED = int(os.environ.get("CRYPTO_FUZZ_SEED", "20261127"))
BATCH = 20  # bodies sent at once per example: 520 examples are 10,400 bodies
SECRET = "fuzz-secret-that-is-long-enough-for-hs256"
SYMBOLS = ["BTC", "ETH", "SOL"]
FORBIDDEN = {Status.INTERNAL, Status.UNKNOWN}


class Served:
    """The app on a loopback port, on an event loop in its own thread (hypothesis drives the
    test synchronously), with a raw-bytes client channel. One coroutine owns the database
    from opening to the final audit (Tortoise's context belongs to it)."""

    def __init__(self, settings: Settings) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.settings = settings
        self.statuses: Counter[str] = Counter()
        self.ready = threading.Event()
        self.life = asyncio.run_coroutine_threadsafe(self._live(), self.loop)
        self.ready.wait(60)
        if self.life.done():
            self.life.result()  # start-up failed: raise why

    def run(self, coroutine, timeout: float = 120):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    async def _live(self):
        self.stopping = asyncio.Event()
        await connect.open_database(self.settings)
        try:
            for rank, symbol in enumerate(SYMBOLS, 1):
                await Coin.create(symbol=symbol, name=symbol.title(), slug=symbol.lower(),
                                  current_price_usd=Decimal("12.5"),
                                  market_cap_usd=Decimal(1000), volume_24h_usd=Decimal(10),
                                  rank=rank)
            self.app = build_app(self.settings)
            await self.app.server.start("127.0.0.1", 0)
            port = self.app.server._server.sockets[0].getsockname()[1]
            self.channel = Channel("127.0.0.1", port, codec=RawCodec())
            self.methods = {path: _google_type(handler.request_type)
                            for service in self.app.services
                            for path, handler in service.__mapping__().items()
                            if handler.cardinality is Cardinality.UNARY_UNARY}
            for user in (1, 2, 3):  # money to move
                assert await self.call("/crypto.CryptoService/Deposit", bytes(
                    pb.DepositRequest(user_id=user, symbol="BTC", amount="100")), {}) == "OK"
            self.ready.set()
            await self.stopping.wait()
            self.channel.close()
            self.app.server.close()
            await self.app.server.wait_closed()
            return await audit()
        finally:
            await connect.close_database()

    async def call(self, path: str, body: bytes, metadata: dict) -> str:
        try:
            async with self.channel.request(path, Cardinality.UNARY_UNARY, bytes, bytes,
                                            timeout=30, metadata=metadata) as stream:
                await stream.send_message(body, end=True)
                await stream.recv_message()
            return Status.OK.name
        except GRPCError as exc:
            assert exc.status not in FORBIDDEN, (path, body, metadata, exc.message)
            return exc.status.name

    async def batch(self, calls: list) -> None:
        self.statuses.update(await asyncio.gather(*(self.call(*c) for c in calls)))

    def stop(self):
        try:
            self.loop.call_soon_threadsafe(self.stopping.set)
            return self.life.result(60)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10)


def _google_type(request_type):
    if isinstance(request_type, type) and issubclass(request_type, betterproto2.Message):
        return google_class(request_type)
    return request_type  # health: a Google protobuf message already


@pytest.fixture
def served(tmp_path):
    # In memory where there is a tmpfs: thousands of ledger writes need no fsync to disk.
    url = f"sqlite://{tmp_path / 'fuzz.db'}"
    if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK):
        url = f"sqlite:///dev/shm/crypto-fuzz-{os.getpid()}-{tmp_path.name}.db"
    asyncio.run(connect.apply_migrations(Settings(database_url=url)))
    served = Served(Settings(database_url=url, jwt_secret=SECRET, simulate=False))
    yield served
    report = served.stop()
    assert report.clean, report.problems


# Raw bodies: what the wire can carry, valid or not. Strategies are built once per request
# type: building them per draw made generation, not the calls, the cost of the run.

def varint(value: int) -> bytes:
    value &= (1 << 64) - 1
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


FIELD_NUMBER = st.one_of(st.integers(1, 60), st.integers(1, 2**29 - 1))
WIRE_VALUE = {
    0: st.one_of(st.integers(-2**63, 2**64 - 1),
                 st.sampled_from([0, 1, -1, 2**31, 2**63])).map(varint),
    1: st.binary(min_size=8, max_size=8),
    5: st.binary(min_size=4, max_size=4),
    # a length that is right, or any length
    2: st.tuples(st.binary(max_size=40), st.one_of(st.none(), st.integers(0, 2**32))).map(
        lambda v: varint(len(v[0]) if v[1] is None else v[1]) + v[0]),
}
WIRE_FIELD = st.one_of(
    *(st.tuples(FIELD_NUMBER, value).map(lambda v, t=wire_type: varint(v[0] << 3 | t) + v[1])
      for wire_type, value in WIRE_VALUE.items()),
    # groups (3, 4) and the wire types that do not exist (6, 7)
    st.tuples(FIELD_NUMBER, st.sampled_from([3, 4, 6, 7]), st.binary(max_size=4)).map(
        lambda v: varint(v[0] << 3 | v[1]) + v[2]),
)
WIRE_BODY = st.lists(WIRE_FIELD, max_size=8).map(b"".join)
RANDOM_BODY = st.binary(max_size=120)


def corrupt(change: tuple) -> bytes:
    body, at, how, inserted, mask = change
    if not body:
        return body
    at %= len(body)
    if how == "cut":
        return body[:at]
    if how == "flip":
        return body[:at] + bytes([body[at] ^ mask]) + body[at + 1:]
    if how == "insert":
        return body[:at] + inserted + body[at:]
    return body + body


# Valid messages with extreme values, field by field from the descriptor.

INT32 = st.one_of(st.sampled_from([0, 1, 2, 3, -1, 2**31 - 1, -2**31, 100, 101, 3600, 3601]),
                  st.integers(-2**31, 2**31 - 1))
LONG = ["x" * 65, "x" * 129, "x" * 257, "\u00e9" * 300, "BTC" * 1000]
TEXT = st.one_of(st.text(st.characters(exclude_categories=["Cs"]), max_size=40),
                 st.sampled_from(LONG),
                 st.sampled_from(SYMBOLS + ["btc", " ", "", "\x00", "ETH\n", "٣", "ＢＴＣ"]))
AMOUNT = st.one_of(
    st.from_regex(r"[0-9]{1,21}(\.[0-9]{1,19})?", fullmatch=True),
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
    st.sampled_from(["0", "1", "0.000000000000000001", "99999999999999999999.999999999999999999",
                     "100000000000000000000", "1e3", "-1", "+1", ".5", "1.", "1_000", " 1",
                     "١", "１", "NaN", "Infinity", "1" * 64, "1" * 65]),
    TEXT)
MANY_SYMBOLS = st.integers(99, 150).map(lambda n: [f"S{i}" for i in range(n)])


def field_strategy(field: FieldDescriptor):
    if field.type == FieldDescriptor.TYPE_ENUM:
        return st.one_of(st.sampled_from(list(field.enum_type.values_by_number)), INT32)
    if field.type == FieldDescriptor.TYPE_BOOL:
        return st.booleans()
    if field.type == FieldDescriptor.TYPE_STRING:
        return AMOUNT if field.name == "amount" else TEXT
    if field.type == FieldDescriptor.TYPE_BYTES:
        return st.binary(max_size=64)
    if field.name.endswith("user_id"):
        return st.one_of(st.integers(0, 4), INT32)
    return INT32


def extreme_messages(google_type):
    optional = {}
    for field in google_type.DESCRIPTOR.fields:
        if field.type == FieldDescriptor.TYPE_MESSAGE:
            continue  # no request carries a message field the service reads
        value = field_strategy(field)
        optional[field.name] = st.one_of(st.lists(value, max_size=8), MANY_SYMBOLS) \
            if _is_repeated(field) else value

    def build(values: dict) -> bytes:
        message = google_type()
        for name, value in values.items():
            if isinstance(value, list):
                getattr(message, name).extend(value)
            else:
                setattr(message, name, value)
        return message.SerializeToString()

    return st.fixed_dictionaries({}, optional=optional).map(build)


def bodies_for(google_type):
    extreme = extreme_messages(google_type)
    corrupted = st.tuples(extreme, st.integers(0, 2**16),
                          st.sampled_from(["cut", "flip", "insert", "repeat"]),
                          st.binary(min_size=1, max_size=8), st.integers(1, 255)).map(corrupt)
    return st.one_of(RANDOM_BODY, WIRE_BODY, corrupted, extreme, extreme)


SIGNER = Authenticator(SECRET)
METADATA = st.one_of(
    st.just({}),
    st.builds(lambda key: {"idempotency-key": key},
              st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1,
                      max_size=200)),
    st.builds(lambda token: {"authorization": f"Bearer {token}"},
              st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=100)),
    st.builds(lambda user, admin: {"authorization": "Bearer " + SIGNER.issue(
        user, admin=admin, ttl=timedelta(minutes=5))}, st.integers(1, 4), st.booleans()),
)


def test_fuzzed_requests_never_get_internal_and_leave_the_ledger_sound(served):
    paths = sorted(served.methods)
    call = st.one_of(*(st.tuples(st.just(path), bodies_for(served.methods[path]), METADATA)
                       for path in paths))

    @seed(SEED)
    @hypothesis_settings(max_examples=EXAMPLES, deadline=None, database=None,
                         suppress_health_check=list(HealthCheck))
    @given(st.lists(call, min_size=BATCH, max_size=BATCH))
    def fuzz(calls):
        served.run(served.batch(calls))

    fuzz()
    total = sum(served.statuses.values())
    print(f"\nfuzzed {total} bodies over {len(paths)} unary RPCs: "
          + ", ".join(f"{name} {count}" for name, count in served.statuses.most_common()))
    assert total >= min(10_000, EXAMPLES * BATCH)
    assert not FORBIDDEN & {Status[name] for name in served.statuses}
    # Still answering, and with what it should.
    assert served.run(served.call("/crypto.CryptoService/GetCoin",
                                  bytes(pb.GetCoinRequest(symbol="BTC")), {})) == "OK"
