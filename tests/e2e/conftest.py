"""Fixtures for the HTTP tests: the real ASGI app over a real Postgres schema.

The app runs its lifespan (projection worker and hold sweeper) inside ``TestClient``.
Tally gets a clock the tests control, so hold expiry needs no sleeping. ``Client`` sends
the API key and remembers the newest ``Tally-Position`` it saw, so its reads wait for the
writes before them, as a careful API client would.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import httpx
import pytest
from fastapi.testclient import TestClient

from adapters.clock import FixedClock
from api.app import create_app
from api.bootstrap import NO_PROJECT, Tally, build
from api.settings import Settings
from commands import messages as m
from commands.bus import Context
from tests.e2e.webhook_receiver import Receiver


class Client:
    """An API client bound to one project's key."""

    def __init__(
        self, http: TestClient, tally: Tally, key: str, project_id: UUID, key_id: str
    ) -> None:
        self.http = http
        self.tally = tally
        self.key = key
        self.project_id = project_id
        self.key_id = key_id
        self.position = 0

    def headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}", **(extra or {})}

    def post(
        self,
        path: str,
        body: Any = None,
        *,
        key: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        extra = dict(headers or {})
        if key is not None:
            extra["Idempotency-Key"] = key
        response: httpx.Response = self.http.post(path, json=body, headers=self.headers(extra))
        if "Tally-Position" in response.headers:
            self.position = max(self.position, int(response.headers["Tally-Position"]))
        return response

    def get(self, path: str, **params: Any) -> httpx.Response:
        params.setdefault("wait_for_position", self.position)
        response: httpx.Response = self.http.get(path, params=params, headers=self.headers())
        return response

    def ok(self, response: httpx.Response, status: int = 200) -> dict[str, Any]:
        assert response.status_code == status, response.text
        body: dict[str, Any] = response.json()
        return body

    # Shortcuts for the common steps of a test.
    def open_account(self, owner: str = "alice", currency: str = "EUR", **extra: Any) -> str:
        body = {"owner_ref": owner, "currency": currency, **extra}
        return str(self.ok(self.post("/v1/accounts", body), 201)["id"])

    def deposit(self, account_id: str, amount: int, currency: str = "EUR", **extra: Any) -> Any:
        body = {"amount": amount, "currency": currency, **extra}
        return self.ok(self.post(f"/v1/accounts/{account_id}/deposits", body), 201)

    def account(self, account_id: str) -> dict[str, Any]:
        return self.ok(self.get(f"/v1/accounts/{account_id}"))


def create_project(tally: Tally, name: str) -> tuple[UUID, str, str, int]:
    """A project and a key, made the way the CLI makes them (commands, not HTTP)."""
    project = tally.execute(m.CreateProject(name=name), Context(NO_PROJECT, "cli"))
    project_id = UUID(project.body["project"]["id"])
    key = tally.execute(m.IssueApiKey(project_id=project_id), Context(project_id, "cli"))
    assert key.position is not None
    return project_id, key.body["secret"], key.body["key_id"], key.position


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime.now(UTC).replace(microsecond=0))


@pytest.fixture
def app_tally(settings: Settings, clock: FixedClock) -> Iterator[Tally]:
    tally = build(settings, clock=clock)
    yield tally
    tally.close()


@pytest.fixture
def http(app_tally: Tally) -> Iterator[TestClient]:
    with TestClient(create_app(app_tally), raise_server_exceptions=False) as client:
        yield client


@contextmanager
def serve(settings: Settings, clock: FixedClock, name: str = "acme") -> Iterator[Client]:
    """A whole app with its own settings, for tests that need other settings."""
    tally = build(settings, clock=clock)
    try:
        with TestClient(create_app(tally), raise_server_exceptions=False) as http:
            yield make_client(http, tally, name)
    finally:
        tally.close()


def make_client(http: TestClient, tally: Tally, name: str) -> Client:
    from projections.runner import ProjectionWorker, wait_for_position

    project_id, secret, key_id, position = create_project(tally, name)
    # The key must be in the read model before it can authenticate.
    if not tally.settings.run_projections:
        ProjectionWorker(tally.store, tally.views, tally.schema).catch_up()
    assert wait_for_position(tally.views, tally.schema, position, 10)
    return Client(http, tally, secret, project_id, key_id)


@pytest.fixture
def api(http: TestClient, app_tally: Tally) -> Client:
    return make_client(http, app_tally, "acme")


@pytest.fixture
def other(http: TestClient, app_tally: Tally) -> Client:
    """A client of a second project, for tenancy tests."""
    return make_client(http, app_tally, "globex")


def head(tally: Tally) -> int:
    return int(tally.store.recorder.max_notification_id() or 0)


@contextmanager
def nothing_written(tally: Tally) -> Iterator[None]:
    """Assert that the block added no event to the log."""
    before = head(tally)
    yield
    assert head(tally) == before, "a refused request wrote events"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A local webhook receiver that verifies signatures (tests/e2e/webhook_receiver.py)."""
    r = Receiver()
    yield r
    r.close()
