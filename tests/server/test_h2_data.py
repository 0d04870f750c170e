"""DATA frames written directly into h2 must leave the connection as h2's own send_data does."""

from h2.config import H2Configuration
from h2.connection import H2Connection
from h2.events import DataReceived

from crypto_service.server import h2_data


def test_the_direct_path_is_in_use_with_the_installed_h2():
    assert h2_data.send_data is h2_data.direct_send_data


def pair() -> tuple[H2Connection, H2Connection]:
    client = H2Connection(H2Configuration(client_side=True))
    server = H2Connection(H2Configuration(client_side=False))
    client.initiate_connection()
    server.initiate_connection()
    server.receive_data(client.data_to_send())
    client.receive_data(server.data_to_send())
    for stream_id in (1, 3):
        client.send_headers(stream_id, [(":method", "POST"), (":path", "/p"),
                                        (":scheme", "http"), (":authority", "a")],
                            end_stream=True)
    server.receive_data(client.data_to_send())
    for stream_id in (1, 3):
        server.send_headers(stream_id, [(":status", "200")])
    client.receive_data(server.data_to_send())
    return client, server


def test_frames_windows_and_what_the_peer_reads_match_h2s_own():
    sent = [(1, b"\0\0\0\0\5hello"), (3, b"x" * 16_384), (1, b""), (3, b"\0" * 300)]
    outcomes = []
    for send in (h2_data.h2_send_data, h2_data.direct_send_data):
        client, server = pair()
        for stream_id, data in sent:
            send(server, stream_id, data)
        wire = server.data_to_send()
        received = [(e.stream_id, e.data) for e in client.receive_data(wire)
                    if isinstance(e, DataReceived)]
        outcomes.append((wire, received, server.outbound_flow_control_window,
                         [server.local_flow_control_window(s) for s in (1, 3)]))
    assert outcomes[0] == outcomes[1]
    assert outcomes[1][1] == sent
