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


def to_dict(message: betterproto2.Message, *, proto_names: bool = False) -> dict[str, Any]:
    """Canonical proto3 JSON as a dict, every field present (zeros too) so the shape is stable.
    `proto_names` keeps `volume_24h_usd` instead of the JSON name `volume24hUsd`."""
    return json_format.MessageToDict(to_google(message), preserving_proto_field_name=proto_names,
                                     always_print_fields_with_no_presence=True)


def to_json(value: betterproto2.Message | list[betterproto2.Message]) -> str:
    """Canonical proto3 JSON text of a message, or an array of them."""
    data = [to_dict(item) for item in value] if isinstance(value, list) else to_dict(value)
    return json.dumps(data, indent=2)
