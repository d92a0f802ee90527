"""Idempotency records and request hashes. No I/O."""

from __future__ import annotations

import hashlib
import json
import string
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import StoredEvent
from hypothesis import given
from hypothesis import strategies as st

from adapters.eventstore import TallyStore
from domain.errors import IdempotencyKeyReused
from domain.idempotency import IdempotencyRecord, _plain, request_hash

PROJECT = UUID("00000000-0000-0000-0000-0000000000aa")


def test_request_hash_ignores_key_order() -> None:
    one = request_hash("Deposit", {"amount": 5, "currency": "EUR"})
    assert one == request_hash("Deposit", {"currency": "EUR", "amount": 5})
    assert len(one) == 64


def test_request_hash_differs_by_body_and_by_command() -> None:
    body = {"amount": 5, "currency": "EUR"}
    assert request_hash("Deposit", body) != request_hash("Deposit", {**body, "amount": 6})
    assert request_hash("Deposit", body) != request_hash("Withdraw", body)
    # An int and its string are different requests, not one coerced into the other.
    assert request_hash("Deposit", {"amount": 5}) != request_hash("Deposit", {"amount": "5"})


def _stdlib_hash(command_name: str, body: Any) -> str:
    """The request hash as every stored record has it (the standard library's JSON)."""
    canonical = json.dumps([command_name, body], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


# Mostly what command bodies hold (ASCII, control characters included), sometimes anything.
_TEXT = st.text(alphabet=st.characters(max_codepoint=127)) | st.text()
_LEAF = st.none() | st.booleans() | st.integers() | st.integers(min_value=-(2**70)) | _TEXT
_JSON = st.recursive(
    _LEAF | st.floats(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_TEXT, inner, max_size=4),
    max_leaves=12,
)


@given(name=_TEXT, body=st.dictionaries(_TEXT, _JSON, max_size=6))
def test_request_hash_is_the_standard_librarys_for_any_body(name: str, body: Any) -> None:
    assert request_hash(name, body) == _stdlib_hash(name, body)


@given(body=st.dictionaries(st.text(string.ascii_letters, min_size=1), _LEAF, max_size=6))
def test_request_hash_of_a_plain_body_is_the_standard_librarys(body: Any) -> None:
    assert request_hash("Deposit", body) == _stdlib_hash("Deposit", body)


def test_a_deposit_body_takes_the_fast_path() -> None:
    body = {"account_id": str(uuid4()), "amount": 5, "currency": "EUR", "pending": False}
    assert _plain(["Deposit", {**body, "nested": [{"a": None}, [1, "x"]]}])
    assert not _plain(["Deposit", {**body, "rate": 1.5}])
    assert not _plain(["Deposit", {1: "int key"}])
    assert request_hash("Deposit", body) == _stdlib_hash("Deposit", body)


def test_record_id_is_deterministic_per_project_and_key() -> None:
    assert IdempotencyRecord.create_id(PROJECT, "k") == IdempotencyRecord.create_id(PROJECT, "k")
    assert IdempotencyRecord.create_id(PROJECT, "k") != IdempotencyRecord.create_id(PROJECT, "j")
    assert IdempotencyRecord.create_id(PROJECT, "k") != IdempotencyRecord.create_id(uuid4(), "k")


def _record(digest: str) -> IdempotencyRecord:
    return IdempotencyRecord(
        project_id=PROJECT, key="k", request_hash=digest, happened="created", response={"a": 1}
    )


def test_record_keeps_the_first_answer() -> None:
    record = _record("h1")
    assert (record.key, record.happened, record.response) == ("k", "created", {"a": 1})
    record.check_same_request("h1")


def test_same_key_with_another_request_is_refused() -> None:
    record = _record("h1")
    with pytest.raises(IdempotencyKeyReused) as refused:
        record.check_same_request("h2")
    assert refused.value.code == "idempotency_key_reused"
    assert refused.value.context == {"key": "k"}


# A record as version 1 stored it (the bytes its encoder wrote, before issue 17): it kept
# the HTTP status its handler chose.
VERSION_1 = (
    b'{"timestamp":{"_type_":"datetime_iso","_data_":"2026-12-04T16:23:14.874434+00:00"},'
    b'"originator_topic":"tally:IdempotencyRecord","issued_by":"system",'
    b'"project_id":{"_type_":"uuid_hex","_data_":"000000000000000000000000000000aa"},'
    b'"key":"k","request_hash":"h","status_code":STATUS,'
    b'"response":{"transaction":{"id":"x","amount":5}}}'
)


@pytest.mark.parametrize(
    ("status", "happened"), [(201, "created"), (200, "changed"), (202, "accepted")]
)
def test_a_version_1_record_reads_as_what_its_status_stood_for(status: int, happened: str) -> None:
    store = TallyStore(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    record_id = IdempotencyRecord.create_id(PROJECT, "k")
    state = VERSION_1.replace(b"STATUS", str(status).encode())
    store.recorder.insert_events(
        [StoredEvent(record_id, 1, "tally:IdempotencyRecord.Recorded", state)]
    )
    record = store.repository.get(record_id)
    assert isinstance(record, IdempotencyRecord)
    assert (record.happened, record.response) == (
        happened,
        {"transaction": {"id": "x", "amount": 5}},
    )
    assert not hasattr(record, "status_code")
    record.check_same_request("h")
