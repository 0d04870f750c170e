"""HTTP/2 DATA frames put into an h2 connection without h2's frame objects.

`H2Connection.send_data` builds a `DataFrame`, its flags and padding objects and serializes
them: a large share of what each price update costs a server with many streams.
`send_data` below does the same bookkeeping (the connection's and the stream's state machines
and flow-control windows) and appends the 9-byte frame header and the payload itself, a
fraction of the work. It relies on h2 4.x internals, so at import it is checked against
`H2Connection.send_data` on a real pair of connections (same bytes, same windows); if they
differ it is not used and `send_data` is h2's own.
"""

from __future__ import annotations

from typing import Callable

from h2.config import H2Configuration
from h2.connection import ConnectionInputs, H2Connection
from h2.stream import StreamInputs

SendData = Callable[[H2Connection, int, bytes], None]


def h2_send_data(connection: H2Connection, stream_id: int, data: bytes) -> None:
    connection.send_data(stream_id, data)


def direct_send_data(connection: H2Connection, stream_id: int, data: bytes) -> None:
    """One DATA frame (no END_STREAM, no padding). The caller has checked that `data` fits the
    flow-control window and the peer's maximum frame size, as h2 would."""
    connection.state_machine.process_input(ConnectionInputs.SEND_DATA)
    stream = connection._get_stream_by_id(stream_id)
    stream.state_machine.process_input(StreamInputs.SEND_DATA)
    size = len(data)
    stream.outbound_flow_control_window -= size
    connection.outbound_flow_control_window -= size
    connection._data_to_send += (size.to_bytes(3, "big") + b"\0\0"
                                 + stream_id.to_bytes(4, "big") + data)


def _same_as_h2() -> bool:
    """Whether `direct_send_data` leaves a server connection exactly as h2's own would."""
    try:
        results = []
        for send in (h2_send_data, direct_send_data):
            client = H2Connection(H2Configuration(client_side=True))
            server = H2Connection(H2Configuration(client_side=False))
            client.initiate_connection()
            server.initiate_connection()
            server.receive_data(client.data_to_send())
            client.send_headers(1, [(":method", "POST"), (":path", "/p"), (":scheme", "http"),
                                    (":authority", "a")], end_stream=True)
            server.receive_data(client.data_to_send())
            server.send_headers(1, [(":status", "200")])
            server.data_to_send()
            send(server, 1, b"\0\0\0\0\3abc")
            results.append((server.data_to_send(), server.local_flow_control_window(1),
                            server.outbound_flow_control_window))
        return results[0] == results[1]
    except Exception:  # any change of h2's internals: use h2's own
        return False


send_data: SendData = direct_send_data if _same_as_h2() else h2_send_data
