"""grpclib refuses some calls before any handler runs (an unknown method, a malformed
`grpc-timeout`) with a Trailers-Only response that has no `content-type`. The gRPC protocol
requires it there, and grpclib's own client and grpc-go (grpcurl) check it: they reported
UNKNOWN "Missing content-type header" instead of the status sent (UNIMPLEMENTED "Method not
found"). grpclib sends these refusals through the module-global `_abort`, looked up at each
call; ours has it add the header to the ones with HTTP status 200 (the others are HTTP errors,
which clients map from the HTTP status).
"""

from __future__ import annotations

from typing import Any

import grpclib.server
from grpclib.const import Status

from ..db.internals import expect, parameters

CONTENT_TYPE = "application/grpc"

_grpclib_abort = getattr(grpclib.server, "_abort", None)
expect(_grpclib_abort is not None
       and parameters(_grpclib_abort) == ["h2_stream", "h2_status", "grpc_status",
                                         "grpc_message"]
       and "_abort" in grpclib.server.request_handler.__code__.co_names,
       "grpclib", "grpclib.server.request_handler no longer refuses calls through "
       "grpclib.server._abort(h2_stream, h2_status, grpc_status, grpc_message)")


async def _abort(h2_stream: Any, h2_status: int, grpc_status: Status | None = None,
                 grpc_message: str | None = None) -> None:
    stream = h2_stream if h2_status != 200 else _WithContentType(h2_stream)
    await _grpclib_abort(stream, h2_status, grpc_status, grpc_message)


class _WithContentType:
    """The stream, sending `content-type` with its headers."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    async def send_headers(self, headers: list[tuple[str, str]], end_stream: bool = False
                           ) -> None:
        status, *rest = headers  # `:status` must come first
        await self._stream.send_headers([status, ("content-type", CONTENT_TYPE), *rest],
                                        end_stream=end_stream)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def install_trailers_only_content_type() -> None:
    grpclib.server._abort = _abort  # type: ignore[attr-defined]
