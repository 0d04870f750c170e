"""A grpclib codec that sends and receives message bytes as they are: for callers that
encode or decode messages themselves (load generators, malformed-input tests), with
`bytes` as the request and reply types."""

from __future__ import annotations

from typing import Any

from grpclib.encoding.base import CodecBase


class RawCodec(CodecBase):
    __content_subtype__ = "proto"

    def encode(self, message: bytes, message_type: Any) -> bytes:
        return message

    def decode(self, data: bytes, message_type: Any) -> bytes:
        return data
