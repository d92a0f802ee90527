"""``api.http_protocol.GatheredWrites``: the writes of one turn of the event loop reach
the socket in one call; a close writes what is gathered first."""

from __future__ import annotations

import asyncio
import socket

from api.http_protocol import GatheredWrites


class RecordingTransport(asyncio.Transport):
    """A transport that keeps each ``write`` call it is given."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[bytes] = []
        self.closed = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.calls.append(bytes(data))

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def get_extra_info(self, name: str, default: object = None) -> object:
        return ("127.0.0.1", 8000) if name == "sockname" else default


def test_a_response_written_in_two_parts_reaches_the_transport_once() -> None:
    async def respond() -> list[bytes]:
        transport = RecordingTransport()
        gathered = GatheredWrites(transport, asyncio.get_running_loop())
        gathered.write(b"HTTP/1.1 201 Created\r\ncontent-length: 2\r\n\r\n")
        gathered.write(b"{}")
        assert transport.calls == []  # nothing is sent within the turn
        await asyncio.sleep(0)
        return transport.calls

    assert asyncio.run(respond()) == [b"HTTP/1.1 201 Created\r\ncontent-length: 2\r\n\r\n{}"]


def test_a_close_writes_what_is_gathered_first() -> None:
    async def close_at_once() -> RecordingTransport:
        transport = RecordingTransport()
        gathered = GatheredWrites(transport, asyncio.get_running_loop())
        gathered.write(b"answer")
        gathered.close()
        await asyncio.sleep(0)  # the scheduled flush finds nothing left to write
        return transport

    transport = asyncio.run(close_at_once())
    assert transport.calls == [b"answer"]
    assert transport.closed


def test_nothing_is_written_to_a_transport_that_is_closing() -> None:
    async def peer_gone() -> list[bytes]:
        transport = RecordingTransport()
        gathered = GatheredWrites(transport, asyncio.get_running_loop())
        gathered.write(b"answer")
        transport.closed = True  # the client went away within the turn
        await asyncio.sleep(0)
        return transport.calls

    assert asyncio.run(peer_gone()) == []


def test_everything_else_is_the_transports_own() -> None:
    async def ask() -> object:
        gathered = GatheredWrites(RecordingTransport(), asyncio.get_running_loop())
        return gathered.get_extra_info("sockname")

    assert asyncio.run(ask()) == ("127.0.0.1", 8000)


def test_over_a_real_socket_the_client_gets_the_whole_answer() -> None:
    """The same writes through a real server socket: the answer arrives whole, in order."""

    async def serve_once() -> bytes:
        loop = asyncio.get_running_loop()

        class Answer(asyncio.Protocol):
            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                assert isinstance(transport, asyncio.Transport)
                self.out = GatheredWrites(transport, loop)

            def data_received(self, data: bytes) -> None:
                self.out.write(b"head\r\n\r\n")
                self.out.write(b"body")

        server = await loop.create_server(Answer, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        try:
            return await loop.run_in_executor(None, _ask, port)
        finally:
            server.close()
            await server.wait_closed()

    assert asyncio.run(serve_once()) == b"head\r\n\r\nbody"


def _ask(port: int) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"ask")
        return sock.recv(1024)
