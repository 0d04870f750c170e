"""The price hub's streams in the metrics: open streams, updates sent, and their lag.

StreamPrices writes its updates into HTTP/2 itself (server/prices.py), past grpclib's
`send_message`, so its `grpc_server_msg_sent_total` is counted here, as each delivery is made,
together with `crypto_price_updates_sent_total` (written once per loop turn, `Metrics.pending`).
"""

from __future__ import annotations

import time
from typing import Sequence

from grpclib.const import Cardinality

from ..domain.prices.hub import Tick
from ..telemetry.metrics import Metrics
from .calls import GRPC_TYPES
from .prices import PriceStreams


class PriceStreamMetrics:
    def __init__(self, metrics: Metrics) -> None:
        service, _, method = PriceStreams.PATH.lstrip("/").rpartition("/")
        self._streams = metrics.price_streams
        self._updates = metrics.price_updates_sent
        self._messages = metrics.grpc_msg_sent.labels(
            GRPC_TYPES[Cardinality.UNARY_STREAM], service, method)
        self._lag = metrics.price_lag_seconds
        self._pending = metrics.pending

    def opened(self) -> None:
        self._streams.inc()

    def closed(self) -> None:
        self._streams.dec()

    def sent(self, ticks: Sequence[Tick]) -> None:
        count = len(ticks)
        self._pending.inc(self._updates, count)
        self._pending.inc(self._messages, count)
        self._pending.observe(self._lag, max(0.0, time.time() - min(tick.at for tick in ticks)))
