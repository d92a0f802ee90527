"""The fast decoder's typed-key memory (``FastDecoder._typed_values``): whatever keys a
topic's earlier documents held typed values under, each document decodes to the event
the library mapper builds, or goes to the mapper."""

from __future__ import annotations

import gc
import weakref
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.persistence import StoredEvent
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.eventstore import TallyStore
from domain.accounts import Account
from projections.decoding import FastDecoder

STORE = TallyStore(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
TOPIC = "tally:Account.Deposited"
assert Account.Deposited.__name__  # the topic above is registered by importing it

typed = st.one_of(
    st.uuids(),
    st.datetimes(timezones=st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30))])),
)
plain = st.one_of(st.none(), st.booleans(), st.text(max_size=6), st.integers(-(2**70), 2**70))
value = st.one_of(
    typed,
    plain,
    st.dictionaries(
        st.sampled_from(["x", "_type_", "_data_"]), st.one_of(typed, plain), max_size=2
    ),
    st.lists(st.one_of(typed, plain), max_size=2),
)
state = st.dictionaries(st.sampled_from(["timestamp", "a", "b", "c", "note"]), value, max_size=5)


def _stored(state: dict[str, Any], version: int) -> StoredEvent:
    raw = STORE.mapper.transcoder.encode(state)
    return StoredEvent(UUID(int=version), version, TOPIC, raw)


@settings(max_examples=300, deadline=None)
@given(st.lists(state, min_size=1, max_size=6))
def test_a_topics_documents_decode_as_the_mapper_decodes_them_in_any_order(
    states: list[dict[str, Any]],
) -> None:
    decoder = FastDecoder(STORE)  # one decoder: later documents meet what earlier ones taught
    for version, doc in enumerate(states, start=1):
        stored = _stored(doc, version)
        try:
            library = STORE.mapper.to_domain_event(stored)
        except Exception as exc:  # the mapper refuses it: so does the decoder, as the mapper
            with pytest.raises(type(exc)):
                decoder.row(stored.originator_id, version, TOPIC, stored.state)
            continue
        fast = decoder.row(stored.originator_id, version, TOPIC, stored.state)
        assert type(fast) is type(library)
        assert fast.__dict__ == library.__dict__


def test_a_key_typed_before_and_plain_now_and_a_new_typed_key_are_both_found() -> None:
    decoder = FastDecoder(STORE)
    at = datetime(2027, 1, 2, 3, 4, 5, 6, tzinfo=UTC)
    ids = [UUID(f"{n}f0e8c2a-5b7d-4e1f-9a3c-6d2b8e4f1a7c") for n in range(5)]  # not all digits
    docs = [
        {"timestamp": at, "a": ids[0]},
        {"timestamp": at, "a": None, "b": ids[1]},  # "a" plain, "b" newly typed
        {"timestamp": at, "a": ids[2], "b": ids[3], "c": {"n": ids[4]}},
    ]
    for version, doc in enumerate(docs, start=1):
        stored = _stored(doc, version)
        event = decoder.row(stored.originator_id, version, TOPIC, stored.state)
        assert event.__dict__ == STORE.mapper.to_domain_event(stored).__dict__
    assert [key for key, _, _ in decoder._plans[TOPIC].typed] == ["timestamp", "a", "b"]


def test_a_decoder_done_with_is_freed_without_the_collector() -> None:
    """Replay makes a decoder per rebuild and drops it with the collector paused; a
    reference cycle through the decoder (its id cache's function was once its own bound
    method) left it and its cached ids to the collector's next pass, a tenth of a
    second at the end of a 100k-event rebuild."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        decoder = FastDecoder(STORE)
        stored = _stored({"timestamp": datetime(2027, 1, 2, tzinfo=UTC), "a": UUID(int=7)}, 1)
        assert decoder.row(stored.originator_id, 1, TOPIC, stored.state).a == UUID(int=7)
        freed = weakref.ref(decoder)
        del decoder
        assert freed() is None
    finally:
        if enabled:
            gc.enable()


@pytest.mark.parametrize("number", [-(2**63) - 1, -(10**19) + 1, 2**64, 10**21])
def test_an_integer_orjson_would_read_as_a_float_stays_an_int(number: int) -> None:
    # -2**63 - 1 has 19 digits; the decoder looked for runs of 20 until the property
    # over every event class (test_decoding_every_event) found it read as a float.
    stored = _stored({"timestamp": datetime(2027, 1, 2, tzinfo=UTC), "a": number}, 1)
    event = FastDecoder(STORE).row(stored.originator_id, 1, TOPIC, stored.state)
    assert type(event.a) is int
    assert event.a == number


@pytest.mark.parametrize(
    "data", ["-" + "a" * 31, "{" + "a" * 30 + "}", "urn:uuid:" + "b" * 23, " " + "c" * 31, "_" * 32]
)
def test_an_id_that_is_not_32_hex_digits_decodes_or_fails_as_the_library_has_it(data: str) -> None:
    stored = _stored({"timestamp": datetime(2027, 1, 2, tzinfo=UTC)}, 1)
    raw = stored.state[:-1] + b',"a":{"_type_":"uuid_hex","_data_":"' + data.encode() + b'"}}'
    stored = StoredEvent(stored.originator_id, 1, TOPIC, raw)
    try:
        library = STORE.mapper.to_domain_event(stored)
    except Exception as exc:
        with pytest.raises(type(exc)):
            FastDecoder(STORE).row(stored.originator_id, 1, TOPIC, raw)
        return
    assert FastDecoder(STORE).row(stored.originator_id, 1, TOPIC, raw).__dict__ == library.__dict__
