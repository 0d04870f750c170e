"""One log line per call (method, status, duration, peer, user), for every service on the
server. In JSON logs the same values are fields of their own: `method`, `code`,
`duration_ms`, `peer`, `user` (when a token named one) and `trace_id` (when tracing is on)."""

from __future__ import annotations

import logging
from typing import Any

from grpclib.const import Status

from .context import current_call

log = logging.getLogger("crypto_service.access")


def _peer(stream: Any) -> str:
    address = stream.peer.addr() if stream.peer is not None else None
    if not address:
        return "-"
    host, port = address[0], address[1]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def log_call(path: str, status: Status, seconds: float, stream: Any,
             trace_id: str | None) -> None:
    if not log.isEnabledFor(logging.INFO):
        return
    duration_ms = round(seconds * 1000, 3)
    fields: dict[str, Any] = {"method": path, "code": status.name,
                              "duration_ms": duration_ms, "peer": _peer(stream)}
    text = "%s %s %.1fms peer=%s"
    args: list[Any] = [path, status.name, duration_ms, fields["peer"]]
    principal = current_call.get().principal
    if principal is not None:
        fields["user"] = principal.user_id
        text += " user=%d"
        args.append(principal.user_id)
    if trace_id is not None:
        fields["trace_id"] = trace_id
        text += " trace_id=%s"
        args.append(trace_id)
    log.info(text, *args, extra=fields)
