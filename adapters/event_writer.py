"""The command bus's writer: one batch of events, one transaction, one kept connection.

It writes exactly what the ``eventsourcing`` Postgres recorder writes (same table, same
``EXCLUSIVE`` table lock so notification ids are issued in commit order, same ``NOTIFY``
on the same channel) in fewer round trips and with less Python per event:

- a connection kept for the bus's single writer thread, so its statements stay prepared
  and it is not rotated through the pool on every batch;
- one round trip per batch: a function of Tally's own in the schema takes the lock,
  notifies, checks the versions the batch read and inserts four binary arrays
  (``unnest``), and is called as a single statement outside any open transaction, so that
  Postgres commits it before it answers. Three statements (``BEGIN`` with the lock,
  the ``INSERT``, ``COMMIT``) cost the committer thread twice the CPU, and each of their
  answers had to wait for the interpreter lock again while the bus's writer thread ran
  commands;
- binary arrays of plain columns instead of an array of composite values, which psycopg
  dumps as escaped text with regular expressions, event by event;
- and those arrays built in Postgres's binary array format, with one ``join`` each
  (``adapters/binary_arrays.py``).

``serialized()`` holds the table's lock across a caller's load and write: the bus's last
attempt at a command that kept losing races to other processes (``commands.bus``).

It implements ``commands.bus.unit_of_work.EventWriter``; any other recorder (the in-memory one
of the unit tests) is written by ``RecorderEventWriter`` through its own interface.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import secrets
import time
from collections.abc import Callable, Collection, Iterator, Sequence
from typing import Any, TypeVar
from uuid import UUID

import psycopg
from eventsourcing.persistence import (
    IntegrityError,
    InterfaceError,
    OperationalError,
    StoredEvent,
)
from eventsourcing.postgres import PostgresApplicationRecorder
from psycopg import pq, sql

from adapters.binary_arrays import (
    BigintArray,
    BinaryArray,
    ByteaArray,
    TextArray,
    UUIDArray,
    bigint_array,
    bytea_array,
    register_dumpers,
    text_array,
    uuid_array,
)
from adapters.database import check_or_sweep
from commands.bus.key_check import KeyCheck, KeyRefused
from commands.bus.unit_of_work import EventWriter, RecorderEventWriter
from domain.limits import SERIALIZED_HOLD_MS, SERIALIZED_LOCK_WAIT_MS
from projections.api_keys import refused_keys_query

log = logging.getLogger("tally.event_writer")

T = TypeVar("T")

# A broken connection is replaced and the batch tried again this many times. A retry after
# a commit whose outcome was lost cannot write twice: the events' primary keys conflict.
MAX_CONNECT_ATTEMPTS = 3

# The function a batch is written with is named after the event table it writes, so that
# it only ever writes that table (the library's own database functions, which DESIGN.md
# keeps off, are shared by every application of a schema), and after a digest of its
# definition as rendered for that schema: a function is only ever created, never
# replaced (processes of two versions sharing one database each call the body they
# expect), so a changed body, a changed key check (projections.api_keys, whose tables and
# topics it names) included, must be a new name, or existing databases would keep the
# old body. No version to bump by hand: the name follows the text.
APPEND_FUNCTION_PREFIX = "append_v_"


def append_function(events_table: str, definition: str) -> str:
    """The name of the function that appends a batch to ``events_table`` with
    ``definition`` (its arguments, result and body, as rendered)."""
    digest = hashlib.sha256(definition.encode()).hexdigest()[:16]
    return f"{events_table}_{APPEND_FUNCTION_PREFIX}{digest}"


# The append statement's parameters: four event columns, the reads' ids and versions, the
# keys to confirm (ids, projects, times; all binary arrays), and the lock timeout (text).
_PARAM_TYPES = [UUIDArray.oid, BigintArray.oid, TextArray.oid, ByteaArray.oid]
_PARAM_TYPES += [UUIDArray.oid, BigintArray.oid, TextArray.oid, UUIDArray.oid, TextArray.oid, 25]
_PARAM_FORMATS = [pq.Format.BINARY] * 9 + [pq.Format.TEXT]
# What the append function raises when a key its batch was to confirm no longer holds:
# an integrity error (class 23) of Tally's own, told apart from a conflict by its code.
KEY_REFUSED_STATE = "23T01"
_BINARY = pq.Format.BINARY


def _bigint(data: bytes | None) -> int:
    assert data is not None
    return int.from_bytes(data, "big", signed=True)


def _integrity_error(exc: psycopg.IntegrityError) -> IntegrityError:
    """The bus's error for a batch refused by the append: ``KeyRefused`` for a key that
    no longer holds, else a conflict."""
    if exc.sqlstate == KEY_REFUSED_STATE:
        detail = exc.diag.message_detail or ""
        return KeyRefused(str(exc), frozenset(detail.split()))
    return IntegrityError(str(exc))


def event_writer(recorder: Any) -> EventWriter:
    """The fast writer for the Postgres recorder; the recorder's own interface otherwise."""
    if isinstance(recorder, PostgresApplicationRecorder):
        return PostgresEventWriter(recorder)
    return RecorderEventWriter(recorder)


