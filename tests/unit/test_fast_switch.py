"""The interpreter's switch interval while pipelines run (``projections.pipeline._FastSwitch``):
a millisecond while any is open, the interval found before once the last closes, and an
interval other code set meanwhile kept rather than undone."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest

from projections.pipeline import SWITCH_INTERVAL_S, _FastSwitch

FOUND = 0.005  # the interpreter's default
OTHER = 0.002  # another library's choice, made while a pipeline runs


@pytest.fixture(autouse=True)
def interval() -> Iterator[None]:
    before = sys.getswitchinterval()
    sys.setswitchinterval(FOUND)
    yield
    sys.setswitchinterval(before)


def test_the_interval_found_comes_back_when_the_last_pipeline_closes() -> None:
    switch = _FastSwitch()
    switch.enter()
    switch.enter()
    assert sys.getswitchinterval() == SWITCH_INTERVAL_S
    switch.exit()
    assert sys.getswitchinterval() == SWITCH_INTERVAL_S
    switch.exit()
    assert sys.getswitchinterval() == FOUND


def test_an_interval_other_code_set_meanwhile_is_kept() -> None:
    """Failed before: the last exit put back 5 ms over the other code's 2 ms."""
    switch = _FastSwitch()
    switch.enter()
    sys.setswitchinterval(OTHER)
    switch.exit()
    assert sys.getswitchinterval() == OTHER
