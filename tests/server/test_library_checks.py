"""Code that patches a library or reads its internals refuses to import against a version that
differs from what it relies on: one clear error at start-up, not a server that misbehaves at
its first request. Each case changes the library the way a new release could, in a fresh
interpreter, then imports the module that relies on it."""

import subprocess
import sys

import pytest

CHANGES = {
    "server/codec.py: requests no longer read through grpclib.server.recv_message": (
        "import grpclib.server\n"
        "async def recv_message(stream, codec, message_type, limit): ...\n"
        "grpclib.server.recv_message = recv_message\n",
        "crypto_service.server.codec",
        "no longer reads requests through grpclib.server.recv_message"),
    "server/guard.py: a server stream with slots takes no per-stream recv_message": (
        "import grpclib.server\n"
        "class Stream:\n"
        "    __slots__ = ('_stream',)\n"
        "    async def recv_message(self): ...\n"
        "grpclib.server.Stream = Stream\n",
        "crypto_service.server.guard",
        "can no longer be replaced per stream"),
    "server/prices.py: a protocol stream without _h2_connection": (
        "import grpclib.protocol\n"
        "class Stream:\n"
        "    def __init__(self, connection, h2, transport):\n"
        "        self.connection, self._h2, self._transport = connection, h2, transport\n"
        "grpclib.protocol.Stream = Stream\n",
        "crypto_service.server.prices",
        "the stream internals the price stream writes through changed"),
    "server/http2.py: a grpclib Server.start that keeps its listener elsewhere": (
        "import grpclib.server\n"
        "async def start(self, host=None, port=None, *, ssl=None):\n"
        "    self._listener = await self._loop.create_server(self._protocol_factory, host, port)\n"
        "grpclib.server.Server.start = start\n",
        "crypto_service.server.http2",
        "which server/http2.py rebuilds"),
    "db/connect.py: a migration executor that takes other arguments": (
        "import tortoise.migrations.executor as executor\n"
        "class MigrationExecutor:\n"
        "    def __init__(self, connection, apps_config, recorder): ...\n"
        "    async def plan(self, targets=None): ...\n"
        "executor.MigrationExecutor = MigrationExecutor\n",
        "crypto_service.db.connect",
        "MigrationExecutor(connection, apps_config).plan(targets) changed"),
}


@pytest.mark.parametrize("change, module, expected", CHANGES.values(), ids=CHANGES.keys())
def test_an_incompatible_library_stops_the_import_with_a_clear_error(change, module, expected):
    result = subprocess.run([sys.executable, "-c", f"{change}import {module}"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("crypto_service.db.internals.LibraryChanged: "), last
    assert expected in last


def test_the_installed_grpclib_passes_every_check():
    result = subprocess.run([sys.executable, "-c", "import crypto_service.server.app"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
