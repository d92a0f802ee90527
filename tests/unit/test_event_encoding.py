"""The fast transcoder writes exactly the library's bytes, or lets the library write them."""

from __future__ import annotations

import enum
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.persistence import JSONTranscoder
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters import encoding
from adapters.encoding import FastJSONTranscoder
from adapters.eventstore import HoldAsDict, TallyStore
from domain.accounts import Account, Hold
from domain.idempotency import IdempotencyRecord
from domain.money import Money
from domain.transactions import Transaction

STORE = TallyStore(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})


def _registered(transcoder: JSONTranscoder) -> JSONTranscoder:
    # The transcodings the event store registers, on a bare transcoder of either kind.
    STORE.register_transcodings(transcoder)
    return transcoder


LIBRARY = _registered(JSONTranscoder())
FAST = _registered(FastJSONTranscoder())


def test_the_store_encodes_with_the_fast_transcoder() -> None:
    assert type(STORE.mapper.transcoder) is FastJSONTranscoder


class Colour(enum.Enum):
    RED = "red"


class Size(enum.StrEnum):
    BIG = "big"


class Count(enum.IntEnum):
    ONE = 1


def _same(value: Any) -> None:
    try:
        expected = LIBRARY.encode(value)
    except Exception as exc:
        with pytest.raises(type(exc)):
            FAST.encode(value)
        return
    assert FAST.encode(value) == expected
    assert LIBRARY.decode(FAST.encode(value)) == LIBRARY.decode(expected)


leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),  # beyond 64 bits too: orjson refuses those, the library writes them
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(),  # control characters, quotes, backslashes, any code point
    st.uuids(),
    st.datetimes(timezones=st.sampled_from([None, UTC, timezone(timedelta(hours=5, minutes=30))])),
    st.decimals(allow_nan=False),
    st.sampled_from([Colour.RED, Size.BIG, Count.ONE]),
    st.builds(
        Hold,
        amount=st.integers(0, 10**6),
        expires_at=st.datetimes(timezones=st.just(UTC)),
        destination=st.text(max_size=20),
    ),
)
keys = st.one_of(st.text(max_size=10), st.integers(-5, 5), st.sampled_from([Size.BIG]))
values = st.recursive(
    leaves,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.lists(inner, max_size=3).map(tuple),
        st.dictionaries(keys, inner, max_size=4),
    ),
    max_leaves=20,
)


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(st.text(max_size=12), values, max_size=8))
def test_any_state_is_written_as_the_library_writes_it(state: dict[str, Any]) -> None:
    _same(state)


@pytest.mark.parametrize(
    "value",
    [
        {"a": float("nan")},
        {"a": 2**70},
        {"a": -(2**64)},
        {"a": "\ud800"},  # a lone surrogate: the library raises, so must the fast path
        {1: "int key"},
        {"a": Size.BIG},
        {"a": {"b": [UUID(int=1), {"c": datetime(2026, 1, 2, tzinfo=UTC)}]}},
        {"a": Decimal("1.50")},
        {"a": object()},
        {"a": (1, [2, (3,)])},
        {"a": '\x00\x1f\x7f\u2028"\\é€😀'},
    ],
)
def test_edge_cases(value: dict[Any, Any]) -> None:
    _same(value)


def test_a_cycle_is_refused_as_the_library_refuses_it() -> None:
    state: dict[str, Any] = {}
    state["self"] = state
    _same(state)


def test_the_callers_state_is_not_changed() -> None:
    state = {"id": UUID(int=7), "nested": {"at": datetime(2026, 1, 1, tzinfo=UTC)}}
    before = repr(state)
    FAST.encode(state)
    assert repr(state) == before


def test_the_ledgers_events_are_written_by_the_fast_path() -> None:
    # No fallback for the events of a deposit (the benchmark's path) or of a hold.
    project = UUID(int=1)
    account = Account.open(project, "owner", "EUR")
    account.deposit(Money(100, "EUR"), UUID(int=2))
    account.place_hold(
        "h", Money(10, "EUR"), datetime(2030, 1, 1, tzinfo=UTC), "clearing:x", datetime.now(UTC)
    )
    txn = Transaction.begin(
        id=UUID(int=3),
        project_id=project,
        kind="deposit",
        amount=Money(100, "EUR"),
        from_ref="clearing:manual",
        to_ref=account.ref,
        complete_now=True,
    )
    record = IdempotencyRecord(
        project_id=project, key="k", request_hash="h", happened="created", response=txn.summary()
    )
    events = [*account.collect_events(), *txn.collect_events(), *record.collect_events()]
    assert HoldAsDict.name in LIBRARY.names
    for event in events:
        state = dict(vars(event))
        assert FAST._plain(state) is not None  # raises if the fast path would give up
        _same(state)


shaped = st.fixed_dictionaries(
    {
        "at": st.datetimes(timezones=st.just(UTC)),
        "name": st.text(max_size=8),
        "id": st.uuids(),
        "nested": st.dictionaries(st.text(max_size=4), values, max_size=3),
        "count": st.integers(-(2**63), 2**63 - 1),
    }
)


@settings(max_examples=200, deadline=None)
@given(st.lists(shaped, min_size=2, max_size=4))
def test_states_of_one_shape_reuse_its_plan_and_are_written_as_the_library_writes_them(
    states: list[dict[str, Any]],
) -> None:
    # The first state's plan (where its UUID, datetime and nested dict are) serves the
    # others, whose values differ.
    for state in states:
        _same(state)
    assert tuple(map(type, states[0].values())) in FAST._plans


def test_plans_stop_growing_at_their_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(encoding, "MAX_PLANS", 50)
    # Each length of dictionary is a shape of its own.
    fast = _registered(FastJSONTranscoder())
    state: dict[str, Any] = {"id": UUID(int=1)}
    for n in range(60):
        state[f"k{n}"] = n
        fast.encode(state)
    assert len(fast._plans) == 50
    assert fast.encode(state) == LIBRARY.encode(state)  # unplanned shapes still encode
