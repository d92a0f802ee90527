"""Webhook delivery (issue 12): every enabled endpoint gets its project's integration
events, in log order, at least once, signed.

Delivery follows the ``integration_events`` read model the way a projection follows the
log: each endpoint has a tracking row (``webhook_delivery_state``: the position of the
last event it acknowledged or skipped, its failure count, when it may be tried next and
since when it has been failing), and each attempt is a row of ``webhook_attempts``. An
attempt's row and the tracking row's move are committed in one transaction, after the
receiver answered; a crash in between means the event is sent again, with the same
``webhook-id``, which the receiver deduplicates on. Events the endpoint does not want
(``enabled_events``) move its position without a send.

An endpoint that fails (no answer, a timeout, a non-2xx, a redirect, a refused address)
stops at that event and is tried again after a doubling delay (``RETRY_FIRST_S``, at
most ``RETRY_LONGEST_S``): its own backlog grows and nothing else waits for it. Each
endpoint is worked on by one thread of a small pool and, across server processes, under
a Postgres advisory lock of its own; a pass hands out the endpoints that are due and
returns at once, so a slow receiver holds up only itself. An endpoint that has been
failing for ``FAILING_DISABLES_AFTER`` (three days) is disabled through the bus
(``WebhookEndpoint.Disabled``, with the reason); enabling it again resumes where it
stopped.

A redelivery (``redeliver``) sends one attempt's event again now, to the same endpoint,
with the same id, and records a new attempt; it does not move the endpoint's position.

The envelope is built by ``render`` (the API's ``api.integration_events.envelope``,
handed in by the composition root, since adapters do not import the API).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid4, uuid5

import httpx
import orjson
import psycopg
from eventsourcing.application import AggregateNotFoundError
from psycopg import sql

from adapters.background import BackgroundPasses
from adapters.webhook_transport import Sent, send
from commands.bus import Context
from commands.webhook_endpoints import DisableWebhookEndpoint
from domain.backoff import doubling_delay_s
from domain.projects import Project
from domain.webhook_endpoints import ENABLED, FAILING_DISABLES_AFTER, WebhookEndpoint
from projections.integration_catalog import event_id
from projections.integration_events import events_after
from projections.paging import check_limit, fetch_all, fetch_page, plain
from projections.schema import table

log = logging.getLogger("tally.webhooks")

STATE_TABLE = "webhook_delivery_state"
ATTEMPTS_TABLE = "webhook_attempts"
RETRY_FIRST_S = 30.0
RETRY_LONGEST_S = 12 * 3600.0
BATCH = 100
# At most this many events per endpoint and pass, so that a pass (and ``drain``) ends
# in bounded time however long the backlog; the next pass goes on from there.
MAX_PER_PASS = 500
ACTOR = "webhooks"

_DDL = (
    "CREATE TABLE IF NOT EXISTS {state} (endpoint_id uuid PRIMARY KEY, "
    "project_id uuid NOT NULL, position bigint NOT NULL, failures integer NOT NULL, "
    "next_attempt_at timestamptz, failing_since timestamptz)",
    "CREATE TABLE IF NOT EXISTS {attempts} (seq bigserial PRIMARY KEY, id uuid NOT NULL "
    "UNIQUE, project_id uuid NOT NULL, endpoint_id uuid NOT NULL, event_id text NOT NULL, "
    "event_type text NOT NULL, position bigint NOT NULL, status text NOT NULL, "
    "http_status integer, latency_ms integer NOT NULL, response text NOT NULL, "
    "error text NOT NULL, redelivery boolean NOT NULL, created_at timestamptz NOT NULL)",
    "CREATE INDEX IF NOT EXISTS webhook_attempts_project ON {attempts} (project_id, seq)",
)

Render = Callable[[dict[str, Any]], dict[str, Any]]


def create_tables(pool: Any, schema: str) -> None:
    """The delivery's own tables (not read models: they record what was sent, which no
    replay of the log could rebuild)."""
    names = {"state": table(schema, STATE_TABLE), "attempts": table(schema, ATTEMPTS_TABLE)}
    with pool.connection() as conn, conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"tally-ddl:{schema}",))
        for statement in _DDL:
            conn.execute(sql.SQL(statement).format(**names))


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
    ) -> None:
        super().__init__(interval_s)
        self.tally = tally
        self.render = render
        self.timeout_s = timeout_s
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="tally-webhook")
        self._busy: dict[UUID, Future[int]] = {}
        self._busy_lock = threading.Lock()
        # One client for every send: keep-alive connections to receivers are reused.
        self._client = httpx.Client(timeout=timeout_s, follow_redirects=False)
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
            started.append(future)
        return started

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

    # -- one endpoint ----------------------------------------------------------------------

    def deliver_endpoint(self, project_id: UUID, endpoint_id: UUID) -> int:
        """Send the endpoint's due events in order until one fails or none is left;
        how many events it got or skipped."""
        with self.tally.views.connection() as conn:
            if not _try_lock(conn, f"tally-webhook:{self.tally.schema}:{endpoint_id}"):
                return 0  # another worker has it
            # A crash may lose the last few commits: those events are sent again, with the
            # same ids, which at-least-once allows; commits stop waiting for the disk.
            conn.execute("SET synchronous_commit = off")
            try:
                return self._deliver_locked(conn, project_id, endpoint_id)
            finally:
                conn.execute("RESET synchronous_commit")  # the connection goes back to the pool
                _unlock(conn, f"tally-webhook:{self.tally.schema}:{endpoint_id}")

    def _deliver_locked(
        self, conn: psycopg.Connection[Any], project_id: UUID, endpoint_id: UUID
    ) -> int:
        endpoint = self._endpoint(project_id, endpoint_id)
        if endpoint is None or endpoint.status != ENABLED:
            return 0
        state = self._state(conn, endpoint)
        now = self.tally.clock.now()
        if state["next_attempt_at"] is not None and state["next_attempt_at"] > now:
            return 0
        moved = 0
        position = int(state["position"])
        # What every send of this pass shares: the secrets that sign and the project's mode.
        secrets = self._secrets(endpoint)
        if not secrets:
            return 0
        allow_private = self._test_mode(endpoint.project_id)
        while moved < MAX_PER_PASS:
            rows = events_after(self.tally.views, self.tally.schema, project_id, position, BATCH)
            if not rows:
                break
            for row in rows:
                if not endpoint.wants(row["type"]):
                    position = int(row["position"])
                    moved += 1
                    continue
                sent = self._send(endpoint, row, secrets, allow_private)
                if not sent.ok:
                    self._failed(conn, endpoint, state, position, row, sent)
                    return moved
                position = int(row["position"])
                self._record(conn, endpoint, row, sent, position=position, state=None)
                moved += 1
        if position != int(state["position"]):
            self._move(conn, endpoint_id, position)
        return moved

    def _endpoint(self, project_id: UUID, endpoint_id: UUID) -> WebhookEndpoint | None:
        try:
            endpoint = self.tally.store.repository.get(endpoint_id)
        except AggregateNotFoundError:
            return None
        if not isinstance(endpoint, WebhookEndpoint) or endpoint.project_id != project_id:
            return None
        return endpoint

    def _state(self, conn: psycopg.Connection[Any], endpoint: WebhookEndpoint) -> dict[str, Any]:
        """The endpoint's tracking row; a new endpoint starts after the event that
        registered it (it gets what happens from then on)."""
        t = table(self.tally.schema, STATE_TABLE)
        conn.execute(
            sql.SQL(
                "INSERT INTO {} (endpoint_id, project_id, position, failures) "
                "VALUES (%s, %s, %s, 0) ON CONFLICT (endpoint_id) DO NOTHING"
            ).format(t),
            (endpoint.id, endpoint.project_id, self._registered_at(endpoint)),
        )
        row = conn.execute(
            sql.SQL("SELECT * FROM {} WHERE endpoint_id = %s").format(t), (endpoint.id,)
        ).fetchone()
        assert row is not None
        return dict(row)

    def _registered_at(self, endpoint: WebhookEndpoint) -> int:
        rows = fetch_all(
            self.tally.views,
            sql.SQL("SELECT position FROM {} WHERE id = %s").format(
                table(self.tally.schema, "webhook_endpoints")
            ),
            [endpoint.id],
        )
        return int(rows[0]["position"]) if rows else 0

    def _send(
        self,
        endpoint: WebhookEndpoint,
        row: dict[str, Any],
        secrets: list[str],
        allow_private: bool,
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
            client=self._client,
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

    # -- bookkeeping -----------------------------------------------------------------------

    def _failed(
        self,
        conn: psycopg.Connection[Any],
        endpoint: WebhookEndpoint,
        state: dict[str, Any],
        position: int,
        row: dict[str, Any],
        sent: Sent,
    ) -> None:
        now = self.tally.clock.now()
        failures = int(state["failures"]) + 1
        since: datetime = state["failing_since"] or now
        retry_at = now + timedelta(
            seconds=doubling_delay_s(failures, RETRY_FIRST_S, RETRY_LONGEST_S)
        )
        update = {"position": position, "failures": failures, "next_attempt_at": retry_at,
                  "failing_since": since}  # fmt: skip
        self._record(conn, endpoint, row, sent, position=position, state=update)
        log.warning(
            "webhook endpoint %s failed: %s (attempt %d)", endpoint.id, sent.error, failures
        )
        if now - since >= FAILING_DISABLES_AFTER:
            reason = f"deliveries failed since {since.isoformat()}: {sent.error}"[:500]
            command = DisableWebhookEndpoint(endpoint_id=endpoint.id, reason=reason)
            self.tally.execute(command, Context(endpoint.project_id, ACTOR))

    def _record(
        self,
        conn: psycopg.Connection[Any],
        endpoint: WebhookEndpoint,
        row: dict[str, Any],
        sent: Sent,
        *,
        position: int,
        state: dict[str, Any] | None,
        redelivery: UUID | None = None,
    ) -> dict[str, Any]:
        """One attempt's row, and (unless a redelivery: ``redelivery`` is then the new
        attempt's id) the endpoint's tracking row, in one transaction: success clears the
        failures, ``state`` sets them."""
        attempt = {
            "id": redelivery or uuid4(),
            "project_id": endpoint.project_id,
            "endpoint_id": endpoint.id,
            "event_id": event_id(int(row["position"]), row["type"]),
            "event_type": row["type"],
            "position": int(row["position"]),
            "status": "succeeded" if sent.ok else "failed",
            "http_status": sent.status,
            "latency_ms": sent.latency_ms,
            "response": sent.response,
            "error": sent.error,
            "redelivery": redelivery is not None,
            "created_at": self.tally.clock.now(),
        }
        moved = state or {"position": position, "failures": 0, "next_attempt_at": None,
                          "failing_since": None}  # fmt: skip
        with conn.transaction():
            conn.execute(
                sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
                    table(self.tally.schema, ATTEMPTS_TABLE),
                    sql.SQL(", ").join(sql.Identifier(k) for k in attempt),
                    sql.SQL(", ").join(sql.Placeholder(k) for k in attempt),
                ),
                attempt,
            )
            if redelivery is None:
                conn.execute(
                    sql.SQL(
                        "UPDATE {} SET position = %(position)s, failures = %(failures)s, "
                        "next_attempt_at = %(next_attempt_at)s, "
                        "failing_since = %(failing_since)s WHERE endpoint_id = %(id)s"
                    ).format(table(self.tally.schema, STATE_TABLE)),
                    {**moved, "id": endpoint.id},
                )
        return attempt

    def _move(self, conn: psycopg.Connection[Any], endpoint_id: UUID, position: int) -> None:
        conn.execute(
            sql.SQL("UPDATE {} SET position = %s WHERE endpoint_id = %s").format(
                table(self.tally.schema, STATE_TABLE)
            ),
            (position, endpoint_id),
        )

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
        rows = events_after(
            self.tally.views, self.tally.schema, project_id, int(found["position"]) - 1, 1
        )
        if endpoint is None or endpoint.status == "deleted" or not rows:
            return None
        secrets = self._secrets(endpoint)
        if not secrets:
            return None
        sent = self._send(endpoint, rows[0], secrets, self._test_mode(project_id))
        with self.tally.views.connection() as conn:
            attempt = self._record(
                conn, endpoint, rows[0], sent, position=0, state=None, redelivery=new_id
            )
        return _shown(plain(attempt))

    # -- background thread ---------------------------------------------------------------

    def close(self) -> None:
        """Stop, and end the pool's threads (when the application closes)."""
        self.stop()
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._client.close()

    def run_pass(self) -> None:
        self.run_once()


