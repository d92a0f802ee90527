"""uvicorn's httptools protocol, with each response written to the socket once.

uvicorn writes a response in two ``transport.write`` calls, its status line and headers
when the app sends ``http.response.start`` and its body when the app sends
``http.response.body``. Each call on an idle socket is a ``send`` system call at once,
so each response was two TCP segments and two wake-ups of the client; on the loopback
interface the kernel also does the receiving side's work in the sending call. A py-spy
profile of (c) (bench/README.md, issue 16) put about a fifth of the server's interpreter
time in those writes. Here the writes of one turn of the event loop are gathered and
handed to the transport together at the end of it (``call_soon``), so a response goes
out in one call, with no wait added: the app sends both messages in the same turn.

Nothing else changes: the transport is the same for reading, flow control and closing
(a close writes what is gathered first).
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class GatheredWrites:
    """A transport whose writes within one turn of the loop reach the socket together."""

    __slots__ = ("_loop", "_pending", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] = []

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not self._pending:
            self._loop.call_soon(self.flush)
        self._pending.append(bytes(data))

    def flush(self) -> None:
        if not self._pending:
            return
        data = b"".join(self._pending) if len(self._pending) > 1 else self._pending[0]
        self._pending.clear()
        if not self._transport.is_closing():
            self._transport.write(data)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        # Everything but writing and closing is the transport's own.
        return getattr(self._transport, name)


class OneWriteHttpToolsProtocol(HttpToolsProtocol):
    """``HttpToolsProtocol`` over ``GatheredWrites`` (``tally serve`` passes it to uvicorn
    as its ``http`` protocol)."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        gathered = GatheredWrites(transport, self.loop)
        super().connection_made(gathered)  # type: ignore[arg-type]
