"""``projections.applying.route``: each read model gets the batch's events of the
classes it handles, in log order; models with the same classes share one list. The
route is planned once per sequence of models and reused."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from hypothesis import given
from hypothesis import strategies as st

from projections import applying
from projections.base import ReadModel


class A: ...


class B: ...


class C: ...


KINDS = (A, B, C)


@dataclass(frozen=True)
class Model:
    handles: frozenset[type]


handles = st.frozensets(st.sampled_from(KINDS))


@given(st.lists(handles, min_size=1, max_size=5), st.lists(st.sampled_from(KINDS), max_size=12))
def test_each_model_gets_its_classes_events_in_order(
    sets: list[frozenset[type]], kinds: list[type]
) -> None:
    models = cast(list[ReadModel], [Model(h) for h in sets])
    events: list[tuple[Any, int]] = [(kind(), i) for i, kind in enumerate(kinds)]
    for _ in range(2):  # planned, then reused
        routed = applying.route(models, events)
        assert routed == [[e for e in events if type(e[0]) in h] for h in sets]
        for i, first in enumerate(sets):
            for j, second in enumerate(sets):
                assert (routed[i] is routed[j]) == (first == second)
    assert tuple(sets) in applying._ROUTES
