"""Publishing integration events to the broker (issue 12): every project's events, in
log order, at least once, each with its envelope's stable id.

The publisher follows the ``integration_events`` read model the way webhook delivery
does, with one tracking row per destination (``broker_delivery_state``: the broker, its
exchange or stream, and the (position, ordinal) of the last event it confirmed: the
outbox's key). A pass reads the rows after that pair in batches, publishes each batch in
order (``adapters.broker``: every message of a batch is on the wire before the first
confirmation is awaited), and moves the tracking row to the batch's last pair once the
broker has confirmed all of it. A crash (``kill -9``) between the confirmation and that
commit means the batch is published again, with the same ids: consumers deduplicate on
the id, and the first copy of every id still arrives in log order. A broker that is down
stops the publisher at the first unconfirmed batch; it tries again after a doubling
pause (``RETRY_FIRST_S`` up to ``RETRY_LONGEST_S``), the backlog waits in the read
model, and nothing else does: writes never wait for the broker.

Across server processes one publisher works at a time, under a Postgres advisory lock
of the destination; the others find it taken and return. A new destination starts at
the beginning of the log (a broker configured later gets the whole history).

FastStream is asynchronous; the publisher runs its broker on an event loop of its own,
on a thread of its own; a pass (on the background thread, or the caller's for
``publish_pending``) hands it each batch and waits. One pass runs at a time.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Coroutine
from concurrent.futures import Future
from typing import Any, TypeVar

import orjson
import psycopg
from psycopg import sql

from adapters.background import BackgroundPasses
from adapters.broker import BrokerTarget, Outgoing, declare, send_batch
from adapters.database import advisory_lock_if_free
from domain.backoff import doubling_delay_s
from projections.integration_events import LAST_ORDINAL, all_events_after
from projections.integration_events import TABLE as EVENTS_TABLE
from projections.paging import fetch_all
from projections.registry import wait_for_progress
from projections.schema import table

log = logging.getLogger("tally.broker")

STATE_TABLE = "broker_delivery_state"
BATCH = 1000
# Batches sent and not yet confirmed, at most: the broker confirms one while it already
# has the next ones (bench/README.md: a bare batch loop did 6,200-7,800 messages/s with
# one in flight, 8,700-9,300 with three).
IN_FLIGHT = 3
# At most this many events per pass, so that a pass (and ``drain``) ends in bounded time
# and a stop request is seen; the next pass goes on from there.
MAX_PER_PASS = 50_000
RETRY_FIRST_S = 1.0
RETRY_LONGEST_S = 60.0
STOP_TIMEOUT_S = 5.0

_DDL = (
    "CREATE TABLE IF NOT EXISTS {state} (destination text PRIMARY KEY, "
    "position bigint NOT NULL, updated_at timestamptz NOT NULL DEFAULT now())",
    # The outbox's key became (position, ordinal): a row from before confirmed every
    # row at its position, which is what the largest ordinal says.
    f"ALTER TABLE {{state}} ADD COLUMN IF NOT EXISTS ordinal integer NOT NULL "
    f"DEFAULT {LAST_ORDINAL}",
)

Render = Callable[[dict[str, Any]], dict[str, Any]]
RenderAll = Callable[[list[dict[str, Any]]], list[dict[str, Any]]]
T = TypeVar("T")


def create_tables(pool: Any, schema: str) -> None:
    """The publisher's tracking table (not a read model: it records what the broker has
    confirmed, which no replay of the log could rebuild)."""
    with pool.connection() as conn, conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"tally-ddl:{schema}",))
        for statement in _DDL:
            conn.execute(sql.SQL(statement).format(state=table(schema, STATE_TABLE)))


class BrokerPublisher(BackgroundPasses):
    thread_name = "tally-broker"

    def __init__(
        self,
        tally: Any,
        render: Render,
        target: BrokerTarget,
        *,
        interval_s: float = 0.1,
        batch: int = BATCH,
        render_all: RenderAll | None = None,
    ) -> None:
        super().__init__(interval_s)
        self.tally = tally
        self.render = render
        # A batch's envelopes at once (``api.integration_events.envelopes``: what they
        # read beside their rows is read once for the batch), else one by one.
        self.render_all: RenderAll = render_all or (lambda rows: [render(r) for r in rows])
        self.target = target
        self.batch = batch
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: threading.Thread | None = None
        self._watcher: threading.Thread | None = None
        self._broker: Any = None
        self._pass_lock = threading.Lock()  # the thread's passes and ``drain`` take turns
        self._failures = 0
        self._retry_at = 0.0  # time.monotonic() before which passes wait
        create_tables(tally.views, tally.schema)

    # -- passes ----------------------------------------------------------------------------

    def start(self) -> None:
        """Passes every ``interval_s``, and at once when this process hears that the read
        models moved (a projection batch committed): the watcher thread kicks them."""
        super().start()
        if self._watcher is None:
            self._watcher = threading.Thread(
                target=self._watch, name="tally-broker-watch", daemon=True
            )
            self._watcher.start()

    def stop(self) -> None:
        super().stop()  # sets the stopping flag the watcher checks
        if self._watcher is not None:
            self._watcher.join(timeout=STOP_TIMEOUT_S)
            self._watcher = None

    def _watch(self) -> None:
        heard = 0
        while not self._stopping.is_set():
            position = wait_for_progress(self.tally.views, self.tally.schema, heard, 1.0)
            if position > heard:
                heard = position
                self.kick()

    def run_pass(self) -> None:
        if time.monotonic() >= self._retry_at:
            self.publish_pending()

    def publish_pending(self, limit: int = MAX_PER_PASS) -> int:
        """Publish what the destination has not confirmed yet, up to ``limit`` events;
        how many were published (0 as well when another process holds the destination or
        the broker failed: the failure is logged and the next pass waits a while)."""
        with self._pass_lock:
            try:
                moved = self._publish(limit)
            except Exception as error:  # the broker: down, refused, timed out
                self._failed(error)
                return 0
            self._failures = 0
            self._retry_at = 0.0
            return moved

    def drain(self, timeout_s: float = 60.0) -> int:
        """Passes until the destination has every event of the read model (tests, the
        CLI); ``TimeoutError`` if that takes longer than ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        total = 0
        while True:
            total += self.publish_pending()
            status = self.status()
            reached = (status["position"], status["ordinal"])
            if reached >= (status["head"], status["head_ordinal"]):
                return total
            if time.monotonic() > deadline:
                raise TimeoutError(f"the broker publisher is behind: {status}")
            time.sleep(min(0.2, max(0.0, self._retry_at - time.monotonic())))

    def status(self) -> dict[str, Any]:
        """Where the destination is: its confirmed position and the read model's head
        (each a (position, ordinal) pair: the outbox's key)."""
        query = sql.SQL(
            "SELECT h.position AS head, h.ordinal AS head_ordinal, s.position, s.ordinal "
            "FROM (SELECT 1) one LEFT JOIN (SELECT position, ordinal FROM {events} "
            "ORDER BY position DESC, ordinal DESC LIMIT 1) h ON true "
            "LEFT JOIN {state} s ON s.destination = %s"
        ).format(
            events=table(self.tally.schema, EVENTS_TABLE),
            state=table(self.tally.schema, STATE_TABLE),
        )
        row = fetch_all(self.tally.views, query, [self.target.destination])[0]
        return {
            "destination": self.target.destination,
            "position": int(row["position"] or 0),
            "ordinal": int(row["ordinal"] or 0),
            "head": int(row["head"] or 0),
            "head_ordinal": int(row["head_ordinal"] or 0),
        }

    # -- one pass --------------------------------------------------------------------------

    def _publish(self, limit: int) -> int:
        with (
            self.tally.views.connection() as conn,
            advisory_lock_if_free(conn, self._lock_key()) as held,
        ):
            if not held:
                return 0  # another process publishes to this destination
            return self._publish_held(conn, limit)

    def _publish_held(self, conn: psycopg.Connection[Any], limit: int) -> int:
        """Batches in order, up to IN_FLIGHT of them sent and not yet confirmed: the
        broker always has the next batch while it writes and confirms one, and this
        thread reads and renders the next meanwhile. Each batch is on the wire before the
        next is sent (``_send`` returns then), so they go out in log order; the oldest is
        awaited first, and the tracking row moves to a batch's last pair only once it and
        every batch before it are confirmed."""
        read_to = self._position(conn)
        read = moved = 0
        # (confirmed, the last (position, ordinal), count), oldest first
        in_flight: deque[tuple[Future[None], tuple[int, int], int]] = deque()
        while True:
            more = read < limit and not self._stopping.is_set()
            messages = self._next_batch(read_to) if more else []
            if messages:
                read_to = (messages[-1].position, messages[-1].ordinal)
                read += len(messages)
                in_flight.append((self._submit(self._await(self._send(messages))), read_to,
                                  len(messages)))  # fmt: skip
            while in_flight and (len(in_flight) >= IN_FLIGHT or not messages):
                confirmed, last, count = in_flight.popleft()
                confirmed.result()  # raises if the broker did not confirm all of it
                self._move(conn, last)
                moved += count
            if not messages:
                return moved

    def _next_batch(self, after: tuple[int, int]) -> list[Outgoing]:
        rows = all_events_after(self.tally.views, self.tally.schema, after, self.batch)
        return [self._outgoing(row, e) for row, e in zip(rows, self.render_all(rows), strict=True)]

    def _outgoing(self, row: dict[str, Any], envelope: dict[str, Any]) -> Outgoing:
        return Outgoing(
            id=envelope["id"],
            type=row["type"],
            project_id=str(row["project_id"]),
            position=int(row["position"]),
            ordinal=int(row["ordinal"]),
            body=orjson.dumps(envelope),
        )

    async def _send(self, messages: list[Outgoing]) -> Coroutine[Any, Any, None]:
        """Send the batch (connecting first if need be); what to await for its
        confirmation, as a coroutine for ``_submit``."""
        if self._broker is None:
            broker = self.target.make_broker()
            await broker.connect()
            await declare(broker, self.target)
            self._broker = broker
        confirming = await send_batch(self._broker, self.target, messages)

        async def confirmed() -> None:
            await confirming

        return confirmed()

    def _failed(self, error: Exception) -> None:
        """Drop the broker (the next pass connects afresh) and wait before trying again."""
        self._failures += 1
        pause_s = doubling_delay_s(self._failures, RETRY_FIRST_S, RETRY_LONGEST_S)
        self._retry_at = time.monotonic() + pause_s
        log.warning(
            "broker %s: publishing failed (%s: %s); trying again in %.0f s",
            self.target.destination, type(error).__name__, error, pause_s,
        )  # fmt: skip
        self._drop_broker()

    # -- tracking --------------------------------------------------------------------------

    def _lock_key(self) -> str:
        return f"tally-broker:{self.tally.schema}:{self.target.destination}"

    def _position(self, conn: psycopg.Connection[Any]) -> tuple[int, int]:
        """The destination's confirmed (position, ordinal) (a new one starts at the log's
        start)."""
        t = table(self.tally.schema, STATE_TABLE)
        conn.execute(
            sql.SQL(
                "INSERT INTO {} (destination, position, ordinal) VALUES (%s, 0, 0) "
                "ON CONFLICT (destination) DO NOTHING"
            ).format(t),
            (self.target.destination,),
        )
        row = conn.execute(
            sql.SQL("SELECT position, ordinal FROM {} WHERE destination = %s").format(t),
            (self.target.destination,),
        ).fetchone()
        assert row is not None
        values = (row["position"], row["ordinal"]) if isinstance(row, dict) else row
        return int(values[0]), int(values[1])

    def _move(self, conn: psycopg.Connection[Any], cursor: tuple[int, int]) -> None:
        conn.execute(
            sql.SQL("UPDATE {} SET position = %s, ordinal = %s, updated_at = now() "
                    "WHERE destination = %s").format(table(self.tally.schema, STATE_TABLE)),
            (*cursor, self.target.destination),
        )  # fmt: skip

    # -- the event loop --------------------------------------------------------------------

    def _submit(self, coroutine: Coroutine[Any, Any, T]) -> Future[T]:
        """Start ``coroutine`` on the publisher's event loop. The loop runs on a thread
        of its own all the time, so that the broker connection's heartbeats are answered
        between passes (an idle connection would otherwise be closed)."""
        if self._loop is None:
            loop = asyncio.new_event_loop()
            thread = threading.Thread(
                target=loop.run_forever, name="tally-broker-loop", daemon=True
            )
            thread.start()
            self._loop, self._loop_thread = loop, thread
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop)

    def _await(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return self._submit(coroutine).result()

    def _drop_broker(self) -> None:
        broker, self._broker = self._broker, None
        if broker is not None and self._loop is not None:
            try:
                self._await(asyncio.wait_for(broker.stop(), STOP_TIMEOUT_S))
            except Exception:  # a broken connection may fail to close; it is dropped anyway
                log.debug("closing the broker connection failed", exc_info=True)

    def close(self) -> None:
        """Stop, disconnect and end the event loop (when the application closes)."""
        self.stop()
        with self._pass_lock:
            self._drop_broker()
            if self._loop is not None:
                self._loop.call_soon_threadsafe(self._loop.stop)
                if self._loop_thread is not None:
                    self._loop_thread.join(timeout=STOP_TIMEOUT_S)
                self._loop.close()
                self._loop, self._loop_thread = None, None
