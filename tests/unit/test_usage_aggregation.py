"""Every aggregation of a meter, folded the way the store keeps it (partials per batch,
merged in any order), equals a plain fold over the deduplicated events whatever their
order, duplicates and batch boundaries (issue 13). The store's hours and the query's
partial hours are checked against the same model on Postgres
(tests/integration/test_usage_store.py)."""

from __future__ import annotations

import itertools
import json
from datetime import datetime, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.errors import ValidationFailed
from domain.usage import (
    InvalidProperties,
    MeterRule,
    Partial,
    check_properties,
    decimal_text,
    read,
    value_of,
)
from tests.usage_model import AGGREGATIONS, BASE, Sent, expected, rule, sent_events


def partials_by_group(
    meter: MeterRule, batches: list[list[Sent]], start: datetime, end: datetime
) -> tuple[dict[str, Partial], dict[str, Decimal]]:
    """What the store would keep: each batch folded on its own (a transaction id it
    has seen already is skipped, as ON CONFLICT DO NOTHING skips it), then merged."""
    seen: set[str] = set()
    merged: dict[str, Partial] = {}
    carry: dict[str, Decimal] = {}
    for batch in batches:
        own: dict[str, Partial] = {}
        for event in batch:
            if event.transaction_id in seen:
                continue
            seen.add(event.transaction_id)
            reading = read(meter, event.properties)
            if reading is None:
                continue
            key = json.dumps(list(reading.group), separators=(",", ":"))
            if event.at < start:
                carry[key] = carry.get(key, Decimal(0)) + (reading.value or 0)
            elif event.at < end:
                own.setdefault(key, Partial()).add(reading, event.at, event.transaction_id)
        for key, partial in own.items():
            merged.setdefault(key, Partial()).merge(partial)
    return merged, carry


@st.composite
def deliveries(draw: st.DrawFn, span_s: int = 3 * 3600) -> tuple[list[Sent], list[list[Sent]]]:
    """Events, and the batches they arrive in: shuffled, some sent twice, cut anywhere."""
    events = draw(sent_events(span_s=span_s))
    resent = draw(st.lists(st.sampled_from(events), max_size=10)) if events else []
    arriving = draw(st.permutations(events + resent))
    cuts = sorted(draw(st.lists(st.integers(0, len(arriving)), max_size=5)))
    bounds = [0, *cuts, len(arriving)]
    return events, [arriving[a:b] for a, b in itertools.pairwise(bounds)]


@settings(max_examples=300, deadline=None)
@given(
    aggregation=st.sampled_from(AGGREGATIONS),
    sent=deliveries(),
    start_s=st.integers(0, 3 * 3600),
    span_s=st.integers(1, 3 * 3600),
)
def test_every_aggregation_equals_a_fold_over_the_deduplicated_events(
    aggregation: str, sent: tuple[list[Sent], list[list[Sent]]], start_s: int, span_s: int
) -> None:
    events, batches = sent
    meter = rule(aggregation)
    start = BASE + timedelta(seconds=start_s)
    end = start + timedelta(seconds=span_s)
    merged, carry = partials_by_group(meter, batches, start, end)
    found = {
        key: value_of(aggregation, partial, start, end, carry.get(key, Decimal(0)))
        for key, partial in merged.items()
    }
    for key, level in carry.items():
        # The level carried in is weighted_sum's alone (the query keeps no other).
        if aggregation == "weighted_sum" and key not in merged and level:
            found[key] = value_of(aggregation, Partial(), start, end, level)
    assert found == expected(meter, events, start, end)


def test_weighted_sum_is_the_level_averaged_over_the_period() -> None:
    # 10 held for the first half of a 2-hour period, 30 (10 + 20) for the second: 20.
    meter = rule("weighted_sum", ())
    first = Sent("a", BASE, {"v": "10", "region": "eu"})
    second = Sent("b", BASE + timedelta(hours=1), {"v": "20", "region": "eu"})
    end = BASE + timedelta(hours=2)
    assert expected(meter, [first, second], BASE, end) == {"[]": Decimal("20")}
    partial = Partial()
    for event in (second, first):
        reading = read(meter, event.properties)
        assert reading is not None
        partial.add(reading, event.at, event.transaction_id)
    assert value_of("weighted_sum", partial, BASE, end) == Decimal("20")
    # Carried in: 5 held before the period adds 5 throughout.
    assert value_of("weighted_sum", partial, BASE, end, Decimal(5)) == Decimal("25")


def test_a_meter_refuses_events_it_cannot_read_and_skips_those_its_filters_leave_out() -> None:
    meter = rule("sum")
    assert read(meter, {"v": "1", "region": "apac"}) is None
    for bad in ({"region": "eu"}, {"v": "1e3", "region": "eu"}, {"v": "1.0000000001"}):
        try:
            read(meter, {"region": "eu", **bad})
        except InvalidProperties:
            continue
        raise AssertionError(f"{bad} was read")
    assert read(rule("unique_count"), {"v": "anything", "region": "us"}) is not None


def test_properties_are_bounded_text() -> None:
    for bad in ({"n": 1}, {"a b": "x"}, {"k": "x\x00"}, {f"k{i}": "v" for i in range(21)}):
        try:
            check_properties(bad)
        except ValidationFailed:
            continue
        raise AssertionError(f"{bad} passed")
    assert check_properties({"tokens": "12.5"}) == {"tokens": "12.5"}


def test_quantities_are_plain_decimal_strings() -> None:
    assert [decimal_text(Decimal(v)) for v in ("12.500", "0E-9", "100", "-0.0")] == [
        "12.5", "0", "100", "0"]  # fmt: skip
    assert decimal_text(None) is None
