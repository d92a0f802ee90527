"""The export index's function runs in any plan Postgres may choose, parallel ones too.

It catches a state that is not JSON in an ``EXCEPTION`` block, which opens a
subtransaction, and Postgres refuses a subtransaction while a parallel operation runs,
in the leader as in its workers. Declared ``PARALLEL SAFE``, any parallel plan over the
event table that called it (a parallel index build, a parallel scan) failed with
"cannot start subtransactions during a parallel operation": it did so in CI-style runs
of unrelated tests on a loaded box."""

from __future__ import annotations

from uuid import UUID

from psycopg import sql

from api.bootstrap import NO_PROJECT, Tally
from commands import messages as m
from commands.bus import Context


def test_the_project_function_answers_inside_a_forced_parallel_plan(tally: Tally) -> None:
    created = tally.execute(m.CreateProject(name="acme"), Context(NO_PROJECT, "cli"))
    project = created.body["project"]["id"]
    tally.execute(m.OpenAccount(owner_ref="ann", currency="EUR"), Context(UUID(project), "k"))
    table = sql.Identifier(tally.schema, "tally_events")
    function = sql.Identifier(tally.schema, "tally_events_project")
    counting = "SELECT count(*) AS n FROM {t} WHERE {f}(state) = %s"
    query = sql.SQL(counting).format(t=table, f=function)
    with tally.views.connection() as conn, conn.transaction():
        # Postgres 15's name for it (16 renamed it debug_parallel_query): every plan
        # that may go parallel is run under a Gather, in a worker.
        conn.execute("SET LOCAL force_parallel_mode = on")
        counted = conn.execute(query, (UUID(project).hex,)).fetchone()
    assert counted is not None
    assert counted["n"] == 1  # the account's creation event names its project
