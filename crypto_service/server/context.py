"""Per-call context for handlers, which betterproto2 calls with the message alone."""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass

from ..auth import Principal


@dataclass(frozen=True, slots=True)
class CallContext:
    principal: Principal | None
    idempotency_key: str | None


current_call: ContextVar[CallContext] = ContextVar("current_call",
                                                   default=CallContext(None, None))
