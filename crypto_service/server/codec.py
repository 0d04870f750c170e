"""Strict decoding and a message-size limit, which grpclib and betterproto2 do not have.

betterproto2's parser is lenient: it accepts truncated messages, keeps every member of a oneof
that appears on the wire, and crashes on some malformed input. Each request is therefore first
parsed by Google's protobuf (upb), which rejects malformed bytes and applies the real oneof
rule (the last member wins); its canonical re-encoding is what betterproto2 then reads.
"""

from __future__ import annotations

import struct
from typing import Any

import betterproto2
import grpclib.server
import grpclib.stream
from google.protobuf.message import DecodeError
from grpclib.const import Status
from grpclib.encoding.proto import ProtoCodec
from grpclib.exceptions import GRPCError

from ..messages import google_class
from ..db.internals import expect, parameters


class StrictCodec(ProtoCodec):
    def __init__(self, max_message_bytes: int) -> None:
        self.max_message_bytes = max_message_bytes

    def encode(self, message: Any, message_type: Any) -> bytes:
        # Bytes are a message encoded already (the price hub encodes each update once for
        # every subscriber): they go out as they are.
        if isinstance(message, bytes):
            return message
        return super().encode(message, message_type)

    def decode(self, data: bytes, message_type: Any) -> Any:
        if len(data) > self.max_message_bytes:
            raise _too_large(len(data), self.max_message_bytes)
        if not (isinstance(message_type, type) and issubclass(message_type, betterproto2.Message)):
            return super().decode(data, message_type)  # health and reflection: Google protobuf
        try:
            canonical = google_class(message_type).FromString(data).SerializeToString()
        except DecodeError:
            raise GRPCError(Status.INVALID_ARGUMENT, "malformed request message") from None
        return message_type.parse(canonical)


def _too_large(size: int, limit: int) -> GRPCError:
    return GRPCError(Status.RESOURCE_EXHAUSTED,
                     f"request message of {size} bytes exceeds the limit of {limit} bytes")


async def _recv_message_with_limit(stream: Any, codec: Any, message_type: Any) -> Any:
    """grpclib's `recv_message`, checking the declared length before reading the body, so an
    oversized request is refused without being buffered."""
    meta = await stream.recv_data(5)
    if not meta:
        return None
    compressed, length = struct.unpack(">?I", meta)
    if compressed:
        raise GRPCError(Status.UNIMPLEMENTED, "compressed requests are not supported")
    limit = getattr(codec, "max_message_bytes", None)
    if limit is not None and length > limit:
        raise _too_large(length, limit)
    data = await stream.recv_data(length)
    if len(data) != length:
        raise GRPCError(Status.INVALID_ARGUMENT, "request message ended early")
    return codec.decode(data, message_type)


# grpclib's server stream reads each request through `grpclib.server.recv_message` (the
# module global, looked up at each call), with the arguments ours takes.
expect(getattr(grpclib.server, "recv_message", None) is grpclib.stream.recv_message
       and parameters(grpclib.stream.recv_message) == ["stream", "codec", "message_type"]
       and "recv_message" in grpclib.server.Stream.recv_message.__code__.co_names,
       "grpclib", "grpclib.server.Stream.recv_message no longer reads requests through "
       "grpclib.server.recv_message(stream, codec, message_type)")


def install_message_size_limit() -> None:
    # grpclib reads request bodies through this module-level function; replacing it is the one
    # place where the declared length is known before the body is read.
    grpclib.server.recv_message = _recv_message_with_limit  # type: ignore[attr-defined]
