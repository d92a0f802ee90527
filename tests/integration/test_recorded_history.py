"""A log recorded before this session's changes (``tests/fixtures/history.json.gz``, by
``python -m tests.fixtures.record_history`` at commit de9f586) is still read as it was:
loaded into a fresh schema as stored (through the recorder's insert, no command re-run),
every stored event decodes into a class the code defines today, every aggregate it
names loads, and the projections build exactly the read models recorded then, which
``tally replay``'s comparison confirms. This is what "no stored event may change" means
in practice: a renamed event class or topic, a moved module or a changed ``@event`` body
that cannot read an old event fails here."""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.utils import get_topic, resolve_topic
from psycopg import sql
from psycopg.types.json import Jsonb

from api.bootstrap import Tally
from domain.limits import USAGE_LATE_GRACE_S
from projections.decoding import FastDecoder
from projections.replay import replay
from projections.runner import ProjectionWorker
from projections.schema import create_tables
from tests.fixtures.history import (
    NOT_RECORDED,
    dump_read_models,
    event_topics,
    insert_recorded,
    load,
)

# Columns added to read models after the recording, and the value each must have for a
# log recorded before it existed (an account of then has no low-balance threshold).
ADDED_SINCE_RECORDING: dict[str, dict[str, Any]] = {
    "accounts": {"low_balance_threshold": None},
    # Issue 14: a project's default currency and rate limits, set by the operator API
    # (none then).
    "projects": {"default_currency": None, "rate_limits": None},
    # Issue 14: when a rotated key stops working (none then).
    "api_keys": {"expires_at": None},
}


def _with_added_columns(table: str, rows: list[str]) -> list[str]:
    added = ADDED_SINCE_RECORDING.get(table, {})
    return [
        json.dumps(_with_added_state(table, json.loads(r) | added), sort_keys=True) for r in rows
    ]


def _with_added_state(table: str, row: dict[str, Any]) -> dict[str, Any]:
    """State added to aggregates after the recording, as today's code derives it from the
    recorded events: PaymentMethods keeps its attach order in ``order`` (a list, which
    jsonb keeps, where its dict's key order is not), the order its summary lists then; the
    billing settings show ``usage_late_grace_s`` at its default."""
    if table == "payment_methods":
        row["state"]["order"] = [m["id"] for m in row["summary"]["data"]]
    if table == "prices":
        # Issue 18: a price's provider prices (none then).
        row["summary"]["provider_price_ids"] = {}
    if table == "subscriptions":
        # Issue 18: who runs it (Tally, then) and the provider's id for it (none).
        row["summary"] |= {"run_by": "tally", "provider_subscription": None}
    if table == "billing_settings":
        # A setting added since (issue 13): the summary shows its default; so does the
        # state of settings only opened (version 1: opening takes every default), not of
        # configured ones (a recorded Configured event sets the values it had then).
        row["summary"]["usage_late_grace_s"] = USAGE_LATE_GRACE_S
        row["summary"]["platform_fee_percent"] = "0"
        if row["version"] == 1:
            row["state"]["values"]["usage_late_grace_s"] = USAGE_LATE_GRACE_S
            row["state"]["values"]["platform_fee_percent"] = "0"
    if table == "provider_calls":
        # A refund's outcome as the provider answered it (issue 18), from the call's result.
        refund = row["summary"]["operation"] == "refund"
        row["summary"]["refund_status"] = row["state"]["result"].get("status") if refund else None
    if table == "products":  # a product's owner (issue 13): none
        row["summary"]["owner"] = None
        row["state"] |= {"owner": None, "class_version": 2}
    if table == "prices":  # a price's package (issue 13): none
        row["summary"]["package"] = None
        row["state"] |= {"package": None, "class_version": 3}
    return row


@pytest.fixture(scope="module")
def history() -> dict[str, Any]:
    return load()


def test_the_recording_holds_every_event_type_the_code_had(history: dict[str, Any]) -> None:
    missing = set(history["event_topics"]) - set(history["recorded_topics"])
    assert missing <= set(NOT_RECORDED), sorted(missing - set(NOT_RECORDED))
    assert len(history["recorded_topics"]) > 90


