"""The cap on the connections one server process holds open (`max_connections`).

Each connection costs a file descriptor and, once made, an h2 connection and a grpclib
handler, from the TCP accept until it ends. Without a cap, a client opening idle
connections by the ten thousand holds them until the handshake or idle timeouts, and can
exhaust the process's descriptor limit, after which the database pool cannot connect either.
`ConnectionCount` counts them from the accept (over TLS the handshake holds a descriptor
too) and releases each once, however it ends; `LimitedServer` refuses the one over the cap.
"""

from __future__ import annotations

import logging
import resource
import time
from typing import Callable

from ..telemetry.metrics import Metrics

log = logging.getLogger("crypto_service.http2")

# A refusal is logged at most this often, with the number refused since the last line.
REFUSAL_LOG_INTERVAL_SECONDS = 10.0
# Descriptors a process needs besides its connections and its database pool: the listening
# sockets, the operations port and its scrapes, the price relay's LISTEN connection, logs,
# the sockets of GOAWAYs lingering, the interpreter's own files.
DESCRIPTOR_HEADROOM = 256


class ConnectionCount:
    """Open connections of one server process, against the cap."""

    def __init__(self, limit: int, metrics: Metrics | None = None) -> None:
        self.limit = limit
        self.open = 0
        self._metrics = metrics
        self._unlogged_refusals = 0
        self._logged_at: float | None = None

    def admit(self) -> Callable[[], None] | None:
        """The accepted connection's release, to call when it ends (later calls do nothing),
        or None when the process holds `limit` connections already: it is refused."""
        if self.open >= self.limit:
            self._refused()
            return None
        self.open += 1
        if self._metrics is not None:
            self._metrics.connections_open.inc()
        released = False

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                self.open -= 1
                if self._metrics is not None:
                    self._metrics.connections_open.dec()

        return release

    def _refused(self) -> None:
        if self._metrics is not None:
            self._metrics.connections_refused.inc()
        self._unlogged_refusals += 1
        now = time.monotonic()
        if self._logged_at is None or now - self._logged_at >= REFUSAL_LOG_INTERVAL_SECONDS:
            log.warning("refused %d connection(s) with GOAWAY too_many_connections: this process "
                        "holds %d, CRYPTO_MAX_CONNECTIONS", self._unlogged_refusals, self.open)
            self._logged_at = now
            self._unlogged_refusals = 0


def ensure_descriptors(max_connections: int, db_pool_size: int) -> None:
    """Raises the process's soft limit on open files (RLIMIT_NOFILE, `ulimit -n`) towards its
    hard limit so that `max_connections` fit beside the database pool, as Go's runtime does;
    says so in a warning when even the hard limit is too low."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = max_connections + db_pool_size + DESCRIPTOR_HEADROOM
    if soft == resource.RLIM_INFINITY or soft >= needed:
        return
    raised = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (raised, hard))
    except (ValueError, OSError):
        raised = soft
    if raised < needed:
        log.warning("CRYPTO_MAX_CONNECTIONS=%d needs about %d open files with the database pool, "
                    "but this process may open %d (ulimit -n): past that, connections and the "
                    "database pool fail to open. Raise the limit (systemd LimitNOFILE=, docker "
                    "--ulimit nofile=) or lower CRYPTO_MAX_CONNECTIONS to %d",
                    max_connections, needed, raised,
                    max(1, raised - db_pool_size - DESCRIPTOR_HEADROOM))
