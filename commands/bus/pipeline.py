"""The pieces of the command bus's pipeline: a caller's reply, a queued command, a batch
on its way to the store, and the pacer that decides when a batch goes."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import InvalidStateError
from dataclasses import dataclass, field
from uuid import UUID

from commands.bus.context import Context, Outcome
from commands.bus.unit_of_work import Sealed, UnitOfWork
from commands.messages import Command
from domain.idempotency import IdempotencyRecord


class Reply:
    """A caller's answer, set once by the bus: a lighter ``concurrent.futures.Future``
    (one lock the caller waits on, instead of a condition, a re-entrant lock and a list
    of waiters per command)."""

    __slots__ = ("_error", "_lock", "_value", "on_done")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._lock.acquire()  # released once, when the answer is set
        self._value: Outcome | None = None
        self._error: BaseException | None = None
        # Called (on the thread that sets the answer) once it is set: an asynchronous
        # caller's way to be woken without a thread of its own blocked in ``result``.
        self.on_done: Callable[[Reply], None] | None = None

    def done(self) -> bool:
        return self._value is not None or self._error is not None

    def set_result(self, value: Outcome) -> None:
        if self.done():
            raise InvalidStateError("the answer is already set")
        self._value = value
        self._lock.release()
        if self.on_done is not None:
            self.on_done(self)

    def set_exception(self, error: BaseException) -> None:
        if self.done():
            raise InvalidStateError("the answer is already set")
        self._error = error
        self._lock.release()
        if self.on_done is not None:
            self.on_done(self)

    def result(self, timeout: float | None = None) -> Outcome:
        if not self._lock.acquire(timeout=-1 if timeout is None else timeout):
            raise TimeoutError("no answer from the command bus in time")
        self._lock.release()  # so that result() can be asked again
        if self._error is not None:
            raise self._error
        assert self._value is not None
        return self._value


class Item:
    """One caller's command on its way through the bus: what it asks, its reply, its
    outcome once run, and the id of its idempotency record (if it has a key), derived
    once here. A plain class with slots: one is made per command."""

    __slots__ = ("command", "context", "future", "outcome", "record_id")

    def __init__(self, command: Command, context: Context) -> None:
        self.command = command
        self.context = context
        self.future = Reply()
        self.outcome: Outcome | None = None
        key = context.idempotency_key
        self.record_id: UUID | None = (
            None if key is None else IdempotencyRecord.create_id(context.project_id, key)
        )

    def __repr__(self) -> str:
        return f"Item({type(self.command).__name__}, record_id={self.record_id})"


@dataclass
class Batch:
    """Commands run one after another into one unit of work, on their way to one
    transaction. ``done`` are answered when it commits; ``refused`` are decided again
    on fresh aggregates afterwards (a refusal writes nothing, so no version check ever
    confirms what it read). A ``broken`` batch is never written: a handler recorded
    events and then raised, so its commands (and those that arrive until the committer
    takes it) run again one at a time."""

    uow: UnitOfWork
    items: list[Item] = field(default_factory=list)
    done: list[Item] = field(default_factory=list)
    refused: list[Item] = field(default_factory=list)
    sealed: Sealed | None = None
    error: BaseException | None = None
    position: int | None = None
    commit_s: float = 0.0
    broken: bool = False


class Pacer:
    """When the next batch goes to the store: at once, or after a short wait for more of
    the callers just answered to send their next commands.

    With a fixed set of callers, each waiting for its answer before it sends again, two
    shapes are stable. Everyone in one batch: the store idles while the commands run.
    Or two halves taking turns, each committing while the other's commands run: half as
    many per commit, but the store never idles. The first is better when a commit takes
    longer than the returning callers' commands, the second otherwise; the pacer
    compares the two from moving averages, then waits (briefly) for the batch to fill
    to everyone or to half. Handing over at the first command instead would settle into
    batches of one and of all the rest, in turn: a whole commit for one command."""

    SMOOTHING = 0.1
    MAX_WAIT_S = 0.002
    REST_BATCHES = 64  # after waits that mostly ran out, how long to stop waiting

    def __init__(self) -> None:
        self.commit_s = 0.0
        self.command_s = 0.0
        self.turnaround_s = 0.0002  # from an answer to that caller's next command
        self.answered_at = 0.0
        self.target = 1
        self.deadline = 0.0
        # How often a wait ended with the batch filled; callers that take longer than
        # the wait to return (clients across a network) make the waits pure loss.
        self.hits = 1.0
        self.rest = 0

    def command_took(self, seconds: float) -> None:
        self.command_s += self.SMOOTHING * (seconds - self.command_s)

    def arrived(self) -> None:
        """A command arrived while no batch was being built."""
        if self.answered_at:
            seconds = time.monotonic() - self.answered_at
            self.turnaround_s += self.SMOOTHING * (seconds - self.turnaround_s)
            self.answered_at = 0.0

    def committed(self, answered: int, commit_s: float, waiting: int) -> None:
        """A batch of ``answered`` commands committed in ``commit_s``; ``waiting`` are
        already run into the next batch."""
        self.commit_s += self.SMOOTHING * (commit_s - self.commit_s)
        self.answered_at = time.monotonic()
        self.target, self.deadline = 1, 0.0
        if self.rest > 0:
            self.rest -= 1
            return
        active = answered + waiting
        half = (active + 1) // 2
        # Commands per second of each shape, from the averages.
        turnaround, command = self.turnaround_s, self.command_s
        together = active / (self.commit_s + turnaround + active * command + 1e-9)
        halves = half / (max(self.commit_s, turnaround + half * command) + 1e-9)
        target = active if together > halves else half
        if waiting < target:
            self.target = target
            returning_s = turnaround + (target - waiting) * command
            self.deadline = self.answered_at + min(2 * returning_s, self.MAX_WAIT_S)

    def ready(self, size: int) -> bool:
        if size >= self.target:
            self._waited(hit=True)
            return True
        if time.monotonic() >= self.deadline:
            self._waited(hit=False)
            return True
        return False

    def wait_s(self) -> float:
        return max(0.0, self.deadline - time.monotonic())

    def idle_wait_s(self) -> float | None:
        """How long the committer, with no batch yet, waits before it looks again: until
        the deadline of a wait for returning callers, who then need not wake it for
        their first command (it takes the batch when full or at the deadline); with no
        such wait, or once it ran out with nobody back, until a command tells it."""
        if not self.deadline:
            return None
        left = self.deadline - time.monotonic()
        if left > 0:
            return left
        self._waited(hit=False)
        return None

    def _waited(self, *, hit: bool) -> None:
        if not self.deadline:
            return  # there was no wait
        self.target, self.deadline = 1, 0.0
        self.hits += self.SMOOTHING * (float(hit) - self.hits)
        if self.hits < 0.5:
            self.rest, self.hits = self.REST_BATCHES, 1.0
