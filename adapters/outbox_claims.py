"""One attempt at a time per provider call, across threads and server processes.

A route makes the calls its command asked for right after the commit, and the outbox
worker's pass makes every pending call it finds due; several server processes each run
a worker. Before this claim existed, a pass that came while a route's request was in
flight read the call as still pending and made it again (a refund reached the provider
twice within about 10 ms, with the same idempotency key: harmless at Stripe, a second
request all the same, and at a provider without keys a look-up race).

The claim is a session advisory lock on the call id, held while the call is made and its
outcome recorded: whoever holds it is the only one talking to the provider about that
call, and whoever gets it afterwards re-reads the call and finds it settled. A worker's
pass does not wait for a claim (it skips the call; the holder settles it), a route waits
a bounded time so that its answer can show the outcome rather than "pending".

The lock's connection comes from a pool of the claims' own (``claims_pool_size``), never
the read models' pool: a claim holds its connection for a whole provider request, and
when claims took read-model connections, ten slow calls of one project took all ten and
every project's reads waited. A claimant that waits takes a connection only to look, once
per poll, and holds none while it sleeps; one that finds the claims' pool exhausted is
told the call is taken (the holders settle their calls; a pass tries again later).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any, Protocol
from uuid import UUID

from psycopg_pool import ConnectionPool, PoolTimeout

from adapters.database import advisory_lock_if_free

# How often a route waiting for a call in flight looks again.
POLL_S = 0.02
# The longest a claimant that does not wait waits for a connection of the claims' pool.
CONNECT_S = 0.5


def claim_key(call_id: UUID) -> str:
    return f"tally-provider-call:{call_id}"


class Claims(Protocol):
    def claimed(self, call_id: UUID, wait_s: float = 0.0) -> AbstractContextManager[bool]:
        """Hold the claim on ``call_id`` for the block; yields False when another
        holder still had it after ``wait_s`` seconds (the caller then leaves the call to
        it). The claim ends with the block, also when the block raises."""
        ...


class PostgresClaims:
    """Claims that hold across server processes: advisory locks of one database, on
    connections of a pool of their own; a claimant polls with a connection per look.

    A thread that claims a call while it holds another (a charge that makes its
    customer's ``create_customer`` call first) takes the second lock on the session it
    holds already, rather than a second pooled connection: so a claim never waits for a
    connection while holding one, and a thread holds at most one however deep."""

    def __init__(self, pool: ConnectionPool[Any]) -> None:
        self.pool = pool
        self._held = threading.local()

    @contextmanager
    def claimed(self, call_id: UUID, wait_s: float = 0.0) -> Iterator[bool]:
        conn = getattr(self._held, "conn", None)
        if conn is not None:
            with self._claim(conn, call_id, wait_s) as held:
                yield held
            return
        deadline = time.monotonic() + wait_s
        while True:
            try:
                conn = self.pool.getconn(timeout=max(deadline - time.monotonic(), CONNECT_S))
            except PoolTimeout:
                yield False
                return
            try:
                with advisory_lock_if_free(conn, claim_key(call_id)) as held:
                    if held:
                        self._held.conn = conn
                        try:
                            yield True
                        finally:
                            self._held.conn = None
                        return
            finally:
                self.pool.putconn(conn)
            if time.monotonic() >= deadline:
                yield False
                return
            time.sleep(POLL_S)

    @contextmanager
    def _claim(self, conn: Any, call_id: UUID, wait_s: float) -> Iterator[bool]:
        """A claim inside another, on the session the thread holds."""
        deadline = time.monotonic() + wait_s
        while True:
            with advisory_lock_if_free(conn, claim_key(call_id)) as held:
                if held or time.monotonic() >= deadline:
                    yield held
                    return
            time.sleep(POLL_S)


class LocalClaims:
    """Claims between the threads of one process, for an application with no database
    of its own (the unit tests' in-memory world)."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[UUID, threading.Lock] = {}

    @contextmanager
    def claimed(self, call_id: UUID, wait_s: float = 0.0) -> Iterator[bool]:
        with self._guard:
            lock = self._locks.setdefault(call_id, threading.Lock())
        held = lock.acquire(timeout=wait_s) if wait_s > 0 else lock.acquire(blocking=False)
        try:
            yield held
        finally:
            if held:
                lock.release()