def test_every_recorded_topic_names_an_event_class_of_today(history: dict[str, Any]) -> None:
    today = event_topics()
    for topic in history["recorded_topics"]:
        cls = resolve_topic(topic)
        # An old topic may be an alias; the class it names must be one the code records.
        assert get_topic(cls) in today, f"{topic} resolves to {cls}, no current event class"


def test_a_recorded_log_decodes_loads_and_projects_the_recorded_read_models(
    tally: Tally, history: dict[str, Any]
) -> None:
    insert_recorded(tally, history["events"])
    decoder = FastDecoder(tally.store)
    head = tally.store.recorder.max_notification_id() or 0
    notifications = tally.store.recorder.select_notifications(1, head)
    assert len(notifications) == len(history["events"])
    for n in notifications:
        library, fast = tally.store.mapper.to_domain_event(n), decoder(n)
        assert type(fast) is type(library) is resolve_topic(n.topic), n.topic
        assert fast.__dict__ == library.__dict__, n.topic
    # Every aggregate the log names loads: each event's mutator still applies to it.
    versions: dict[UUID, int] = {}
    for n in notifications:
        versions[UUID(str(n.originator_id))] = n.originator_version
    for originator_id, version in versions.items():
        aggregate: Any = tally.store.repository.get(originator_id)
        assert aggregate.version == version

    # One batch, as the recording projected it: when it was recorded, the payment_methods
    # read model listed a customer's methods in its aggregate's dict order, which the stored
    # (jsonb) state did not keep between batches (``order`` keeps it since).
    ProjectionWorker(tally.store, tally.views, tally.schema, batch_size=head + 1).catch_up()
    projected = dump_read_models(tally.views, tally.schema)
    for table, rows in history["read_models"].items():
        expected = sorted(_with_added_columns(table, rows))
        got = sorted(json.dumps(json.loads(r), sort_keys=True) for r in projected[table])
        assert got == expected, f"read model {table} differs from the recording"
    report = replay(tally.store, tally.views, tally.schema, progress=False)
    assert report.ok, report.summary()
    assert report.events == len(history["events"])


def test_an_upgraded_deployment_replays_equal_with_its_settings_rows_of_before(
    tally: Tally, history: dict[str, Any]
) -> None:
    """A deployment upgrading from the recording's code has billing_settings rows written
    without ``usage_late_grace_s`` (added since, issue 13). Its start-up DDL fills the field
    as the projection of today computes it, so ``tally replay`` finds them equal at once,
    not only after each project's next settings event."""
    insert_recorded(tally, history["events"])
    head = tally.store.recorder.max_notification_id() or 0
    ProjectionWorker(tally.store, tally.views, tally.schema, batch_size=head + 1).catch_up()
    recorded = [json.loads(r) for r in history["read_models"]["billing_settings"]]
    # Both kinds: settings only opened (version 1) and configured ones.
    assert any(r["version"] == 1 for r in recorded)
    assert any(r["version"] > 1 for r in recorded)
    settings = sql.Identifier(tally.schema), sql.Identifier("billing_settings")
    # Subscriptions have summary fields added since too (issue 18).
    with tally.views.connection() as conn:
        # Products and prices too, as written before their owner and package (issue 13)
        # and a price's provider prices (issue 18).
        for table in ("billing_settings", "subscriptions", "products", "prices"):
            ident = sql.Identifier(tally.schema), sql.Identifier(table)
            for row in map(json.loads, history["read_models"][table]):  # as written then
                conn.execute(
                    sql.SQL("UPDATE {}.{} SET summary = %s, state = %s WHERE id = %s").format(
                        *ident
                    ),
                    (Jsonb(row["summary"]), Jsonb(row["state"]), row["id"]),
                )
    assert not replay(tally.store, tally.views, tally.schema, progress=False).ok

    create_tables(tally.views, tally.schema)  # what a server or worker runs as it starts

    report = replay(tally.store, tally.views, tally.schema, progress=False)
    assert report.ok, report.summary()
    with tally.views.connection() as conn:
        graces = conn.execute(
            sql.SQL("SELECT summary -> 'usage_late_grace_s' AS grace FROM {}.{}").format(*settings)
        ).fetchall()
    assert len(graces) == len(recorded)
    assert all(g["grace"] == USAGE_LATE_GRACE_S for g in graces)
    create_tables(tally.views, tally.schema)  # a second start changes nothing
    assert replay(tally.store, tally.views, tally.schema, progress=False).ok
