"""A ``transactions`` read model whose second batch waits in Postgres for the test's
advisory lock, so a test sees whether a third batch is built meanwhile: the overlapped
catch-up's test and the pipelined rebuild's (test_projection_overlap, test_replay_applying)."""

from __future__ import annotations

import sys
import threading
from collections.abc import Sequence
from typing import Any, ClassVar

from psycopg import Cursor

from api.bootstrap import Tally
from projections.base import Tracked
from projections.transactions import Transactions


class Gated(Transactions):
    """``transactions`` held at its second batch by ``gate``, an advisory lock key no
    other code takes; ``third`` is set when a third batch is applied, with the
    interpreter's switch interval at that moment in ``switch_s``."""

    name = "transactions"
    gate: ClassVar[int] = 0
    calls: ClassVar[int] = 0
    third: ClassVar[threading.Event] = threading.Event()
    switch_s: ClassVar[float] = 0.0

    @classmethod
    def reset(cls, gate: int) -> None:
        """Before a test: its own lock key (tests that may run at once differ)."""
        cls.gate, cls.calls, cls.third, cls.switch_s = gate, 0, threading.Event(), 0.0

    def apply(self, cur: Cursor[Any], events: Sequence[Tracked]) -> None:
        super().apply(cur, events)
        kind = type(self)
        kind.calls += 1
        if kind.calls == 2:
            cur.execute("SELECT pg_advisory_xact_lock_shared(%s)", (kind.gate,))
        elif kind.calls == 3:
            kind.switch_s = sys.getswitchinterval()
            kind.third.set()


def head(tally: Tally) -> int:
    found = tally.store.recorder.max_notification_id()
    assert found is not None
    return found
