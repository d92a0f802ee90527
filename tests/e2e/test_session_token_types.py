"""A customer session token names an aggregate id, and the id comes from whoever sends
the token: Tally checks the aggregate's type on its first stored event before loading
anything (security review of issue 14, finding 7), so a token naming another aggregate
costs one small read and answers 401."""

from __future__ import annotations

from collections.abc import Iterator
from uuid import uuid4

import pytest
from eventsourcing.persistence import StoredEvent
from fastapi.testclient import TestClient

from api.app import create_app
from api.bootstrap import Tally


@pytest.fixture
def web(tally: Tally) -> Iterator[TestClient]:
    with TestClient(create_app(tally), raise_server_exceptions=False) as client:
        yield client


def test_a_token_naming_another_aggregate_is_refused_before_it_is_loaded(
    web: TestClient, tally: Tally
) -> None:
    # An aggregate that cannot be loaded at all (its topic names no class): loading it
    # fails, so only a check made before loading can answer 401 here.
    other = uuid4()
    event = StoredEvent(other, 1, "tally:NoSuchAggregate.Created", b"{}")
    tally.store.recorder.insert_events([event])
    token = f"tcs_{other.hex}_{'s' * 43}"
    answer = web.get("/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 401, answer.text
    assert answer.json()["code"] == "unauthenticated"
