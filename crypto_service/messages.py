"""Google protobuf views of betterproto2 messages.

betterproto2 is what the service and the client use, but Google's protobuf (upb) is the
reference for strict parsing (the server's codec) and for proto3 canonical JSON:
betterproto2's `to_json` writes `volume24HUsd` where protobuf, grpcurl and buf write
`volume24hUsd`. Both conversions go through the same generated descriptor, so nothing here
can drift from the proto.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import betterproto2
from google.protobuf import json_format
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass


@cache
def google_class(message_type: type[betterproto2.Message]) -> type[Message]:
    """The Google protobuf class for a betterproto2 message type (same descriptor)."""
    return GetMessageClass(message_type.DESCRIPTOR)


def to_google(message: betterproto2.Message) -> Message:
    return google_class(type(message)).FromString(bytes(message))


def to_dict(message: betterproto2.Message | Message, *,
            proto_names: bool = False) -> dict[str, Any]:
    """Canonical proto3 JSON as a dict, every field present (zeros too) so the shape is stable.
    `proto_names` keeps `volume_24h_usd` instead of the JSON name `volume24hUsd`. A Google
    protobuf message (such as grpc.health.v1's) is taken as it is."""
    google = message if isinstance(message, Message) else to_google(message)
    return json_format.MessageToDict(google, preserving_proto_field_name=proto_names,
                                     always_print_fields_with_no_presence=True)


def to_json(message: betterproto2.Message | Message, *, indent: int | None = 2) -> str:
    """Canonical proto3 JSON text of a message (one line when `indent` is None)."""
    return json.dumps(to_dict(message), indent=indent, ensure_ascii=False)
