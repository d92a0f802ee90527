"""Authentication's key lookups (api.key_lookups.KeyLookups): lookups that wait together share
one query, a lookup asked while a query runs waits for the next one (so a revocation the
read models hold is never answered from an older read), and a database error reaches
every request of its round without wedging the next."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from api import key_lookups
from api.bootstrap import Tally
from api.key_lookups import KeyLookups
from commands import messages as m
from commands.bus import Context
from tests.e2e.conftest import Client


def revoke(tally: Tally, client: Client) -> None:
    from projections.runner import wait_for_position

    revoked = tally.execute(
        m.RevokeApiKey(project_id=client.project_id, key_id=client.key_id),
        Context(client.project_id, "cli"),
    )
    assert revoked.position is not None
    assert wait_for_position(tally.views, tally.schema, revoked.position, 10)


def test_lookups_waiting_together_share_one_query(
    app_tally: Tally, api: Client, other: Client
) -> None:
    revoke(app_tally, other)

    async def scenario() -> list[dict[str, Any] | None]:
        lookups = KeyLookups(app_tally.target.url, app_tally.schema)
        try:
            keys = [api.key_id] * 5 + [other.key_id] * 3 + ["tly_nope"] * 2
            rows = await asyncio.gather(*(lookups.lookup(k) for k in keys))
            assert (lookups.lookups, lookups.rounds) == (10, 1)
            return list(rows)
        finally:
            await lookups.close()

    rows = asyncio.run(scenario())
    assert [r and (r["project_id"], r["revoked"]) for r in rows] == [
        (str(api.project_id), False)
    ] * 5 + [(str(other.project_id), True)] * 3 + [None] * 2


class HeldLookups(KeyLookups):
    """Holds each query until the test lets it go, and records what each one asked."""

    def __init__(self, url: str, schema: str) -> None:
        super().__init__(url, schema)
        self.asked: list[list[str]] = []
        self.go = asyncio.Event()

    async def _query(self, key_ids: list[str]) -> dict[str, dict[str, Any]]:
        self.asked.append(sorted(key_ids))
        await self.go.wait()
        return await super()._query(key_ids)


def test_a_lookup_asked_during_a_query_waits_for_the_next_one(
    app_tally: Tally, api: Client, other: Client
) -> None:
    async def scenario() -> None:
        lookups = HeldLookups(app_tally.target.url, app_tally.schema)
        try:
            first = asyncio.create_task(lookups.lookup(api.key_id))
            while not lookups.asked:  # the first query is on its way
                await asyncio.sleep(0)
            second = asyncio.create_task(lookups.lookup(other.key_id))
            third = asyncio.create_task(lookups.lookup(api.key_id))
            await asyncio.sleep(0.01)
            assert lookups.asked == [[api.key_id]]
            lookups.go.set()
            rows = await asyncio.gather(first, second, third)
            assert lookups.asked == [[api.key_id], sorted([api.key_id, other.key_id])]
            assert [r and r["project_id"] for r in rows] == [
                str(api.project_id),
                str(other.project_id),
                str(api.project_id),
            ]
        finally:
            await lookups.close()

    asyncio.run(scenario())


def test_a_database_error_answers_its_round_and_the_next_round_tries_again(
    app_tally: Tally,
) -> None:
    async def scenario() -> None:
        lookups = KeyLookups("postgresql://postgres@127.0.0.1:1/none", app_tally.schema)
        try:
            for _ in range(2):
                results = await asyncio.gather(
                    lookups.lookup("a"), lookups.lookup("b"), return_exceptions=True
                )
                assert all(isinstance(r, psycopg.OperationalError) for r in results)
            assert lookups.rounds == 2
        finally:
            await lookups.close()

    asyncio.run(scenario())


def test_a_round_that_hangs_fails_in_time_and_the_next_one_reconnects(
    app_tally: Tally, api: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    from projections import api_keys

    real = api_keys.lookup_keys
    calls: list[int] = []

    async def hang_once(*args: Any) -> dict[str, dict[str, Any]]:
        calls.append(1)
        if len(calls) == 1:
            await asyncio.sleep(30)
        return await real(*args)

    monkeypatch.setattr(key_lookups, "LOOKUP_TIMEOUT_S", 0.2)
    monkeypatch.setattr(api_keys, "lookup_keys", hang_once)

    async def scenario() -> None:
        lookups = KeyLookups(app_tally.target.url, app_tally.schema)
        try:
            with pytest.raises(psycopg.OperationalError, match="timed out"):
                await lookups.lookup(api.key_id)
            row = await lookups.lookup(api.key_id)
            assert row is not None
            assert row["project_id"] == str(api.project_id)
            assert lookups.rounds == 2
        finally:
            await lookups.close()

    asyncio.run(scenario())


def test_concurrent_requests_each_get_their_own_keys_answer(
    http: TestClient, app_tally: Tally, api: Client, other: Client
) -> None:
    revoke(app_tally, other)
    clients = [api, other, api, api, other, api, api, other] * 6

    def status(client: Client) -> int:
        return int(http.get("/v1/accounts", headers=client.headers()).status_code)

    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(status, clients))
    assert statuses == [200 if c is api else 401 for c in clients]
    lookups: KeyLookups = http.app.state.key_lookups  # type: ignore[attr-defined]
    assert lookups.lookups >= len(clients)


@pytest.mark.parametrize("header", ["Bearer tly_", "Bearer " + "x" * 300, "Basic abc"])
def test_malformed_keys_are_refused_before_any_lookup(http: TestClient, header: str) -> None:
    lookups: KeyLookups = http.app.state.key_lookups  # type: ignore[attr-defined]
    before = lookups.lookups
    response = http.get("/v1/accounts", headers={"Authorization": header})
    assert response.status_code == 401
    assert response.json()["code"] == "unauthenticated"
    assert lookups.lookups == before


def test_a_kept_connection_that_died_is_replaced_without_failing_the_round(
    app_tally: Tally, api: Client
) -> None:
    """Postgres restarted, or an administrator ended the lookups' connection: the database
    is there, so the requests of the next round must not be refused for it."""

    async def scenario() -> None:
        lookups = KeyLookups(app_tally.target.url, app_tally.schema)
        try:
            assert await lookups.lookup(api.key_id) is not None
            conn = lookups._conn
            assert conn is not None
            with psycopg.connect(app_tally.target.url, autocommit=True) as admin:
                # With a timeout, it returns once the session has ended, so the next
                # round cannot still find it alive.
                ended = admin.execute(
                    "SELECT pg_terminate_backend(%s, 10000)", (conn.info.backend_pid,)
                ).fetchone()
                assert ended == (True,)
            row = await lookups.lookup(api.key_id)
            assert row is not None
            assert row["project_id"] == str(api.project_id)
            assert lookups._conn is not conn
        finally:
            await lookups.close()

    asyncio.run(scenario())
