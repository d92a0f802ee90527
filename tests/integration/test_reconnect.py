"""Connections that died while pooled (Postgres restarted, an administrator ended them)
are replaced as they are handed out: the next query and the next command succeed."""

from __future__ import annotations

import psycopg
from eventsourcing.postgres import PostgresApplicationRecorder

from adapters.event_writer import PostgresEventWriter
from api.bootstrap import NO_PROJECT, Tally
from commands import messages as m
from commands.bus import Context, Happened


def _end_connections_of(tally: Tally) -> int:
    """End the backends of this Tally's pooled and kept connections (only those: other
    tests may share the database), as a Postgres restart would."""
    recorder = tally.store.recorder
    assert isinstance(recorder, PostgresApplicationRecorder)
    writer = tally.bus._writer
    assert isinstance(writer, PostgresEventWriter)
    # The pools keep their idle connections in ``_pool``; there is no public list.
    kept = [*tally.views._pool, *recorder.datastore.pool._pool]
    if writer._conn is not None:
        kept.append(writer._conn)
    pids = [conn.info.backend_pid for conn in kept]
    with psycopg.connect(tally.target.url, autocommit=True) as admin:
        for pid in pids:
            # With a timeout, it returns once the session has ended, not as it is
            # signalled, so what follows meets a dead connection for certain.
            ended = admin.execute("SELECT pg_terminate_backend(%s, 10000)", (pid,)).fetchone()
            assert ended == (True,)
    return len(pids)


def test_queries_and_commands_go_on_after_postgres_ended_their_connections(
    tally: Tally,
) -> None:
    created = tally.execute(m.CreateProject(name="reconnect"), Context(NO_PROJECT, "test"))
    project_id = created.body["project"]["id"]
    ctx = Context(project_id, "test")
    opened = tally.execute(m.OpenAccount(owner_ref="before", currency="EUR"), ctx)
    account_id = opened.body["account"]["id"]
    with tally.views.connection() as conn:
        assert conn.execute("SELECT 1 AS one").fetchone() == {"one": 1}
    assert _end_connections_of(tally) >= 3  # the two pools' and the bus writer's

    # The account is cached, so only the bus's writer meets the dead connections: its
    # kept one, then the pool's.
    deposited = tally.execute(m.Deposit(account_id=account_id, amount=100, currency="EUR"), ctx)
    assert deposited.happened is Happened.CREATED
    with tally.views.connection() as conn:
        assert conn.execute("SELECT 1 AS one").fetchone() == {"one": 1}

    # Again, with nothing cached: the command loads the project through the store's pool.
    assert _end_connections_of(tally) >= 2
    tally.bus.cache.evict(tally.bus.cache.ids())
    again = tally.execute(m.OpenAccount(owner_ref="after", currency="EUR"), ctx)
    assert again.happened is Happened.CREATED
