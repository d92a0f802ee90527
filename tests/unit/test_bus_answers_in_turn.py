"""A batch's waiting callers are woken in turn (``commands.bus.pipeline.answer_in_turn``):
each one, once it has its answer, wakes the next, so they do not all run at once for the
interpreter lock; and a caller that stopped waiting never holds up the rest."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from uuid import UUID

import pytest
from eventsourcing.application import Application
from eventsourcing.persistence import StoredEvent

from adapters.clock import FixedClock
from commands import ledger, projects
from commands import messages as m
from commands.bus import CommandBus, Context, Happened, Outcome
from commands.bus.pipeline import Reply, answer_in_turn
from commands.bus.unit_of_work import RecorderEventWriter
from tests.unit.ledger_world import NO_PROJECT, START


def _outcome(n: int) -> Outcome:
    return Outcome(Happened.CREATED, {"n": n})


def test_each_caller_answered_in_turn_wakes_the_next() -> None:
    replies = [Reply() for _ in range(3)]
    answer_in_turn([(reply, _outcome(n)) for n, reply in enumerate(replies)])

    # Every answer is set, but only the first caller is woken.
    assert all(reply.done() for reply in replies)
    with pytest.raises(TimeoutError):
        replies[1].result(timeout=0)
    assert replies[0].result(timeout=0).body == {"n": 0}
    # Taking its answer woke the second; the third waits for the second.
    with pytest.raises(TimeoutError):
        replies[2].result(timeout=0)
    assert replies[1].result(timeout=0).body == {"n": 1}
    assert replies[2].result(timeout=0).body == {"n": 2}
    # An answer can be asked for again.
    assert replies[0].result(timeout=0).body == {"n": 0}


class GatedWriter(RecorderEventWriter):
    """The in-memory store's writer, holding every write until the gate opens: a batch
    stays in flight while the test lines up the next one."""

    def __init__(self, recorder: object) -> None:
        super().__init__(recorder)
        self.gate = threading.Event()

    def write(
        self, stored_events: Sequence[StoredEvent], reads: Sequence[tuple[UUID, int]] = ()
    ) -> list[int]:
        self.gate.wait(timeout=10)
        return super().write(stored_events, reads)


def test_a_caller_that_stopped_waiting_does_not_hold_up_the_rest_of_its_batch() -> None:
    app = Application[UUID]()
    writer = GatedWriter(app.recorder)
    writer.gate.set()
    handlers = {**ledger.HANDLERS, **projects.HANDLERS}
    bus = CommandBus(app, handlers, FixedClock(START), writer=writer)
    try:
        created = bus.execute(m.CreateProject(name="turns"), Context(NO_PROJECT, "cli"))
        ctx = Context(UUID(created.body["project"]["id"]), "k")
        opened = bus.execute(m.OpenAccount(owner_ref="ann", currency="EUR"), ctx)
        deposit = m.Deposit(account_id=UUID(opened.body["account"]["id"]), amount=1, currency="EUR")
        writer.gate.clear()
        answers: dict[str, object] = {}

        def call(name: str, timeout_s: float) -> None:
            try:
                answers[name] = bus.execute(deposit, ctx, timeout_s=timeout_s).happened
            except TimeoutError as exc:
                answers[name] = exc

        # The first deposit's batch is held in its write; "gone" and then "kept" are
        # run into the next batch, in that order, and "gone" stops waiting first.
        callers = [
            threading.Thread(target=call, args=("first", 10)),
            threading.Thread(target=call, args=("gone", 0.3)),
            threading.Thread(target=call, args=("kept", 10)),
        ]
        for caller in callers:
            caller.start()
            time.sleep(0.1)
        callers[1].join(timeout=5)
        assert isinstance(answers["gone"], TimeoutError)

        opened_at = time.monotonic()
        writer.gate.set()
        callers[2].join(timeout=5)
        # Woken by the committer once the turn's time ran out (Turns.TURN_S), not
        # by "gone", which never took its answer.
        assert answers["kept"] == Happened.CREATED
        assert time.monotonic() - opened_at < 1.0
        callers[0].join(timeout=5)
        assert answers["first"] == Happened.CREATED
    finally:
        writer.gate.set()
        bus.close()
