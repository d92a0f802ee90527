"""A client that reads an export slowly holds none of the views pool's connections
(docs/audit.md "Exports"): that pool serves every read, webhook delivery and the
publisher, so more stalled exports than it has connections must not keep another
project's GET waiting.

The stalled clients are real ASGI calls of the app whose ``send`` does not return after
the first chunk of the body, as a socket whose peer stopped reading blocks: the
response's generator stays suspended for as long as the client does not read on."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest

from tests.e2e.conftest import Client


class StalledExports:
    """``count`` GETs of ``path`` in a loop of their own, each stopped after the first
    chunk of its body until ``release``."""

    def __init__(self, api: Client, path: str, count: int) -> None:
        self.api, self.path, self.count = api, path, count
        self.started = threading.Semaphore(0)
        self.statuses: list[int] = []
        self.loop = asyncio.new_event_loop()
        self.gate = asyncio.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        self.loop.run_until_complete(self._all())

    async def _all(self) -> None:
        await asyncio.gather(*(self._one() for _ in range(self.count)))

    async def _one(self) -> None:
        headers = [(k.lower().encode(), v.encode()) for k, v in self.api.headers().items()]
        scope: dict[str, Any] = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": self.path,
            "raw_path": self.path.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": [(b"host", b"testserver"), *headers],
            "client": ("127.0.0.1", 1),
            "server": ("testserver", 80),
        }
        first_body, asked = True, False

        async def receive() -> dict[str, Any]:
            nonlocal asked
            if not asked:  # the request's (empty) body, then nothing until released
                asked = True
                return {"type": "http.request", "body": b"", "more_body": False}
            await self.gate.wait()
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            nonlocal first_body
            if message["type"] == "http.response.start":
                self.statuses.append(message["status"])
            elif message["type"] == "http.response.body" and first_body:
                first_body = False
                self.started.release()
                await self.gate.wait()  # the client stops reading here

        await self.api.http.app(scope, receive, send)

    def __enter__(self) -> StalledExports:
        self.thread.start()
        for _ in range(self.count):
            assert self.started.acquire(timeout=60), "an export sent nothing"
        return self

    def __exit__(self, *exc: object) -> None:
        self.loop.call_soon_threadsafe(self.gate.set)
        self.thread.join(60)


@pytest.fixture
def ledger(api: Client) -> Client:
    account = api.open_account("alice")
    for _ in range(3):
        api.deposit(account, 100)
    api.ok(api.get("/v1/accounts", limit=1))  # the read models hold every write
    return api


@pytest.mark.parametrize("path", ["/v1/exports/events", "/v1/exports/journal"])
def test_stalled_exports_do_not_hold_the_views_pool(
    ledger: Client, other: Client, path: str
) -> None:
    pool_size = ledger.tally.views.max_size
    with StalledExports(ledger, path, pool_size + 2) as stalled:
        began = time.monotonic()
        response = other.get("/v1/accounts")
        waited = time.monotonic() - began
        with ledger.tally.views.connection(timeout=5) as conn:
            assert conn.execute("SELECT 1").fetchone() is not None
    assert response.status_code == 200, response.text
    assert waited < 5, f"another project's GET waited {waited:.1f} s"
    assert stalled.statuses == [200] * (pool_size + 2)
