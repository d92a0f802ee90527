"""The pacer's wait for returning callers, as the committer sees it with no batch yet
(``commands.bus.pipeline.Pacer.idle_wait_s``): it waits until the deadline on its own,
so the first command of the next batch need not wake it."""

from __future__ import annotations

import time

from commands.bus.pipeline import Pacer


def _waiting_pacer() -> Pacer:
    pacer = Pacer()
    pacer.command_took(0.0001)
    pacer.committed(answered=8, commit_s=0.002, waiting=0)
    return pacer


def test_with_a_wait_pending_the_committer_waits_until_its_deadline() -> None:
    pacer = _waiting_pacer()
    assert pacer.target > 1
    wait_s = pacer.idle_wait_s()
    assert wait_s is not None
    assert 0 < wait_s <= Pacer.MAX_WAIT_S


def test_a_wait_that_ran_out_with_nobody_back_ends_and_the_next_command_is_due_at_once() -> None:
    pacer = _waiting_pacer()
    time.sleep(Pacer.MAX_WAIT_S + 0.001)
    assert pacer.idle_wait_s() is None  # until a command tells it
    assert pacer.target == 1
    assert pacer.ready(1)


def test_with_no_wait_pending_the_committer_waits_until_told() -> None:
    assert Pacer().idle_wait_s() is None
