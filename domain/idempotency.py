"""Idempotency records: the first answer to a keyed command, kept in the event store.

The record's id is a ``uuid5`` of the project and the key, so two saves of the same key
conflict in the store itself: exactly one wins, whatever the concurrency.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any
from uuid import UUID

import orjson
from eventsourcing.domain import event

from domain.base import TallyAggregate, current_actor
from domain.errors import IdempotencyKeyReused
from domain.ids import uuid5, uuid_text
from domain.recording import creation

NAMESPACE = UUID("0b7f3c1e-8a2d-4c6f-b1e9-5d7a3f2c8e10")


def request_hash(command_name: str, body: dict[str, Any]) -> str:
    """The SHA-256 of the request's canonical JSON. Stored in every record and compared
    with a retry's, so its bytes never change: they are the standard library's
    (``json.dumps`` with sorted keys, no spaces, ASCII only, ``str`` for anything else).
    orjson writes the same bytes, in C, for what a command's body nearly always is (plain
    strings, integers, booleans, nulls, lists and objects with string keys, all ASCII);
    for anything else (a float, which the two may write differently, a subclass, an
    integer past 64 bits, a character outside ASCII or DEL, which the standard library
    escapes) the standard library writes it (tests/unit/test_idempotency.py compares)."""
    value = [command_name, body]
    if _plain(value):
        try:
            canonical = orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
        except orjson.JSONEncodeError:
            pass
        else:
            # The standard library escapes DEL too, as it escapes all but space to "~".
            if canonical.isascii() and b"\x7f" not in canonical:
                return hashlib.sha256(canonical).hexdigest()
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


# Exactly these types, not their subclasses: what both encoders write alike.
_LEAVES = frozenset({str, int, bool, type(None)})
_STR = frozenset({str})


def _plain(value: Any) -> bool:
    """Whether ``value`` holds only ``_LEAVES``, lists and dicts with ``str`` keys. The
    checks of a container's items run in C (``map`` and ``issuperset``); only nested
    containers are walked in Python."""
    kind = type(value)
    if kind is dict:
        if not _STR.issuperset(map(type, value)):
            return False
        items = value.values()
    elif kind is list:
        items = value
    else:
        return kind in _LEAVES
    if _LEAVES.issuperset(map(type, items)):
        return True
    return all(type(item) in _LEAVES or _plain(item) for item in items)


# The statuses version 1 records kept, and the result kind the API answers each for
# (commands.bus.Happened, api/routes/common.py STATUS_BY_HAPPENED). Every kind but these
# two answers 200, so 200 may stand for any of them: "changed" is one. Frozen history:
# this never changes, whatever kinds come later.
_V1_HAPPENED = {201: "created", 202: "accepted", 200: "changed"}


def happened_for_status(status_code: int) -> str:
    """What happened, for a version-1 record that kept the status it answered."""
    return _V1_HAPPENED[status_code]


class IdempotencyRecord(TallyAggregate):
    """The first answer to a keyed command: what happened (``happened``, the command
    result's kind, e.g. ``"created"``) and the result's body.

    Version 2 keeps ``happened`` where version 1 kept the HTTP status the handler chose
    (issue 17: handlers say what happened; the API alone decides the status, from
    ``happened``, for a first answer and its replays alike). Records of version 1, and
    stored states of them, upcast: each status becomes the kind the API answers it for,
    so an old record replays with the status and body it was first answered with."""

    TOPIC = "tally:IdempotencyRecord"
    class_version = 2

    class Created(TallyAggregate.Created):
        TOPIC = "tally:IdempotencyRecord.Created"

    class Recorded(Created):
        """Version 2 has ``happened`` instead of ``status_code``."""

        TOPIC = "tally:IdempotencyRecord.Recorded"
        class_version = 2

        project_id: UUID
        key: str
        request_hash: str
        happened: str
        response: Any

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["happened"] = happened_for_status(state.pop("status_code"))

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        state["happened"] = happened_for_status(state.pop("status_code"))

    @staticmethod
    def create_id(project_id: UUID, key: str) -> UUID:
        return uuid5(NAMESPACE, f"{uuid_text(project_id)}:{key}")

    @event(Recorded)
    def __init__(
        self, project_id: UUID, key: str, request_hash: str, happened: str, response: Any
    ) -> None:
        self.project_id = project_id
        self.key = key
        self.request_hash = request_hash
        self.happened = happened
        self.response = response

    @classmethod
    def record(
        cls,
        record_id: UUID,
        *,
        project_id: UUID,
        key: str,
        request_hash: str,
        happened: str,
        response: Any,
    ) -> IdempotencyRecord:
        """The record ``IdempotencyRecord(project_id=..., key=..., ...)`` makes, for a
        caller that holds its id already (``create_id(project_id, key)``: the command bus
        derives it for every keyed command before running it). The id is not derived a
        second time, nor the arguments matched to ``__init__``'s signature again; the
        event and its stored bytes are the same (tests/unit/test_event_recording.py)."""
        record: IdempotencyRecord = cls._create(
            cls.Recorded,
            id=record_id,
            project_id=project_id,
            key=key,
            request_hash=request_hash,
            happened=happened,
            response=response,
        )
        return record

    @classmethod
    def recorded_event(
        cls,
        record_id: UUID,
        *,
        project_id: UUID,
        key: str,
        request_hash: str,
        happened: str,
        response: Any,
    ) -> Any | None:
        """The ``Recorded`` event ``record(record_id, ...)`` would create the record from,
        without the record: the command bus stores it (and keeps it in its cache) and
        builds the record only if a later command asks for it (``event.mutate(None)``, as
        a load from the store does). Same event, same bytes (tests/unit/test_event_recording.py).
        None where the recipes decline (the caller then uses ``record``)."""
        made = creation(cls, cls.Recorded)
        if made is None:
            return None
        values = {
            "issued_by": current_actor.get(),
            "project_id": project_id,
            "key": key,
            "request_hash": request_hash,
            "happened": happened,
            "response": response,
        }
        return made.created_event(record_id, values)

    def check_same_request(self, other_hash: str) -> None:
        if other_hash != self.request_hash:
            raise IdempotencyKeyReused(
                f"idempotency key '{self.key}' was already used for a different request",
                key=self.key,
            )
