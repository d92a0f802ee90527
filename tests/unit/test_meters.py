"""The Meter aggregate's guards: what a definition must hold, and that a meter never
changes (issue 13)."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import pytest

from domain.errors import AlreadyExists, InvalidCombination, ValidationFailed
from domain.limits import MAX_FILTER_VALUES, MAX_GROUP_BY, MAX_METER_FILTERS
from domain.meters import Meter

PROJECT = uuid4()
SUM: dict[str, Any] = {
    "code": "tokens",
    "name": "Tokens",
    "event_name": "completion",
    "aggregation": "sum",
    "property": "tokens",
    "filters": {"region": ["eu", "us", "eu"]},
    "group_by": ["model"],
}


def test_a_meter_keeps_its_definition_and_its_id_comes_from_its_code() -> None:
    meter = Meter.define(PROJECT, **SUM)
    assert meter.id == Meter.create_id(PROJECT, "tokens")
    assert Meter.create_id(uuid4(), "tokens") != meter.id
    assert meter.summary() == {
        "id": str(meter.id),
        **SUM,
        "filters": {"region": ["eu", "us"]},  # a value named twice counts once
    }
    assert [type(e).__name__ for e in meter.collect_events()] == ["Defined"]


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"aggregation": "median"}, ValidationFailed),
        ({"aggregation": "count"}, InvalidCombination),  # count reads no property
        ({"property": ""}, InvalidCombination),  # the others read one
        ({"code": "has space"}, ValidationFailed),
        ({"code": "x" * 41}, ValidationFailed),
        ({"event_name": "a/b"}, ValidationFailed),
        ({"event_name": ""}, ValidationFailed),
        ({"name": ""}, ValidationFailed),
        ({"property": "a b"}, ValidationFailed),
        ({"group_by": ["a", "a"]}, InvalidCombination),
        ({"group_by": [f"g{i}" for i in range(MAX_GROUP_BY + 1)]}, ValidationFailed),
        ({"filters": {f"f{i}": ["x"] for i in range(MAX_METER_FILTERS + 1)}}, ValidationFailed),
        ({"filters": {"f": [str(i) for i in range(MAX_FILTER_VALUES + 1)]}}, ValidationFailed),
        ({"filters": {"f": []}}, ValidationFailed),
        ({"filters": {"f": ["a\x00"]}}, ValidationFailed),
    ],
)
def test_a_definition_that_breaks_a_rule_is_refused(changes: dict[str, Any], error: type) -> None:
    with pytest.raises(error):
        Meter.define(PROJECT, **{**SUM, **changes})


def test_a_count_meter_reads_no_property() -> None:
    meter = Meter.define(
        PROJECT, code="calls", name="Calls", event_name="call", aggregation="count"
    )
    assert (meter.property, meter.filters, meter.group_by) == ("", {}, [])


def test_the_same_code_defined_otherwise_is_refused_and_the_same_definition_is_not() -> None:
    meter = Meter.define(PROJECT, **SUM)
    meter.check_same(Meter.define(PROJECT, **SUM))
    with pytest.raises(AlreadyExists):
        meter.check_same(Meter.define(PROJECT, **{**SUM, "aggregation": "max"}))
