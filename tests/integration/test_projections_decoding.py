"""The fast decoder builds exactly the events the library mapper builds, and hands
anything it cannot decode safely to the mapper."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from uuid import uuid4

from api.bootstrap import Tally
from projections.decoding import FastDecoder
from projections.reading import (
    SKIPPED_TOPIC_PREFIX,
    decode_rows,
    fetch_notifications,
    fetch_rows,
)
from tests.integration.ledger_workload import mixed_workload


def test_fast_decoder_builds_the_same_events_as_the_library_mapper(tally: Tally) -> None:
    mixed_workload(tally)
    notifications = tally.store.recorder.select_notifications(1, 10_000)
    decoder = FastDecoder(tally.store)
    topics = set()
    for n in notifications:
        fast, library = decoder(n), tally.store.mapper.to_domain_event(n)
        assert type(fast) is type(library)
        assert fast.__dict__ == library.__dict__
        topics.add(n.topic)
    assert len(topics) >= 20  # every kind of event the workload makes was compared


def test_rows_decode_to_the_events_the_library_mapper_builds(tally: Tally) -> None:
    """How batches are read (``fetch_rows`` + ``decode_rows``): every stored event of the
    mixed workload, twice with one decoder (the second pass uses the typed keys the
    first one taught it), equals the mapper's, idempotency records left out."""
    mixed_workload(tally)
    library = [
        (tally.store.mapper.to_domain_event(n), n.id)
        for n in tally.store.recorder.select_notifications(1, 10_000)
        if not n.topic.startswith(SKIPPED_TOPIC_PREFIX)
    ]
    decoder = FastDecoder(tally.store)
    rows = fetch_rows(tally.store, 1, 10_000)
    for _ in range(2):
        decoded = decode_rows(decoder, rows)
        assert [p for _, p in decoded] == [p for _, p in library]
        for (fast, _), (expected, _) in zip(decoded, library, strict=True):
            assert type(fast) is type(expected)
            assert fast.__dict__ == expected.__dict__
    # Every kind of event was decoded the fast way (its plan learned its typed keys).
    assert sum(bool(p.typed) for p in decoder._plans.values()) >= 20


def test_fast_decoder_falls_back_for_a_typed_value_below_the_top_level(tally: Tally) -> None:
    mixed_workload(tally)
    opened = next(
        n
        for n in tally.store.recorder.select_notifications(1, 100)
        if n.topic == "tally:Account.Opened"
    )
    state = json.loads(opened.state)
    nested = uuid4()
    state["metadata"] = {"ref": {"_type_": "uuid_hex", "_data_": nested.hex}}
    tampered = replace(opened, state=json.dumps(state).encode())
    event = FastDecoder(tally.store)(tampered)
    assert event.metadata == {"ref": nested}
    assert event.__dict__ == tally.store.mapper.to_domain_event(tampered).__dict__


def test_fetch_leaves_idempotency_record_state_in_the_database(tally: Tally) -> None:
    mixed_workload(tally)
    fetched = fetch_notifications(tally.store, 1, 10_000)
    library = tally.store.recorder.select_notifications(1, 10_000)
    assert [n.id for n in fetched] == [n.id for n in library]
    skipped = [n for n in fetched if n.topic.startswith(SKIPPED_TOPIC_PREFIX)]
    assert len(skipped) > 20
    for ours, theirs in zip(fetched, library, strict=True):
        if ours.topic.startswith(SKIPPED_TOPIC_PREFIX):
            assert ours.state == b""
        else:
            assert ours == theirs
    assert [n.id for n in fetch_notifications(tally.store, 5, 3, stop=6)] == [5, 6]


GC_PAUSE_CHECK = """
import gc
from projections.reading import paused_gc
assert gc.isenabled()
with paused_gc():
    assert not gc.isenabled()
    with paused_gc():
        assert not gc.isenabled()
    assert not gc.isenabled()  # the outer pause still holds
assert gc.isenabled()
gc.disable()
with paused_gc():
    pass
assert not gc.isenabled()  # a pause never turns on what someone turned off
"""


def test_gc_pause_nests_and_leaves_the_collector_as_it_found_it() -> None:
    # In an interpreter of its own: the pause is process-wide, and in this one a worker
    # thread an earlier test left draining may hold a pause of its own at any moment
    # (the collector was found off at the start once, in a unit + integration run).
    done = subprocess.run(
        [sys.executable, "-c", GC_PAUSE_CHECK], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr


def test_fast_decoder_keeps_an_integer_beyond_64_bits_an_int(tally: Tally) -> None:
    # orjson reads 10**21 as the float 1e+21; that float, in an invoice's amounts, is what
    # failed the journal projection in a loop (issue 10, reproduction 2).
    mixed_workload(tally)
    deposited = next(
        n
        for n in tally.store.recorder.select_notifications(1, 100)
        if n.topic == "tally:Account.Deposited"
    )
    decoder = FastDecoder(tally.store)
    for amount in (10**21, -(10**21), 2**64):
        state = json.loads(deposited.state)
        state["amount"] = amount
        compact = json.dumps(state, separators=(",", ":")).encode()
        event = decoder(replace(deposited, state=compact))
        assert type(event.amount) is int
        assert event.amount == amount
    # A long run of digits inside a string is left alone, whichever path decodes it.
    state = json.loads(deposited.state)
    state["amount"] = 5
    state["note"] = "ref:123456789012345678901234"
    event = decoder(replace(deposited, state=json.dumps(state).encode()))
    assert (event.amount, event.note) == (5, "ref:123456789012345678901234")
