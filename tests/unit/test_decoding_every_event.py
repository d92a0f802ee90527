"""Every event class a read model consumes decodes with ``FastDecoder`` to the event the
library's mapper builds (the same class, an equal ``__dict__``), or the decoder raises
what the mapper raises: any field values of the class's annotated types (integers past
64 bits, aware and naive times, nested typed values in free-form fields), older versions
of the classes that upcast, and a topic's documents one after another in one batch, as
``rows`` decodes them (its per-topic plans learn from the earlier ones)."""

from __future__ import annotations

import types
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, Union, get_args, get_origin, get_type_hints
from uuid import UUID

import pytest
from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import get_topic
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.eventstore import TallyStore
from projections.decoding import FastDecoder
from projections.reading import SKIPPED_TOPIC_PREFIX
from projections.registry import PROJECTIONS

STORE = TallyStore(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
CLASSES = sorted(
    {cls for model in PROJECTIONS for cls in model.handles}, key=lambda c: c.__qualname__
)
UPCAST = [cls for cls in CLASSES if getattr(cls, "class_version", 1) > 1]
NOT_FIELDS = {"originator_id", "originator_version", "originator_id_type"}

times = st.datetimes(
    timezones=st.sampled_from([None, UTC, timezone(timedelta(hours=5, minutes=30))])
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(),
    st.text(max_size=8),
    st.uuids(),
    times,
)
# Free-form values (``Any``): nested lists and dicts, whose keys may be the transcoder's
# own (a typed value below the top level is the mapper's to decode).
free = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(["a", "b", "_type_", "_data_"]), inner, max_size=3)
    ),
    max_leaves=6,
)


def _values(hint: Any) -> st.SearchStrategy[Any]:
    """Values of an annotated field type, as the domain's events declare them."""
    origin, args = get_origin(hint), get_args(hint)
    if origin in (Union, types.UnionType):
        return st.one_of(*(_values(a) for a in args))
    if origin is list:
        return st.lists(_values(args[0]), max_size=3)
    if origin is dict:
        return st.dictionaries(st.text(max_size=5), _values(args[1]), max_size=3)
    simple: dict[Any, st.SearchStrategy[Any]] = {
        type(None): st.none(),
        str: st.text(max_size=8),
        int: st.integers(-(2**70), 2**70),
        bool: st.booleans(),
        UUID: st.uuids(),
        datetime: times,
    }
    return simple.get(hint, free)


@st.composite
def stored_events(draw: st.DrawFn, cls: type) -> StoredEvent:
    """A stored event of ``cls`` as the library encodes one; for a class that upcasts,
    at any of its versions (a version-1 document carries no ``class_version``)."""
    hints = get_type_hints(cls)
    state = {name: draw(_values(hint)) for name, hint in hints.items() if name not in NOT_FIELDS}
    version = getattr(cls, "class_version", 1)
    stored_as = draw(st.integers(1, version))
    if stored_as > 1 or (version > 1 and draw(st.booleans())):
        state["class_version"] = stored_as
    raw = STORE.mapper.transcoder.encode(state)
    return StoredEvent(draw(st.uuids()), draw(st.integers(1, 10**6)), get_topic(cls), raw)


def _library(stored: StoredEvent) -> Any:
    try:
        return STORE.mapper.to_domain_event(stored)
    except Exception as exc:  # what the decoder must raise too
        return exc


def _same(fast: Any, library: Any) -> None:
    assert type(fast) is type(library)
    assert fast.__dict__ == library.__dict__


@settings(max_examples=500, deadline=None)
@given(st.sampled_from(CLASSES).flatmap(stored_events))
def test_an_event_of_any_class_read_models_consume_decodes_as_the_mapper_decodes_it(
    stored: StoredEvent,
) -> None:
    expected = _library(stored)
    decoder = FastDecoder(STORE)
    args = (stored.originator_id, stored.originator_version, stored.topic, stored.state)
    if isinstance(expected, Exception):
        with pytest.raises(type(expected)):
            decoder.row(*args)
    else:
        _same(decoder.row(*args), expected)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(UPCAST).flatmap(stored_events))
def test_an_older_version_is_upcast_as_the_mapper_upcasts_it(stored: StoredEvent) -> None:
    expected = _library(stored)
    args = (stored.originator_id, stored.originator_version, stored.topic, stored.state)
    if isinstance(expected, Exception):
        with pytest.raises(type(expected)):
            FastDecoder(STORE).row(*args)
    else:
        _same(FastDecoder(STORE).row(*args), expected)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.sampled_from(CLASSES), min_size=1, max_size=3).flatmap(
        lambda classes: st.lists(
            st.sampled_from(classes).flatmap(stored_events), min_size=1, max_size=8
        )
    )
)
def test_a_batch_of_documents_decodes_as_the_mapper_decodes_each(
    batch: list[StoredEvent],
) -> None:
    rows = [
        (position, s.originator_id, s.originator_version, s.topic, s.state)
        for position, s in enumerate(batch, start=1)
    ]
    rows.insert(1, (0, UUID(int=1), 1, SKIPPED_TOPIC_PREFIX + "Recorded", None))
    expected = [_library(s) for s in batch]
    failed = next((e for e in expected if isinstance(e, Exception)), None)
    decoder = FastDecoder(STORE)
    for _ in range(2):  # the second time with the plans the first one made
        if failed is not None:
            with pytest.raises(type(failed)):
                decoder.rows(rows)
            continue
        decoded = decoder.rows(rows)
        assert [p for _, p in decoded] == list(range(1, len(batch) + 1))
        for (fast, _), library in zip(decoded, expected, strict=True):
            _same(fast, library)
