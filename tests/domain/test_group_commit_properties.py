"""Group commit changes nothing a caller can see: any sequence of deposits, withdrawals and
transfers (with reused idempotency keys, overdrafts and deposits past the balance limit) sent
all at once, and so posted in batches, gets the answers and leaves the balances that the same
sequence posted one request at a time does."""

import asyncio
import itertools
import re
from decimal import Decimal

from hypothesis import HealthCheck, given, settings as hypothesis_settings
from hypothesis import strategies as st

from crypto_service.db import connect
from crypto_service.db.models import Coin, Wallet
from crypto_service.domain import ledger
from crypto_service.domain.audit import audit
from crypto_service.domain.catalog import CatalogCache
from crypto_service.domain.errors import DomainError
from crypto_service.domain.money import MAX_BALANCE
from tests.conftest import make_coin

USERS = 3
amounts = st.one_of(
    st.decimals(min_value=Decimal("0.000000000000000001"), max_value=Decimal("1000"),
                places=18, allow_nan=False, allow_infinity=False),
    # A few of these pass the most a wallet can hold.
    st.sampled_from([MAX_BALANCE, Decimal("60000000000000000000")]),
)
keys = st.one_of(st.none(), st.sampled_from(["a", "b", "c"]))
requests = st.lists(st.one_of(
    st.tuples(st.just("deposit"), st.integers(0, USERS - 1), amounts, keys),
    st.tuples(st.just("withdraw"), st.integers(0, USERS - 1), amounts, keys),
    st.tuples(st.just("transfer"), st.integers(0, USERS - 1), amounts, keys,
              st.integers(1, USERS - 1)),
), min_size=1, max_size=25)

# Each run gets users (and so idempotency scopes and deposit ids) of its own.
user_blocks = itertools.count(1)
UUID_PATTERN = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def call(coin, base: int, request):
    kind, user, amount, key = request[:4]
    key = f"{base}-{key}" if key else None
    if kind == "deposit":
        return ledger.deposit(base + user, coin, amount, key)
    if kind == "withdraw":
        return ledger.withdraw(base + user, coin, amount, "dest", key)
    other = base + (user + request[4]) % USERS
    return ledger.transfer(base + user, other, coin, amount, "", key)


def comparable(outcomes: list, base: int) -> list:
    """Outcomes with what differs between two runs (user ids, transaction ids) replaced by
    what it stands for (the user's number, the request that wrote the transaction)."""
    written = {}
    for index, outcome in enumerate(outcomes):
        if isinstance(outcome, ledger.Posted) and not outcome.replayed:
            written[str(outcome.transaction_id)] = f"tx of request {index}"

    def plain(text: str) -> str:
        text = UUID_PATTERN.sub(lambda m: written.get(m.group(0), "unknown tx"), text)
        text = text.replace(f"'{base}-", "'")  # the run's own idempotency keys
        return re.sub(r"user (\d+)", lambda m: f"user #{int(m.group(1)) - base}", text)

    result = []
    for outcome in outcomes:
        if isinstance(outcome, DomainError):
            result.append((type(outcome).__name__, plain(str(outcome))))
        else:
            assert isinstance(outcome, ledger.Posted), outcome
            result.append(("posted", outcome.replayed, plain(str(outcome.transaction_id)),
                           sorted((user - base, wallet.balance)
                                  for user, wallet in outcome.wallets.items())))
    return result


async def balances(base: int) -> list:
    return sorted((w.user_id - base, w.balance)
                  for w in await Wallet.filter(user_id__gte=base, user_id__lt=base + USERS))


@hypothesis_settings(max_examples=30, deadline=None,
                     suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sequence=requests, batch_max=st.sampled_from([2, 5, 100]))
def test_batched_posting_answers_as_one_at_a_time_posting(settings, sequence, batch_max):
    alone, together = next(user_blocks) * 10, next(user_blocks) * 10

    async def run():
        async with connect.database(settings):
            if not await Coin.exists(symbol="BTC"):
                await make_coin("BTC")
            coin = (await CatalogCache().current()).by_symbol["BTC"]
            one_at_a_time = []
            for request in sequence:
                try:
                    one_at_a_time.append(await call(coin, alone, request))
                except DomainError as refused:
                    one_at_a_time.append(refused)

            ledger.configure(batch_max)
            try:
                batched = await asyncio.gather(*(call(coin, together, r) for r in sequence),
                                               return_exceptions=True)
                stats = ledger.batch_stats()
            finally:
                ledger.configure(ledger.DEFAULT_BATCH_MAX)
            # The requests really were posted together, as many as a batch takes.
            assert stats.largest == min(len(sequence), batch_max)
            assert stats.batches == -(-len(sequence) // batch_max)

            assert comparable(batched, together) == comparable(one_at_a_time, alone)
            assert await balances(together) == await balances(alone)
            report = await audit()
            assert report.clean, report.problems

    asyncio.run(run())
