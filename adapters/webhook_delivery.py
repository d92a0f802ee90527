"""Webhook delivery (issue 12): every enabled endpoint gets its project's integration
events, in outbox order ((position, ordinal): the log's order, and the events derived at
one position in their ordinals' order), at least once, signed.

Delivery follows the ``integration_events`` read model the way a projection follows the
log, with a tracking row per endpoint (its (position, ordinal)) and a row per attempt
(``adapters.webhook_attempts``). Events are read a page at a time (``BATCH``) and sent
one after the other, in order, over the endpoint's own keep-alive connection; the page's
attempts and the tracking row's move are committed in one transaction once the page is
sent or one of its events failed. A crash before that commit sends the page again, with
the same ``webhook-id`` values, which the receiver deduplicates on. Events the endpoint
does not want (``enabled_events``) move its position without a send. In a live project
the endpoint's host is resolved and checked once per pass, not per event.

An endpoint that fails (no answer, a timeout, a non-2xx, a redirect, a refused address)
stops at that event and is tried again after a doubling delay (``RETRY_FIRST_S``, at
most ``RETRY_LONGEST_S``): its own backlog grows and nothing else waits for it. Each
endpoint is worked on by one thread of a small pool and, across server processes, under
a Postgres advisory lock of its own. A pass sends at most ``MAX_PER_PASS`` events per
endpoint, and starts no send after ``WEBHOOK_PASS_S`` (domain/limits/), so an endpoint
whose receiver answers slowly gives its worker to the others; one that stopped at either
kicks the next pass at once. Each send has a deadline (``timeout_s``: a receiver pacing
its answer byte by byte is cut off at it, ``adapters.webhook_transport``). An endpoint
failing for ``FAILING_DISABLES_AFTER`` (three days) is disabled through the bus
(``WebhookEndpoint.Disabled``, with the reason); enabling it again resumes where it
stopped (a page's record, its retry and the disabling: ``adapters.webhook_pages``).
The background pass also prunes attempts older than the retention period, at
most once an hour (``prune``).

A redelivery (``redeliver``) sends one attempt's event again now, with the same id, and
records a new attempt; it does not move the endpoint's position. The envelope is built by
``render`` (``api.integration_events.envelope``, handed in by the composition root).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import timedelta
from functools import partial
from typing import Any
from uuid import UUID, uuid4, uuid5

import orjson
import psycopg
from eventsourcing.application import AggregateNotFoundError

from adapters.background import BackgroundPasses
from adapters.database import advisory_lock_if_free
from adapters.webhook_attempts import (
    attempt_row,
    create_tables,
    get_attempt,
    prune,
    tracking_row,
    write_page,
)
from adapters.webhook_pages import Page, record_failed, record_sent
from adapters.webhook_transport import KeepAlive, KeptConnections, Sent, refused_address, send
from domain.limits import WEBHOOK_PASS_S
from domain.projects import Project
from domain.webhook_endpoints import ENABLED, WebhookEndpoint
from projections.integration_events import event_at, events_after

log = logging.getLogger("tally.webhooks")

# Events read, sent and recorded per transaction: a crash resends at most this many.
BATCH = 500
# At most this many events per endpoint and pass, so that a pass (and ``drain``) ends
# in bounded time however long the backlog; the next pass goes on from there.
MAX_PER_PASS = 2000
PRUNE_EVERY_S = 3600.0
# Keep-alive connections kept, one per endpoint, the least recently used closed beyond it.
CLIENTS_KEPT = 64

Render = Callable[[dict[str, Any]], dict[str, Any]]


class WebhookDelivery(BackgroundPasses):
    thread_name = "tally-webhooks"

    def __init__(
        self,
        tally: Any,
        render: Render,
        *,
        interval_s: float = 1.0,
        timeout_s: float = 10.0,
        workers: int = 4,
        retention_days: int = 30,
        pass_limit_s: float = WEBHOOK_PASS_S,
    ) -> None:
        super().__init__(interval_s)
        self.tally = tally
        self.render = render
        self.timeout_s = timeout_s  # each send's deadline (adapters.webhook_transport)
        self.pass_limit_s = pass_limit_s
        self.retention = timedelta(days=retention_days)
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="tally-webhook")
        self._busy: dict[UUID, Future[int]] = {}
        self._busy_lock = threading.Lock()
        self._cut_short: set[UUID] = set()  # endpoints whose pass stopped at its time limit
        self._clients = KeptConnections(CLIENTS_KEPT)
        self._pruned_at = -PRUNE_EVERY_S
        create_tables(tally.views, tally.schema)

    # -- passes ----------------------------------------------------------------------------

    def run_once(self) -> list[Future[int]]:
        """Hand every enabled endpoint that is not being worked on to the pool; return
        the futures (each: how many events that endpoint got or skipped)."""
        from projections.webhook_endpoints import enabled_endpoints

        started = []
        for project_id, endpoint_id in enabled_endpoints(self.tally.views, self.tally.schema):
            with self._busy_lock:
                if endpoint_id in self._busy and not self._busy[endpoint_id].done():
                    continue
                future = self._pool.submit(self.deliver_endpoint, project_id, endpoint_id)
                self._busy[endpoint_id] = future
            future.add_done_callback(partial(self._again_if_more, endpoint_id))
            started.append(future)
        return started

    def _again_if_more(self, endpoint_id: UUID, future: Future[int]) -> None:
        """A pass that stopped at MAX_PER_PASS or at its time limit left a backlog: the
        next pass now (the endpoint queues behind the others waiting for a worker)."""
        with self._busy_lock:
            cut = endpoint_id in self._cut_short
            self._cut_short.discard(endpoint_id)
        done = not future.cancelled() and future.exception() is None
        if done and (cut or future.result() >= MAX_PER_PASS):
            self.kick()

    def drain(self, timeout_s: float = 30.0) -> int:
        """Passes until one moves nothing (tests and the CLI; the server has the thread)."""
        from projections.runner import wait_for_position

        total = 0
        for _ in range(50):
            head = int(self.tally.store.recorder.max_notification_id() or 0)
            wait_for_position(self.tally.views, self.tally.schema, head, timeout_s)
            # Each future is one endpoint's bounded pass (MAX_PER_PASS, each send timed out).
            moved = sum(f.result() for f in self.run_once())
            total += moved
            if moved == 0:
                break
        return total

    def prune(self) -> int:
        """Delete the attempts older than the retention period; how many."""
        before = self.tally.clock.now() - self.retention
        deleted = prune(self.tally.views, self.tally.schema, before)
        if deleted:
            log.info("pruned %d webhook attempts made before %s", deleted, before.isoformat())
        return deleted

    # -- one endpoint ----------------------------------------------------------------------

    def deliver_endpoint(self, project_id: UUID, endpoint_id: UUID) -> int:
        """Send the endpoint's due events in order until one fails, none is left, the
        pass has sent MAX_PER_PASS or has run for ``pass_limit_s`` (no send starts after
        it); how many events it got or skipped."""
        key = f"tally-webhook:{self.tally.schema}:{endpoint_id}"
        with self.tally.views.connection() as conn, advisory_lock_if_free(conn, key) as held:
            if not held:
                return 0  # another worker has it
            # A crash may lose the last few commits: those events are sent again, with the
            # same ids, which at-least-once allows; commits stop waiting for the disk.
            conn.execute("SET synchronous_commit = off")
            try:
                return self._deliver_locked(conn, project_id, endpoint_id)
            finally:
                conn.execute("RESET synchronous_commit")  # the connection goes back to the pool

    def _deliver_locked(
        self, conn: psycopg.Connection[Any], project_id: UUID, endpoint_id: UUID
    ) -> int:
        endpoint = self._endpoint(project_id, endpoint_id)
        if endpoint is None or endpoint.status != ENABLED:
            return 0
        state = self._state(conn, endpoint)
        next_at = state["next_attempt_at"]
        if next_at is not None and next_at > self.tally.clock.now():
            return 0
        # What every send of this pass shares: the secrets that sign, the address check.
        secrets = self._secrets(endpoint)
        if not secrets:
            return 0
        refusal: str | None = None  # resolved once there is something to send
        ends_at = time.monotonic() + self.pass_limit_s
        moved, cursor = 0, (int(state["position"]), int(state["ordinal"]))
        while moved < MAX_PER_PASS:
            limit = min(BATCH, MAX_PER_PASS - moved)
            rows = events_after(self.tally.views, self.tally.schema, project_id, cursor, limit)
            if not rows:
                break
            if refusal is None:
                refusal = "" if self._test_mode(project_id) else refused_address(endpoint.url)
            page = self._send_page(endpoint, rows, cursor, secrets, refusal, ends_at)
            moved += page.moved
            if page.failed is not None:
                record_failed(conn, self.tally, endpoint, state, page)
                break
            record_sent(conn, self.tally.schema, endpoint, state, page)
            cursor = (page.position, page.ordinal)
            if page.cut_short:
                with self._busy_lock:
                    self._cut_short.add(endpoint_id)
                break
        return moved

    def _send_page(
        self,
        endpoint: WebhookEndpoint,
        rows: list[dict[str, Any]],
        cursor: tuple[int, int],
        secrets: list[str],
        refusal: str,
        ends_at: float,
    ) -> Page:
        page = Page(*cursor)
        client = self._clients.get(endpoint.id)
        for row in rows:
            if endpoint.wants(row["type"]):
                if time.monotonic() >= ends_at:
                    page.cut_short = True  # the pass's time is up: the rest waits for the next
                    return page
                if refusal:
                    sent = Sent(False, None, 0, "", f"address refused: {refusal}")
                else:  # the address was checked once for this pass, above
                    sent = self._send(endpoint, row, secrets, True, client)
                page.attempts.append(attempt_row(endpoint, row, sent, self.tally.clock.now()))
                if not sent.ok:
                    page.failed = sent
                    return page
            page.position, page.ordinal = int(row["position"]), int(row["ordinal"])
            page.moved += 1
        return page

    def _endpoint(self, project_id: UUID, endpoint_id: UUID) -> WebhookEndpoint | None:
        try:
            endpoint = self.tally.store.repository.get(endpoint_id)
        except AggregateNotFoundError:
            return None
        if not isinstance(endpoint, WebhookEndpoint) or endpoint.project_id != project_id:
            return None
        return endpoint

    def _state(self, conn: psycopg.Connection[Any], endpoint: WebhookEndpoint) -> dict[str, Any]:
        return tracking_row(conn, self.tally.schema, endpoint.id, endpoint.project_id)

    def _send(
        self,
        endpoint: WebhookEndpoint,
        row: dict[str, Any],
        secrets: list[str],
        allow_private: bool,
        client: KeepAlive,
    ) -> Sent:
        envelope = self.render(row)
        body = orjson.dumps(envelope)
        return send(
            endpoint.url,
            envelope["id"],
            body,
            secrets,
            allow_private=allow_private,
            timeout_s=self.timeout_s,
            client=client,
        )

    def _secrets(self, endpoint: WebhookEndpoint) -> list[str]:
        """The secrets that sign now, opened; none (and one log line) when this server
        cannot open them (TALLY_SECRETS_KEY unset, or without the key that sealed them):
        the endpoint waits, its backlog kept, until the key is back."""
        box = self.tally.providers.secrets
        try:
            if box is None:
                raise ValueError("TALLY_SECRETS_KEY is not set")
            return [box.open(sealed) for sealed in endpoint.secrets_at(self.tally.clock.now())]
        except ValueError as error:
            log.warning("webhook endpoint %s waits: its secret cannot be opened (%s)",
                        endpoint.id, error)  # fmt: skip
            return []

    def _test_mode(self, project_id: UUID) -> bool:
        project = self.tally.store.repository.get(project_id)
        return isinstance(project, Project) and project.mode == "test"

    # -- redelivery ------------------------------------------------------------------------

    def redeliver(
        self, project_id: UUID, attempt_id: UUID, key: str | None = None
    ) -> dict[str, Any] | None:
        """Send an attempt's event again now (same id); the new attempt, or None when the
        attempt is not the project's or its endpoint is gone. Under an idempotency key the
        new attempt's id derives from it, and asking again answers that attempt, unsent."""
        new_id = uuid5(project_id, f"redeliver:{attempt_id}:{key}") if key else uuid4()
        done = get_attempt(self.tally.views, self.tally.schema, project_id, new_id)
        if done is not None:
            return done
        found = get_attempt(self.tally.views, self.tally.schema, project_id, attempt_id)
        if found is None:
            return None
        endpoint = self._endpoint(project_id, UUID(found["endpoint_id"]))
        row = event_at(
            self.tally.views, self.tally.schema, project_id, found["position"], found["ordinal"]
        )
        if endpoint is None or endpoint.status == "deleted" or row is None:
            return None
        secrets = self._secrets(endpoint)
        if not secrets:
            return None
        client = self._clients.get(endpoint.id)
        sent = self._send(endpoint, row, secrets, self._test_mode(project_id), client)
        attempt = attempt_row(endpoint, row, sent, self.tally.clock.now(), new_id)
        with self.tally.views.connection() as conn:
            write_page(conn, self.tally.schema, [attempt], None, None)
        return get_attempt(self.tally.views, self.tally.schema, project_id, new_id)

    # -- background thread ---------------------------------------------------------------

    def close(self) -> None:
        """Stop, and end the pool's threads (when the application closes)."""
        self.stop()
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._clients.close()

    def run_pass(self) -> None:
        self.run_once()
        if time.monotonic() - self._pruned_at >= PRUNE_EVERY_S:
            self._pruned_at = time.monotonic()
            self.prune()
