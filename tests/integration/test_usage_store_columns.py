"""The usage store sends a batch's columns as texts joined by U+001F, split by Postgres
(``adapters/usage_store._joined``; the chain's link sends its ids the same way): whatever
text the door lets in (quotes, backslashes, braces, commas, the words NULL and null,
non-ASCII, offsets other than UTC, one event or many, with or without a subscription),
every row is stored as it was sent, and the usage chain over them verifies."""

from __future__ import annotations

from datetime import UTC, timedelta, timezone
from typing import Any
from uuid import UUID, uuid4

import psycopg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg import sql
from psycopg.rows import tuple_row

from adapters.usage_chain import verify_usage
from adapters.usage_store import write
from api.tally import Tally
from domain.usage import Accepted, check_properties, readings
from tests.usage_model import BASE, CUSTOMER, rule

METER = rule("sum")
AWKWARD = ['"', "\\", "{", "}", ",", "NULL", "null", " ", "é", "日本", "'", "\u00a0", "a b"]
# Text as the door takes it: no control character, no surrogate.
text = st.lists(
    st.one_of(st.sampled_from(AWKWARD), st.text(st.characters(blacklist_categories=["Cc", "Cs"]),
                                                 min_size=1, max_size=4)),
    min_size=1, max_size=4,
).map("".join)  # fmt: skip
offsets = st.sampled_from(
    [UTC, timezone(timedelta(hours=5, minutes=30)), timezone(-timedelta(hours=7))]
)


@st.composite
def batches(draw: st.DrawFn) -> list[Accepted]:
    count = draw(st.integers(1, 6))
    events = []
    for i in range(count):
        properties = check_properties({"v": str(draw(st.integers(0, 999))),
                                       "model": draw(text), "note": draw(text)})  # fmt: skip
        at = (BASE + timedelta(seconds=draw(st.integers(0, 7200)))).astimezone(draw(offsets))
        events.append(
            Accepted(
                transaction_id=f"{i}{draw(text)}",
                customer_id=CUSTOMER,
                subscription_id=draw(st.one_of(st.none(), st.just(UUID(int=7)))),
                event_name="e",
                timestamp=at,
                properties=properties,
                readings=readings([METER], properties),
            )
        )
    return events


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(events=batches())
def test_every_column_is_stored_as_sent_and_the_chain_verifies(
    tally: Tally, events: list[Accepted]
) -> None:
    project = uuid4()
    unique = {e.transaction_id: e for e in reversed(events)}  # the first of an id is stored
    written = write(tally.views, tally.schema, project, events, BASE)
    assert written.created == frozenset(unique)
    with psycopg.connect(tally.target.url, autocommit=True) as conn:
        rows = conn.cursor(row_factory=tuple_row).execute(
            sql.SQL(
                "SELECT transaction_id, customer_id, subscription_id, event_name, occurred_at, "
                "properties, meter_ids FROM {}.usage_events WHERE project_id = %s"
            ).format(sql.Identifier(tally.schema)),
            [project],
        )
        stored: dict[str, tuple[Any, ...]] = {row[0]: row[1:] for row in rows}
        assert stored == {
            tx: (e.customer_id, e.subscription_id, e.event_name, e.timestamp, e.properties,
                 [r.meter_id for r in e.readings])
            for tx, e in unique.items()
        }  # fmt: skip
        found = verify_usage(conn, tally.schema)
        assert found.ok, found.summary()
