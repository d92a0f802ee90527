"""Idempotency records written before issue 17 (version 1 kept the HTTP status the
handler chose; version 2 keeps what happened) still replay the answer they were first
given: same status, same bytes."""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.persistence import StoredEvent

from api.bootstrap import Tally
from domain.idempotency import IdempotencyRecord
from tests.e2e.conftest import Client, nothing_written

TOPIC = "tally:IdempotencyRecord.Recorded"


def _stored_state(tally: Tally, project_id: UUID, key: str) -> dict[str, Any]:
    record_id = IdempotencyRecord.create_id(project_id, key)
    (stored,) = tally.store.recorder.select_events(record_id)
    assert stored.topic == TOPIC
    state: dict[str, Any] = json.loads(stored.state)
    return state


def _write_version_1(tally: Tally, project_id: UUID, key: str, like: dict[str, Any]) -> None:
    """Store a record under ``key`` as version 1 wrote it (the field order and the bytes
    of its encoder): the request hash and the response of ``like``, and a status."""
    status = {"created": 201, "changed": 200, "accepted": 202}[like["happened"]]
    state = {
        "timestamp": like["timestamp"],
        "originator_topic": "tally:IdempotencyRecord",
        "issued_by": like["issued_by"],
        "project_id": like["project_id"],
        "key": key,
        "request_hash": like["request_hash"],
        "status_code": status,
        "response": like["response"],
    }
    encoded = json.dumps(state, separators=(",", ":"), ensure_ascii=False).encode()
    assert b'"status_code"' in encoded
    assert b"class_version" not in encoded
    record_id = IdempotencyRecord.create_id(project_id, key)
    tally.store.recorder.insert_events([StoredEvent(record_id, 1, TOPIC, encoded)])


@pytest.mark.parametrize(
    ("route", "body", "status"),
    [
        ("deposits", {"amount": 700, "currency": "EUR"}, 201),
        ("freeze", {"reason": "review"}, 200),
    ],
)
def test_a_version_1_record_replays_its_first_answer(
    api: Client, app_tally: Tally, route: str, body: dict[str, Any], status: int
) -> None:
    account_id = api.open_account()
    api.deposit(account_id, 100)
    path = f"/v1/accounts/{account_id}/{route}"
    first = api.post(path, body, key="new-1")
    assert first.status_code == status, first.text
    new = _stored_state(app_tally, api.project_id, "new-1")
    assert "status_code" not in new  # version 2 keeps what happened instead
    _write_version_1(app_tally, api.project_id, "old-1", new)
    with nothing_written(app_tally):
        again = api.post(path, body, key="old-1")
    assert again.status_code == status
    assert again.headers["Idempotency-Replayed"] == "true"
    assert again.content == first.content
    # A version-1 record of another request is still refused as one.
    other = {**body, "amount": 701} if "amount" in body else {"reason": "other"}
    with nothing_written(app_tally):
        refused = api.post(path, other, key="old-1")
    assert refused.status_code == 409
    assert refused.json()["code"] == "idempotency_key_reused"
