"""Strict decoding and a message-size limit, which grpclib and betterproto2 do not have.

betterproto2's parser is lenient: it accepts truncated messages, keeps every member of a oneof
that appears on the wire, and crashes on some malformed input. Each request, of every service
(health and reflection too), is therefore first parsed by Google's protobuf (upb), which rejects
malformed bytes and applies the real oneof rule (the last member wins). upb keeps a known field
sent with the wrong wire type as an unknown field, which betterproto2 would then crash on, so
such a field is refused here, as is an enum value the enum does not define (every enum in our
requests is closed). Fields this build does not know are dropped, as protobuf does, and the
canonical re-encoding is what betterproto2 then reads.
"""

from __future__ import annotations

import inspect
import struct
from typing import Any

import betterproto2
import grpclib.protocol
import grpclib.server
import grpclib.stream
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import DecodeError, Message
from google.protobuf.unknown_fields import UnknownFieldSet
from grpclib.const import Handler, Status
from grpclib.encoding.proto import ProtoCodec
from grpclib.exceptions import GRPCError

from ..messages import google_class
from ..db.internals import expect, parameters, sets_attributes

MALFORMED = "malformed request message"
ONE_MESSAGE = "a unary call carries one request message, got more"


class StrictCodec(ProtoCodec):
    def __init__(self, max_message_bytes: int) -> None:
        self.max_message_bytes = max_message_bytes

    def encode(self, message: Any, message_type: Any) -> bytes:
        # Bytes are a message encoded already (the price hub encodes each update once for
        # every subscriber): they go out as they are. The service builds its answers as
        # Google protobuf messages of the reply's descriptor (convert.py).
        if isinstance(message, bytes):
            return message
        if isinstance(message, Message):
            return message.SerializeToString()
        return super().encode(message, message_type)

    def decode(self, data: bytes, message_type: Any) -> Any:
        if len(data) > self.max_message_bytes:
            raise _too_large(len(data), self.max_message_bytes)
        betterproto = isinstance(message_type, type) and issubclass(message_type,
                                                                    betterproto2.Message)
        google_type = google_class(message_type) if betterproto else message_type
        try:
            message = google_type.FromString(data)
        except DecodeError:
            raise GRPCError(Status.INVALID_ARGUMENT, MALFORMED) from None
        problem = strict_problem(message)
        if problem:
            raise GRPCError(Status.INVALID_ARGUMENT, f"{MALFORMED}: {problem}")
        message.DiscardUnknownFields()
        if not betterproto:
            return message  # health and reflection: Google protobuf messages
        return message_type.parse(message.SerializeToString())


def strict_problem(message: Message) -> str | None:
    """What upb accepted but a strict reading refuses: a known field number with another wire
    type, an undefined enum value; in this message or any message within it."""
    known = message.DESCRIPTOR.fields_by_number
    for unknown in UnknownFieldSet(message):
        if unknown.field_number in known:
            return f"{known[unknown.field_number].name} has the wrong wire type"
    for field, value in message.ListFields():
        values = value if _is_repeated(field) else (value,)
        if field.type == FieldDescriptor.TYPE_ENUM:
            defined = field.enum_type.values_by_number
            for number in values:
                if number not in defined:
                    return f"{field.name} has an unknown value {number}"
        elif (field.type == FieldDescriptor.TYPE_MESSAGE
              and not field.message_type.GetOptions().map_entry):  # no request has a map
            for item in values:
                problem = strict_problem(item)
                if problem:
                    return problem
    return None


def _is_repeated(field: FieldDescriptor) -> bool:
    # `is_repeated` replaced `label` in protobuf 6.31 (and `label` is gone in 7).
    repeated = getattr(field, "is_repeated", None)
    return repeated if repeated is not None else field.label == FieldDescriptor.LABEL_REPEATED


def _too_large(size: int, limit: int) -> GRPCError:
    return GRPCError(Status.RESOURCE_EXHAUSTED,
                     f"request message of {size} bytes exceeds the limit of {limit} bytes")


