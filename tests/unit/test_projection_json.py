"""The read models' jsonb parameters are written with orjson (``projections.base``): the
same JSON value as the standard library's, or the standard library's own text."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from projections.base import json_dumps

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: st.lists(children) | st.dictionaries(st.text(), children),
    max_leaves=30,
)


@given(JSON)
def test_every_json_value_reads_back_as_the_standard_librarys(value: Any) -> None:
    assert json.loads(json_dumps(value)) == json.loads(json.dumps(value))


class Colour(StrEnum):
    RED = "red"


def test_what_orjson_would_write_its_own_way_is_the_standard_librarys() -> None:
    assert json_dumps({"big": 10**30}) == json.dumps({"big": 10**30})
    assert json.loads(json_dumps({"c": Colour.RED})) == {"c": "red"}
    # The standard library refuses a datetime, and so the read model's statement fails,
    # as before (orjson would have written it).
    try:
        json_dumps({"at": datetime(2026, 1, 1, tzinfo=UTC)})
    except TypeError:
        pass
    else:
        raise AssertionError("a datetime must not be written")