class PostgresEventWriter:
    """Writes on a connection it keeps; only the bus's writer thread may call it."""

    def __init__(self, recorder: PostgresApplicationRecorder) -> None:
        self.datastore = recorder.datastore
        schema = self.datastore.schema
        table = sql.Identifier(schema, recorder.events_table_name)
        # The lock is taken first so that notification ids are issued in commit order, as
        # the library's recorder does; the NOTIFY is the library's too (delivered at
        # commit). The batch inserts nothing if any (id, version) it read without changing
        # it is in the table: that aggregate has changed since. The table lock is held, so
        # nobody can write one in between. Both conflicts raise unique_violation, which
        # rolls the whole statement back. So does a key the batch's commands were
        # authenticated with from a server's key cache that no longer holds
        # (projections.api_keys.refused_keys_query), with a code of its own and the
        # refused key ids in its DETAIL (the bus runs the batch again without their
        # commands): with the lock held, no revocation can commit between that check and
        # this commit. The check is in an inner IF so that a batch with no keys (every
        # writer but the API's) never plans it: a schema without read models has no
        # api_keys table. Its plan is the generic one: Postgres kept planning it again
        # for every batch, for about 100 of its 180 µs (bench/README.md, "the key cache").
        definition = sql.SQL(
            "("
            "ids uuid[], versions bigint[], topics text[], states bytea[], "
            "read_ids uuid[], read_versions bigint[], "
            "key_ids text[], key_projects uuid[], key_valid_at text[], wait text) "
            "RETURNS SETOF bigint LANGUAGE plpgsql AS $body$ "
            "DECLARE refused text; "
            "BEGIN "
            "PERFORM set_config('lock_timeout', wait, true); "
            "LOCK TABLE {table} IN EXCLUSIVE MODE; "
            "PERFORM pg_notify({channel}, ''); "
            "IF EXISTS (SELECT 1 FROM {table} t "
            "JOIN unnest(read_ids, read_versions) AS r(id, version) "
            "ON t.originator_id = r.id AND t.originator_version = r.version) THEN "
            "RAISE unique_violation USING MESSAGE = "
            "'an aggregate read by this batch has changed since'; "
            "END IF; "
            "IF cardinality(key_ids) > 0 THEN "
            "PERFORM set_config('plan_cache_mode', 'force_generic_plan', true); "
            "SELECT string_agg(r.key_id, ' ') INTO refused FROM ({refused}) r; "
            "IF refused IS NOT NULL THEN "
            "RAISE EXCEPTION USING ERRCODE = {key_refused}, MESSAGE = "
            "'an API key of this batch no longer holds', DETAIL = refused; "
            "END IF; END IF; "
            "RETURN QUERY INSERT INTO {table} (originator_id, originator_version, topic, state) "
            "SELECT * FROM unnest(ids, versions, topics, states) RETURNING notification_id; "
            "END $body$"
        ).format(
            table=table,
            channel=sql.Literal(recorder.channel_name),
            refused=refused_keys_query(schema),
            key_refused=sql.Literal(KEY_REFUSED_STATE),
        )
        rendered = self.definition = definition.as_string()
        self.function_name = append_function(recorder.events_table_name, rendered)
        function = sql.Identifier(schema, self.function_name)
        self._define = sql.SQL("CREATE OR REPLACE FUNCTION {function}").format(
            function=function
        ) + sql.SQL(rendered)
        self._defined = sql.SQL(
            "SELECT 1 FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
            "WHERE n.nspname = {schema} AND p.proname = {name}"
        ).format(schema=sql.Literal(schema), name=sql.Literal(self.function_name))
        self._ddl_lock_key = f"{schema}.{self.function_name}"
        append = sql.SQL(
            "SELECT * FROM {function}($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
        ).format(function=function)
        existing = sql.SQL(
            "SELECT DISTINCT originator_id FROM {table} WHERE originator_id = ANY(%b::uuid[])"
        ).format(table=table)
        # Rendered once: psycopg would otherwise compose the statements on every call.
        self._append = append.as_string().encode()
        # The statement is prepared under a name of this writer's own on the connection
        # it keeps (so it cannot meet another writer's statement on a pooled connection).
        self._statement = f"tally_append_{secrets.token_hex(8)}".encode()
        self._prepared_on: psycopg.Connection[Any] | None = None
        self._is_prepared = "SELECT 1 FROM pg_prepared_statements WHERE name = %s"
        self._existing = existing.as_string()
        self._lock = sql.SQL("LOCK TABLE {table} IN EXCLUSIVE MODE").format(table=table)
        self._lock_timeout = f"{self.datastore.lock_timeout}s".encode()
        self._conn: psycopg.Connection[Any] | None = None
        # serialized(): the connection whose transaction holds the lock, since when, and
        # whether its write was sent (a lost connection after it: outcome unknown).
        self._held: psycopg.Connection[Any] | None = None
        self._held_since = 0.0
        self._sent = self._over_budget = False
        # serialized()'s bounds (domain/limits). An instance may be given wider ones: a
        # test about which writer wins, on a loaded machine, is not a test of the bound.
        self.lock_wait_ms, self.hold_ms = SERIALIZED_LOCK_WAIT_MS, SERIALIZED_HOLD_MS

    def write(
        self,
        stored_events: Sequence[StoredEvent],
        reads: Sequence[tuple[UUID, int]] = (),
        keys: Collection[KeyCheck] = (),
    ) -> list[int]:
        if not stored_events:
            return []
        params = (
            uuid_array([e.originator_id for e in stored_events]),
            bigint_array([e.originator_version for e in stored_events]),
            text_array([e.topic for e in stored_events]),
            bytea_array([e.state for e in stored_events]),
            uuid_array([r[0] for r in reads]),
            bigint_array([r[1] for r in reads]),
            text_array([k.key_id for k in keys]),
            uuid_array([k.project_id for k in keys]),
            text_array([k.valid_at.isoformat() for k in keys]),
        )
        count = len(stored_events)
        held = self._held
        if held is not None:
            return self._write_held(held, params, count)
        return self._with_connection(lambda conn: self._write(conn, params, count))

    def _write_held(
        self, conn: psycopg.Connection[Any], params: tuple[BinaryArray, ...], count: int
    ) -> list[int]:
        """The write inside ``serialized()``: on its connection and in its transaction,
        never retried elsewhere (a retry would commit on its own, outside the lock)."""
        if (time.monotonic() - self._held_since) * 1000 > self.hold_ms:
            self._over_budget = True  # nothing sent: rolled back, a conflict as before
            raise IntegrityError(f"the table lock was held past {self.hold_ms} ms")
        self._sent = True
        try:
            return self._write(conn, params, count)
        except psycopg.IntegrityError as exc:
            raise _integrity_error(exc) from exc

    def _write(
        self, conn: psycopg.Connection[Any], params: tuple[BinaryArray, ...], count: int
    ) -> list[int]:
        # The kept connection is in autocommit mode: the one statement is its own
        # transaction, committed (and on disk) before its rows come back. It is sent
        # through libpq's own call (which lets go of the interpreter lock while it
        # waits) with the arrays as they are built: psycopg's cursor, for one prepared
        # statement of binary parameters, spent more Python per batch than the rest of
        # the committer's work.
        pgconn = conn.pgconn
        if self._prepared_on is not conn:
            self._check(conn, pgconn.prepare(self._statement, self._append, _PARAM_TYPES))
            self._prepared_on = conn
        values = [p.data for p in params]
        values.append(self._lock_timeout)
        result = pgconn.exec_prepared(self._statement, values, _PARAM_FORMATS, _BINARY)
        self._check(conn, result)
        ids = [_bigint(result.get_value(row, 0)) for row in range(result.ntuples)]
        if len(ids) != count:  # pragma: no cover - the function raises instead
            raise IntegrityError("the batch was not written whole")
        return ids

    @staticmethod
    def _check(conn: psycopg.Connection[Any], result: pq.abc.PGresult) -> None:
        if result.status in (pq.ExecStatus.TUPLES_OK, pq.ExecStatus.COMMAND_OK):
            return
        if conn.pgconn.status == pq.ConnStatus.BAD:
            # The server went away: an error without an SQLSTATE, which psycopg's own
            # path reports as OperationalError; so does this (see _with_connection).
            message = result.get_error_message(conn.info.encoding)
            raise psycopg.OperationalError(message.strip() or "the connection was lost")
        raise psycopg.errors.error_from_result(result, encoding=conn.info.encoding)

    @contextlib.contextmanager
    def serialized(self) -> Iterator[None]:
        """Hold the event table's write lock from now until the write made inside
        commits (it joins this transaction, on this connection): no process can write an
        event meanwhile, so what the caller loads inside is still current when its events
        commit. The bus's last attempt at a command that kept losing races
        (``commands.bus``). Every tenant's writes wait for this lock, so it is bounded
        (``domain/limits/``): a lock not had within ``SERIALIZED_LOCK_WAIT_MS``, or held
        past ``SERIALIZED_HOLD_MS`` before the write, rolls back and raises
        ``IntegrityError`` (a conflict: nothing written). A connection lost once the
        write was sent raises ``OperationalError``: its outcome is unknown, never a
        refusal (the events may be committed)."""
        conn = self._with_connection(lambda c: c)
        self._sent, self._over_budget = False, False
        committed = False
        try:
            with conn.transaction():
                conn.execute(self._serialized_settings())
                conn.execute(self._lock)
                self._held, self._held_since = conn, time.monotonic()
                yield
            committed = True
        except psycopg.errors.LockNotAvailable as exc:
            raise IntegrityError(f"the table lock was not had in time: {exc}") from exc
        except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
            if conn.closed or conn.broken:
                self._discard(conn)
            if self._over_budget or not self._sent:
                # Nothing was sent, so nothing can have committed (the server may have
                # ended an idle transaction held past its budget): a conflict.
                raise IntegrityError(f"serialized attempt lost its connection: {exc}") from exc
            raise OperationalError(f"outcome unknown, the connection was lost: {exc}") from exc
        finally:
            self._held = None
            if not committed:
                self._recheck_prepared(conn)

    def _serialized_settings(self) -> sql.Composed:
        """The lock wait's bound, and the server ending a transaction left holding the
        lock well past its budget (a writer thread stalled): the other tenants' writes
        are never held up longer."""
        return sql.SQL(
            "SELECT set_config('lock_timeout', {wait}, true), "
            "set_config('idle_in_transaction_session_timeout', {idle}, true)"
        ).format(
            wait=sql.Literal(f"{self.lock_wait_ms}ms"), idle=sql.Literal(f"{4 * self.hold_ms}ms")
        )

    def _recheck_prepared(self, conn: psycopg.Connection[Any]) -> None:
        """After a rollback: psycopg then deallocates every prepared statement of the
        connection if it had one of its own (``existing``'s query), the append statement
        this writer prepared through libpq included, and otherwise leaves it. Which one
        happened is asked of the server (a rare path: the last attempt, rolled back), so
        that the next write prepares it again only if it is gone."""
        if self._prepared_on is not conn:
            return
        try:
            row = conn.execute(self._is_prepared, (self._statement.decode(),)).fetchone()
        except psycopg.Error:
            row = None  # a broken connection: discarded at its next use
        if row is None:
            self._prepared_on = None

    def existing(self, originator_ids: set[UUID]) -> set[UUID]:
        if not originator_ids:
            return set()

        def query(conn: psycopg.Connection[Any]) -> set[UUID]:
            cursor = conn.execute(self._existing, (uuid_array(list(originator_ids)),), prepare=True)
            return {row["originator_id"] for row in cursor.fetchall()}

        return self._with_connection(query)

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            if self._prepared_on is conn and not conn.closed:
                # A broken connection fails here; the pool then sees it and replaces it.
                with contextlib.suppress(psycopg.Error):
                    name = sql.Identifier(self._statement.decode())
                    conn.execute(sql.SQL("DEALLOCATE {}").format(name))
            self._prepared_on = None
            self.datastore.pool.putconn(conn)

    def _with_connection(self, work: Callable[[psycopg.Connection[Any]], T]) -> T:
        for attempt in range(1, MAX_CONNECT_ATTEMPTS + 1):
            conn: psycopg.Connection[Any] | None = None
            try:
                # Inside the try: getting a new connection queries it (see _connection),
                # and a connection that died while pooled fails there.
                conn = self._connection()
                return work(conn)
            except psycopg.IntegrityError as exc:
                raise _integrity_error(exc) from exc
            except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
                # A lock timeout leaves the connection usable; a lost server does not.
                conn = conn or self._conn
                if conn is not None and (conn.closed or conn.broken):
                    self._discard(conn)
                if attempt == MAX_CONNECT_ATTEMPTS:
                    if isinstance(exc, psycopg.OperationalError):
                        raise OperationalError(str(exc)) from exc
                    raise InterfaceError(str(exc)) from exc
                log.warning("event write failed (%s); trying again", type(exc).__name__)
                time.sleep(0.1 * attempt)
        raise AssertionError("unreachable")  # pragma: no cover

    def _connection(self) -> psycopg.Connection[Any]:
        if self._conn is None or self._conn.closed:
            wait = self.datastore.pool_open_timeout is not None
            self.datastore.pool.open(wait, self.datastore.pool_open_timeout or 30.0)
            pool = self.datastore.pool
            conn = pool.getconn()
            try:
                check_or_sweep(pool, conn)
            except psycopg.Error:
                # It died while pooled (Postgres restarted), and the pool's other idle
                # connections have been checked: take a new one, rather than spending
                # this batch's attempts on dead ones one by one.
                pool.putconn(conn)  # the pool sees it is broken and replaces it
                conn = pool.getconn()
            register_dumpers(conn)
            self._conn = conn
            self._define_function(conn)
        return self._conn

    def _define_function(self, conn: psycopg.Connection[Any]) -> None:
        """Create the append function once per schema. Writers of several processes may
        start together: the advisory lock makes them define it one after another (a
        concurrent CREATE OR REPLACE of one function fails), and a later one finds it."""
        if conn.execute(self._defined).fetchone() is not None:
            return
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (self._ddl_lock_key,))
            if conn.execute(self._defined).fetchone() is None:
                conn.execute(self._define)

    def _discard(self, conn: psycopg.Connection[Any]) -> None:
        if self._conn is not conn:
            return  # already given back
        self._conn, self._prepared_on = None, None
        conn.close()
        self.datastore.pool.putconn(conn)
