"""``projections.array_literals``: each literal, cast in Postgres, is the array of the
values it was made of (what psycopg's own list dumper would have sent)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.bootstrap import Tally
from projections import array_literals as literals

zones = st.sampled_from(
    [UTC, timezone(timedelta(hours=5, minutes=30)), timezone(-timedelta(hours=8))]
)
name = st.text(
    alphabet=st.characters(min_codepoint=33, max_codepoint=0x2FF, blacklist_characters='"\\{},'),
    min_size=1,
    max_size=12,
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(st.integers(-(2**63), 2**63 - 1), max_size=5),
    st.lists(st.uuids(), max_size=5),
    st.lists(
        st.datetimes(
            min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=zones
        ),
        max_size=5,
    ),
    st.lists(name, max_size=5),
)
def test_each_literal_casts_to_the_values_it_was_made_of(
    tally: Tally, ints: list[int], ids: list[Any], times: list[datetime], names: list[str]
) -> None:
    with tally.views.connection() as conn:
        row = conn.execute(
            "SELECT %s::int8[] AS i, %s::uuid[] AS u, %s::timestamptz[] AS t, %s::text[] AS n",
            (
                literals.integers(ints),
                literals.uuids(ids),
                literals.times(times),
                literals.names(names),
            ),
        ).fetchone()
    assert row is not None
    assert (row["i"], row["u"], row["n"]) == (ints, ids, names)
    assert row["t"] == times  # the same instants (psycopg reads them in the session's zone)


@pytest.mark.parametrize("bad", ['a"b', "a\\b", "a,b", "a b", "{a}"])
def test_a_name_an_array_literal_would_have_to_quote_is_refused(bad: str) -> None:
    with pytest.raises(AssertionError):
        literals.names(["ok", bad])


any_text = st.text(alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"))


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(st.none() | any_text, max_size=6),
    st.lists(st.none() | st.integers(-(2**63), 2**63 - 1), max_size=5),
    st.lists(st.booleans(), max_size=5),
    st.lists(
        st.none()
        | st.datetimes(
            min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=zones
        ),
        max_size=5,
    ),
)
def test_texts_and_nullable_literals_cast_to_their_values(
    tally: Tally,
    texts: list[str | None],
    ints: list[int | None],
    flags: list[bool],
    times: list[datetime | None],
) -> None:
    """Any text (quotes, backslashes, braces, commas, spaces, the word NULL) and None."""
    with tally.views.connection() as conn:
        row = conn.execute(
            "SELECT %s::text[] AS s, %s::int8[] AS i, %s::bool[] AS b, %s::timestamptz[] AS t",
            (
                literals.texts(texts),
                literals.optional_integers(ints),
                literals.booleans(flags),
                literals.optional_times(times),
            ),
        ).fetchone()
    assert row is not None
    assert (row["s"], row["i"], row["b"], row["t"]) == (texts, ints, flags, times)


def test_a_text_that_reads_as_an_array_literal_stays_one_element(tally: Tally) -> None:
    tricky = ['a"b', "a\\b", "a,b", "a b", "{a}", "NULL", "", ' "\\" ', "\\"]
    with tally.views.connection() as conn:
        row = conn.execute("SELECT %s::text[] AS s", (literals.texts(tricky),)).fetchone()
    assert row is not None
    assert row["s"] == tricky
