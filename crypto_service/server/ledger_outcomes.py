"""What became of each ledger write: counted in `crypto_ledger_transactions_total` and traced
as a child span of its RPC. The servicer hands each write through `LedgerOutcomes.record`.

Outcomes: `posted` (money moved), `replayed` (an idempotency key seen before: the original
result, nothing moved), `refused` (the ledger said no: insufficient funds, a reused key with a
different request, no such wallet). A busy ledger (`Unavailable`) or a cancelled call has no
outcome: nothing was decided, and the gRPC series show them by status.
"""

from __future__ import annotations

from contextlib import nullcontext
from typing import Awaitable

from ..domain.errors import DomainError, Unavailable
from ..domain.ledger import Posted
from ..telemetry.metrics import Metrics
from ..telemetry.tracing import CallTracer


class LedgerOutcomes:
    def __init__(self, metrics: Metrics | None, tracer: CallTracer | None) -> None:
        self.metrics = metrics
        self.tracer = tracer

    async def record(self, kind: str, write: Awaitable[Posted]) -> Posted:
        if self.metrics is None and self.tracer is None:
            return await write
        span_scope = (self.tracer.child(f"ledger {kind}", {"ledger.kind": kind})
                      if self.tracer is not None else nullcontext())
        with span_scope as span:
            try:
                posted = await write
            except DomainError as exc:
                if not isinstance(exc, Unavailable):
                    self._outcome(span, kind, "refused")
                raise
            self._outcome(span, kind, "replayed" if posted.replayed else "posted")
            if span is not None:
                span.set_attribute("ledger.transaction_id", str(posted.transaction_id))
            return posted

    def _outcome(self, span, kind: str, outcome: str) -> None:
        if self.metrics is not None:
            self.metrics.ledger_outcome(kind, outcome)
        if span is not None:
            span.set_attribute("ledger.outcome", outcome)