async def _read(stream: Any, size: int) -> bytes:
    """`size` bytes of the request body; b"" at its clean end. grpclib's buffer raises
    AssertionError when the body ends inside a message."""
    try:
        return await stream.recv_data(size)
    except AssertionError:
        raise GRPCError(Status.INVALID_ARGUMENT, f"{MALFORMED}: the body ended early") from None


async def _recv_message_with_limit(stream: Any, codec: Any, message_type: Any) -> Any:
    """grpclib's `recv_message`, checking the declared length before reading the body, so an
    oversized request is refused without being buffered."""
    meta = await _read(stream, 5)
    if not meta:
        return None
    compressed, length = struct.unpack(">?I", meta)
    if compressed:
        raise GRPCError(Status.UNIMPLEMENTED, "compressed requests are not supported")
    limit = getattr(codec, "max_message_bytes", None)
    if limit is not None and length > limit:
        raise _too_large(length, limit)
    data = await _read(stream, length)
    if len(data) != length:
        raise GRPCError(Status.INVALID_ARGUMENT, f"{MALFORMED}: the body ended early")
    return codec.decode(data, message_type)


# grpclib's server stream reads each request through `grpclib.server.recv_message` (the
# module global, looked up at each call), with the arguments ours takes.
expect(getattr(grpclib.server, "recv_message", None) is grpclib.stream.recv_message
       and parameters(grpclib.stream.recv_message) == ["stream", "codec", "message_type"]
       and "recv_message" in grpclib.server.Stream.recv_message.__code__.co_names,
       "grpclib", "grpclib.server.Stream.recv_message no longer reads requests through "
       "grpclib.server.recv_message(stream, codec, message_type)")


# `_end_of_request` reads the rest of a single-request call's body from the grpclib server
# stream's HTTP/2 stream (`_stream`), where `recv_message` reads its messages.
expect(sets_attributes(grpclib.server.Stream, "_stream")
       and inspect.iscoroutinefunction(getattr(grpclib.protocol.Stream, "recv_data", None)),
       "grpclib", "a server Stream no longer reads its body through `_stream.recv_data`")


def install_message_size_limit() -> None:
    # grpclib reads request bodies through this module-level function; replacing it is the one
    # place where the declared length is known before the body is read.
    grpclib.server.recv_message = _recv_message_with_limit  # type: ignore[attr-defined]


class RequestRequired:
    """A service whose single-request RPCs (unary and server-streaming) take exactly one
    request message: a call that ends without it (grpclib would hand the handler None, and
    health would fail an assert: UNKNOWN) or sends more after it (grpclib would ignore them)
    is INVALID_ARGUMENT before the handler acts on the request."""

    def __init__(self, service: Any) -> None:
        self.service = service

    def __mapping__(self) -> dict[str, Handler]:
        return {path: handler if handler.cardinality.client_streaming
                else handler._replace(func=_requiring_request(handler.func))
                for path, handler in self.service.__mapping__().items()}


def _requiring_request(func: Any) -> Any:
    async def handle(stream: Any) -> None:
        receive = stream.recv_message

        async def recv_present() -> Any:
            message = await receive()
            if message is None:
                raise GRPCError(Status.INVALID_ARGUMENT, f"{MALFORMED}: no request message")
            await _end_of_request(stream._stream)
            return message

        stream.recv_message = recv_present
        await func(stream)

    return handle


async def _end_of_request(stream: Any) -> None:
    """Waits for the request body to end, as grpc-go does (a client may send END_STREAM in a
    later, empty DATA frame), and refuses any byte that comes before it. The wait is bounded
    as the wait for the message itself is: by the call's deadline, a reset of the stream, or
    the connection's end."""
    while True:
        try:
            extra = await stream.recv_data(1)
        except AssertionError:
            # grpclib's buffer takes an empty DATA frame without END_STREAM for the end of a
            # body that is short of the byte asked for; nothing was consumed: wait on.
            continue
        if extra:
            raise GRPCError(Status.INVALID_ARGUMENT, f"{MALFORMED}: {ONE_MESSAGE}")
        return
