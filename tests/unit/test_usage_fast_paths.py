"""The usage door's fast paths (issue 13) say what the plain code they stand for says:
``check_properties``' all-at-once check (and ``all_properties_pass``' for a whole
batch) what the check of each property says, the readings and accepted events made
without the frozen dataclass's ``__init__`` are the objects it makes, and ``micros``
is the count of a timedelta's own fields."""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from domain.errors import ValidationFailed
from domain.limits import (
    MAX_PROPERTIES,
    MAX_PROPERTY_NAME_CHARS,
    MAX_PROPERTY_VALUE_CHARS,
    PROPERTY_NAME_PATTERN,
    check_text,
)
from domain.usage import (
    EPOCH,
    Accepted,
    InvalidProperties,
    MeterRule,
    Reading,
    accepted,
    all_properties_pass,
    check_properties,
    micros,
    readings,
)

# Names and values near every rule: allowed characters and not, printable and not
# (a no-break space is not printable yet no control character), at and past the limits.
NAMES = st.text(alphabet="ab_.-9 é\x00", min_size=0, max_size=MAX_PROPERTY_NAME_CHARS + 2)
GOOD_NAMES = st.from_regex(r"[A-Za-z0-9_.-]{1,40}", fullmatch=True)
VALUES = st.one_of(
    st.text(alphabet=st.sampled_from("x1.\t\n\x00\x7f\xa0\u2028\ud800é "), max_size=8),
    st.text(alphabet="ab", min_size=MAX_PROPERTY_VALUE_CHARS - 1,
            max_size=MAX_PROPERTY_VALUE_CHARS + 1),
    st.integers(),
)  # fmt: skip


PROPERTIES = st.one_of(
    st.dictionaries(GOOD_NAMES, VALUES, max_size=MAX_PROPERTIES + 2),
    st.dictionaries(NAMES, st.just("x"), max_size=3),
)


def each_passes(properties: dict[str, Any]) -> bool:
    """The rule, property by property, with the limits' own check of text."""
    if len(properties) > MAX_PROPERTIES:
        return False
    for name, value in properties.items():
        if len(name) > MAX_PROPERTY_NAME_CHARS or not re.fullmatch(PROPERTY_NAME_PATTERN, name):
            return False
        try:
            check_text(value, name, MAX_PROPERTY_VALUE_CHARS)
        except ValidationFailed:
            return False
    return True


@example({f"k{i}": "v" for i in range(MAX_PROPERTIES + 1)})
@example({"k": "v" * (MAX_PROPERTY_VALUE_CHARS + 1)})
@example({"k": "v" * MAX_PROPERTY_VALUE_CHARS, "j": "\xa0"})
@given(PROPERTIES)
def test_properties_pass_all_at_once_exactly_when_each_passes(properties: dict[str, Any]) -> None:
    try:
        assert check_properties(properties) is properties
        passed = True
    except InvalidProperties:
        passed = False
    assert passed == each_passes(properties)


@example([{"k": "v"}, {f"k{i}": "v" for i in range(MAX_PROPERTIES + 1)}])
@example([{"k": "v"}, {"k": "v" * (MAX_PROPERTY_VALUE_CHARS + 1)}])
@example([{}, {"k": "\xa0"}, {"bad name": "v"}])
@given(st.lists(PROPERTIES, max_size=4))
def test_a_batch_passes_at_once_only_when_each_event_passes(
    batch: list[dict[str, Any]],
) -> None:
    if all_properties_pass(batch):
        assert all(each_passes(p) for p in batch)
    elif all(each_passes(p) for p in batch):
        # The quick check could not tell (the door then checks event by event): only a
        # character that is not printable yet no control character does that.
        assert not "".join(v for p in batch for v in p.values()).isprintable()


def test_a_batch_of_printable_properties_passes_at_once() -> None:
    assert all_properties_pass([{"tokens": "12.5", "model": "large"}, {}, {"a": ""}])
    assert not all_properties_pass([{"tokens": "12.5"}, {"k": "\xa0"}])  # each passes


METER = UUID(int=7)
RULES = [
    MeterRule(METER, "t", "call", "sum", "v", {}, ["model", "region"]),
    MeterRule(UUID(int=8), "u", "call", "unique_count", "user", {"region": ["eu"]}, []),
    MeterRule(UUID(int=9), "c", "call", "count", "", {}, []),
]


@given(
    st.fixed_dictionaries(
        {"v": st.sampled_from(["1", "2.50", "-0"]), "user": st.sampled_from(["a", "b"])},
        optional={"model": st.sampled_from(["s", "l"]), "region": st.sampled_from(["eu", "us"])},
    ),
    st.integers(min_value=1, max_value=3),
)
def test_readings_and_accepted_events_are_the_dataclasses_own(
    properties: dict[str, str], meters: int
) -> None:
    found = readings(RULES[:meters], properties)
    made = [Reading(r.meter_id, r.group, r.value, r.distinct) for r in found]
    assert found == made
    assert [hash(r) for r in found] == [hash(r) for r in made]
    assert [dataclasses.asdict(r) for r in found] == [dataclasses.asdict(r) for r in made]
    fields = ("tx", UUID(int=1), None, "call", EPOCH, properties, found)
    event = accepted(*fields)
    assert event == Accepted(*fields)
    assert vars(event) == vars(Accepted(*fields))
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.transaction_id = "other"  # type: ignore[misc]


def test_a_reading_of_the_one_meter_of_a_name_is_the_reading_of_the_list() -> None:
    assert readings(RULES[:1], {"v": "3", "model": "s"}) == [
        Reading(METER, ("s", None), Decimal(3), None)
    ]
    assert readings([RULES[1]], {"user": "a", "region": "us"}) == []  # filtered out


@given(
    st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)),
    st.integers(min_value=-1439, max_value=1439),
)
def test_micros_counts_the_microseconds_since_1970(moment: datetime, offset: int) -> None:
    aware = moment.replace(tzinfo=timezone(timedelta(minutes=offset)))
    delta = aware - EPOCH
    assert micros(aware) == (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    assert EPOCH + timedelta(microseconds=micros(aware)) == aware.astimezone(UTC)
