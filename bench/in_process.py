"""An ASGI app served in this process, as ``tally serve`` serves it, for the benchmarks that
count what the server's own threads do (bench/http_bytecodes.py, bench/usage_cost.py)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from starlette.types import ASGIApp

from bench.over_http import free_port


@contextmanager
def served(app: ASGIApp) -> Iterator[int]:
    """``app`` served by uvicorn with serve's HTTP protocol (one write per response) and
    the default loop, on a thread of this process; yields the port."""
    port = free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        proxy_headers=False,
        http="api.http_protocol:OneWriteHttpToolsProtocol",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="bench-serve")
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.05)
        yield port
    finally:
        server.should_exit = True
        thread.join()
