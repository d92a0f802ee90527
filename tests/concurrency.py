"""What the concurrency tests share: work run on threads released together, so that it
contends (``at_once``), and several independent Tally instances on one schema, each with
its own command bus and writer, like processes (the ``instances`` fixture, imported by
name into the integration tests that use it)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import pytest

from api.bootstrap import Tally, build
from api.settings import Settings
from domain.errors import DomainError

T = TypeVar("T")


def at_once(n: int, work: Callable[[int], T]) -> list[T | DomainError]:
    """Run ``work(i)`` for i in range(n) on n threads released together; domain errors
    are returned in place of results."""
    barrier = threading.Barrier(n)

    def run(i: int) -> T | DomainError:
        barrier.wait()
        try:
            return work(i)
        except DomainError as error:
            return error

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(run, range(n)))


def wide_serialized_bounds(app: Tally) -> None:
    """Give ``app``'s serialized last attempt bounds of 5 s instead of 100 ms.

    For tests about who wins a race, not about the bounds (test_event_writer_serialized
    has those): on a loaded 2-core box the serialized attempt's own work once took more
    than SERIALIZED_HOLD_MS, and it answered concurrent_update, as bounded."""
    writer: Any = app.bus._writer  # type: ignore[attr-defined]
    writer.lock_wait_ms = writer.hold_ms = 5_000


@pytest.fixture
def instances(tally: Tally, settings: Settings) -> Iterator[list[Tally]]:
    # Small pools: each instance opens its whole pool at start, and other suites share
    # the server's connection limit. One writer thread per bus needs few connections.
    small = settings.model_copy(update={"pool_size": 3})
    extra = [build(small), build(small)]
    yield [tally, *extra]
    for app in extra:
        app.close()
