"""grpclib's in-memory channel (`ChannelFor`) with a peer address of the test's choosing.

The in-memory transport has no address, and the server's auth rule (`CRYPTO_REQUIRE_AUTH=auto`)
treats a peer without one as remote. Tests that stand for a local client say so with
`LOCAL_PEER`; tests of the rule construct any peer they need, without sending a byte anywhere.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from grpclib.client import Channel
from grpclib.testing import ChannelFor

from crypto_service.auth import PeerAddress

LOCAL_PEER: PeerAddress = ("127.0.0.1", 50000)


class ChannelFrom(ChannelFor):
    def __init__(self, services: Collection[Any], *, peer: PeerAddress | None,
                 codec: Any = None) -> None:
        super().__init__(services, codec=codec)
        self._peer = peer

    async def __aenter__(self) -> Channel:
        channel = await super().__aenter__()
        # The server side's transport, as grpclib's Peer reads it (get_extra_info).
        transport = self._server_protocol.connection._transport
        transport._extra["peername"] = self._peer
        assert self._server_protocol.connection.get_peer().addr() == self._peer
        return channel