def _try_lock(conn: psycopg.Connection[Any], key: str) -> bool:
    row = conn.execute("SELECT pg_try_advisory_lock(hashtext(%s)) AS locked", (key,)).fetchone()
    return bool(row and (row["locked"] if isinstance(row, dict) else row[0]))


def _unlock(conn: psycopg.Connection[Any], key: str) -> None:
    conn.execute("SELECT pg_advisory_unlock(hashtext(%s))", (key,))


# -- queries -------------------------------------------------------------------------------

_ATTEMPT_COLUMNS = (
    "SELECT id, endpoint_id, event_id, event_type, position, status, http_status, "
    "latency_ms, response, error, redelivery, created_at FROM {} WHERE project_id = %s"
)


def _shown(row: dict[str, Any]) -> dict[str, Any]:
    row.pop("project_id", None)
    row.pop("seq", None)
    return {**row, "object": "webhook_delivery"}


def get_attempt(
    pool: Any, schema: str, project_id: UUID, attempt_id: UUID
) -> dict[str, Any] | None:
    query = sql.SQL(_ATTEMPT_COLUMNS + " AND id = %s").format(table(schema, ATTEMPTS_TABLE))
    rows = fetch_all(pool, query, [project_id, attempt_id])
    return _shown(plain(rows[0])) if rows else None


def list_attempts(
    pool: Any,
    schema: str,
    project_id: UUID,
    *,
    limit: int,
    starting_after: UUID | str | None,
    endpoint_id: UUID | None = None,
) -> tuple[list[dict[str, Any]], bool]:
    """The project's attempts, oldest first (``endpoint_id``: of that endpoint only)."""
    check_limit(limit)
    t = table(schema, ATTEMPTS_TABLE)
    query = sql.SQL(_ATTEMPT_COLUMNS).format(t)
    params: list[Any] = [project_id]
    if endpoint_id is not None:
        query += sql.SQL(" AND endpoint_id = %s")
        params.append(endpoint_id)
    if starting_after is not None:
        try:
            after = UUID(str(starting_after))
        except ValueError:
            return [], False
        query += sql.SQL(
            " AND seq > (SELECT seq FROM {} WHERE project_id = %s AND id = %s)"
        ).format(t)
        params += [project_id, after]
    query += sql.SQL(" ORDER BY seq LIMIT %s")
    rows, has_more = fetch_page(pool, query, params, limit)
    return [_shown(plain(r)) for r in rows], has_more
