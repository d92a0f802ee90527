"""The usage store on real Postgres (issue 13): the totals it keeps per hour, read back
for any period (whole hours from the totals, partial hours from the events), equal a
plain fold over the deduplicated events whatever their order, duplicates and batches;
concurrent batches with overlapping transaction ids store each event once; and a
rebuild from the usage table finds the totals equal."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.usage_days import DAY_S
from adapters.usage_queries import Scope, usage
from adapters.usage_store import write
from api.tally import Tally
from tests.unit.test_usage_aggregation import deliveries
from tests.usage_model import AGGREGATIONS, BASE, CUSTOMER, Sent, expected, rule


def count(tally: Tally, query: str, *params: Any) -> int:
    with tally.views.connection() as conn, conn.cursor() as cur:
        cur.execute(query.format(s=tally.schema), params)
        row = cur.fetchone()
    assert row is not None
    return int(next(iter(row.values())))


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    aggregation=st.sampled_from(AGGREGATIONS),
    sent=deliveries(),
    start_s=st.integers(0, 3 * 3600),
    span_s=st.integers(1, 3 * 3600),
)
def test_usage_over_any_period_equals_a_fold_over_the_deduplicated_events(
    tally: Tally,
    aggregation: str,
    sent: tuple[list[Sent], list[list[Sent]]],
    start_s: int,
    span_s: int,
) -> None:
    events, batches = sent
    project = uuid4()  # each example its own tenant
    meter = rule(aggregation)
    for batch in batches:
        write(tally.views, tally.schema, project, [e.accepted(meter) for e in batch], BASE)
    start = BASE + timedelta(seconds=start_s)
    end = start + timedelta(seconds=span_s)
    found = usage(tally.views, tally.schema, Scope(project, CUSTOMER), [meter], start, end)
    assert found[meter.id] == expected(meter, events, start, end)
    rows = count(tally, "SELECT count(*) FROM {s}.usage_events WHERE project_id = %s", project)
    assert rows == len(events)


def test_concurrent_batches_with_overlapping_ids_store_each_event_once(tally: Tally) -> None:
    project = uuid4()
    meter = rule("count", ())
    events = [
        Sent(f"tx{i:05d}", BASE + timedelta(seconds=i), {"region": "eu"}) for i in range(2_000)
    ]
    created: list[int] = []

    def send(offset: int) -> None:
        # Eight clients, each sending 1,000 events in batches of 250, half of them the
        # next client's: every event is sent by two clients, in another order.
        mine = events[offset * 250 : offset * 250 + 1_000] or events[:1_000]
        mine = mine[::-1] if offset % 2 else mine
        for i in range(0, len(mine), 250):
            batch = [e.accepted(meter) for e in mine[i : i + 250]]
            written = write(tally.views, tally.schema, project, batch, BASE)
            created.append(len(written.created))

    threads = [threading.Thread(target=send, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    sent_ids = {e.transaction_id for n in range(8) for e in events[n * 250 : n * 250 + 1_000]}
    assert sum(created) == len(sent_ids)
    rows = count(tally, "SELECT count(*) FROM {s}.usage_events WHERE project_id = %s", project)
    assert rows == len(sent_ids)
    total = count(
        tally,
        "SELECT sum(events) FROM {s}.usage_totals WHERE project_id = %s AND width_s = 3600",
        project,
    )
    assert total == len(sent_ids)
    found = usage(tally.views, tally.schema, Scope(project, CUSTOMER), [meter], BASE,
                  BASE + timedelta(days=1))  # fmt: skip
    assert found[meter.id] == {"[]": len(sent_ids)}


def test_replay_rebuilds_the_totals_from_the_usage_table_and_finds_a_change(
    tally: Tally,
) -> None:
    from adapters.usage_replay import export_usage, replay_usage
    from api.bootstrap import NO_PROJECT
    from commands import messages as m
    from commands.bus import Context
    from commands.meter_messages import DefineMeter
    from domain.usage import MeterRule
    from projections.runner import ProjectionWorker

    # A meter is counted against its project's limit, so the project is a real one.
    made = tally.execute(m.CreateProject(name="usage"), Context(NO_PROJECT, "cli"))
    project = UUID(made.body["project"]["id"])
    for aggregation in AGGREGATIONS:
        model = rule(aggregation)
        defined = tally.execute(
            DefineMeter(code=aggregation, name=aggregation, event_name="e",
                        aggregation=aggregation, property=model.property or None,
                        filters=model.filters, group_by=model.group_by),
            Context(project, "test"),
        )  # fmt: skip
        meter = MeterRule.of(defined.body["meter"])
        batch = [
            Sent(f"{aggregation}{i}", BASE + timedelta(minutes=7 * i),
                 {"v": str(i), "model": "ab"[i % 2], "region": "eu"})
            for i in range(40)
        ]  # fmt: skip
        write(tally.views, tally.schema, project, [e.accepted(meter) for e in batch], BASE)
    ProjectionWorker(tally.store, tally.views, tally.schema).catch_up()
    report = replay_usage(tally.views, tally.schema)
    assert (report.events, report.equal) == (240, True)
    assert report.totals > 6
    exported = list(export_usage(tally.views, tally.schema, project))
    assert len(exported) == 240
    with tally.views.connection() as conn:
        conn.execute(
            f"UPDATE {tally.schema}.usage_totals SET total = total + 1 "
            "WHERE ctid = (SELECT min(ctid) FROM " + tally.schema + ".usage_totals)"
        )
    changed = replay_usage(tally.views, tally.schema)
    assert not changed.equal
    assert len(changed.differences) == 1


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    aggregation=st.sampled_from(AGGREGATIONS),
    sent=deliveries(span_s=4 * DAY_S),
    start_s=st.integers(0, 4 * DAY_S),
    span_s=st.integers(1, 4 * DAY_S),
    on_the_minute=st.booleans(),
)
def test_usage_over_periods_that_cut_days_equals_a_fold_over_the_deduplicated_events(
    tally: Tally,
    aggregation: str,
    sent: tuple[list[Sent], list[list[Sent]]],
    start_s: int,
    span_s: int,
    on_the_minute: bool,
) -> None:
    """Events over four days: a period is read from its whole days, then hours, minutes
    and the events of the rest, and each equals the fold (the day totals included)."""
    events, batches = sent
    project = uuid4()
    meter = rule(aggregation)
    for batch in batches:
        write(tally.views, tally.schema, project, [e.accepted(meter) for e in batch], BASE)
    start = BASE + timedelta(seconds=start_s - start_s % 60 if on_the_minute else start_s)
    end = start + timedelta(seconds=span_s)
    found = usage(tally.views, tally.schema, Scope(project, CUSTOMER), [meter], start, end)
    assert found[meter.id] == expected(meter, events, start, end)


def test_day_totals_are_filled_once_for_usage_written_before_them(tally: Tally) -> None:
    """Usage stored when the totals had hours and minutes only gets its days from its
    hours at the next start-up, exactly the days the writer keeps now."""
    from adapters.usage_store import create_usage_tables

    meters = {uuid4(): rule(aggregation) for aggregation in AGGREGATIONS}  # a project each
    events = [
        Sent(f"tx{i:03d}", BASE + timedelta(minutes=97 * i, microseconds=i),
             {"v": str(i % 13), "model": "ab"[i % 2], "region": "eu"})
        for i in range(120)
    ]  # fmt: skip
    for project, meter in meters.items():
        write(tally.views, tally.schema, project, [e.accepted(meter) for e in events], BASE)
    days = "SELECT * FROM {s}.{t} WHERE width_s = 86400 ORDER BY 1, 2, 3, 4, 5, 7, 8"
    written = {t: rows(tally, days, t) for t in ("usage_totals", "usage_distinct")}
    assert len(written["usage_totals"]) == len(meters) * 2 * 9  # 8 days and a bit, 2 groups
    assert written["usage_distinct"]
    with tally.views.connection() as conn:  # as the tables were before day totals
        for table in ("usage_totals", "usage_distinct", "usage_widths"):
            conn.execute(f"DELETE FROM {tally.schema}.{table} WHERE width_s = 86400")
    create_usage_tables(tally.views, tally.schema)
    assert {t: rows(tally, days, t) for t in written} == written
    start, end = BASE + timedelta(days=1, minutes=3), BASE + timedelta(days=7, seconds=1)
    for project, meter in meters.items():
        found = usage(tally.views, tally.schema, Scope(project, CUSTOMER), [meter], start, end)
        assert found[meter.id] == expected(meter, events, start, end)


def rows(tally: Tally, query: str, name: str) -> list[tuple[Any, ...]]:
    with tally.views.connection() as conn, conn.cursor() as cur:
        cur.execute(query.format(s=tally.schema, t=name))
        return [tuple(row.values()) for row in cur.fetchall()]
