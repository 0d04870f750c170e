"""Reading the operations port as Prometheus would: real HTTP, the text format parsed back."""

from __future__ import annotations

import asyncio
import time
from typing import Awaitable, Callable

import httpx
from prometheus_client.parser import text_string_to_metric_families

Samples = dict[tuple[str, frozenset], float]


def parse(text: str) -> Samples:
    return {(sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


async def scrape(port: int) -> Samples:
    async with httpx.AsyncClient() as client:
        response = await client.get(f"http://127.0.0.1:{port}/metrics", timeout=10)
    response.raise_for_status()
    return parse(response.text)


def value(samples: Samples, name: str, **labels: str) -> float:
    """A sample's value; KeyError when the series is not exported at all."""
    return samples[(name, frozenset(labels.items()))]


def grpc(method: str, service: str = "crypto.CryptoService", kind: str = "unary") -> dict:
    return {"grpc_type": kind, "grpc_service": service, "grpc_method": method}


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 10) -> None:
    """Waits, a bounded time, for what another process or task does on its own schedule."""
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.05)
