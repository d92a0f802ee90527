"""A price keeps its lookup key (issue 11, bug 2); prices recorded before it did upcast to
a price whose key is unknown (None), both as stored events and as read-model states."""

from __future__ import annotations

import json
from uuid import uuid4

from eventsourcing.persistence import JSONTranscoder, Mapper, StoredEvent, UUIDAsHex

from domain.catalog import Price
from projections.aggregates import decode_state, encode_state


def _mapper() -> Mapper[object]:
    transcoder = JSONTranscoder()
    transcoder.register(UUIDAsHex())
    return Mapper(transcoder=transcoder)


DEFINITION = {
    "currency": "EUR",
    "scheme": "flat",
    "unit_amount": 2900,
    "tiers": [],
    "meter": "",
    "interval": "month",
    "interval_count": 1,
    "trial_days": 0,
}


def test_a_price_keeps_the_lookup_key_it_was_published_under() -> None:
    price = Price.define(
        project_id=uuid4(),
        product_id=uuid4(),
        lookup_key="pro_monthly_eur",
        **DEFINITION,  # type: ignore[arg-type]
    )
    assert price.summary()["lookup_key"] == "pro_monthly_eur"
    # The read model's stored state round-trips it.
    state = encode_state(price).obj
    again = decode_state(Price, price.id, price.version, state.decode())
    assert again.summary() == price.summary()


def test_a_price_defined_before_it_kept_its_lookup_key_upcasts_to_none() -> None:
    price_id, project_id, product_id = uuid4(), uuid4(), uuid4()
    uuid = {"_type_": "uuid_hex"}
    v1 = {
        "timestamp": "2026-01-01T00:00:00+00:00",
        "originator_topic": "tally:Price",
        "issued_by": "key_1",
        "project_id": {**uuid, "_data_": project_id.hex},
        "product_id": {**uuid, "_data_": product_id.hex},
        **DEFINITION,
    }
    stored = StoredEvent(
        originator_id=price_id,
        originator_version=1,
        topic="tally:Price.Defined",
        state=json.dumps(v1).encode(),
    )
    event = _mapper().to_domain_event(stored)
    price = event.mutate(None)  # type: ignore[attr-defined]
    assert isinstance(price, Price)
    assert (price.lookup_key, price.unit_amount) == (None, 2900)
    # A read-model state written by version 1 of the aggregate (no class_version).
    state = {k: v for k, v in v1.items() if k not in ("timestamp", "originator_topic")}
    old = decode_state(Price, price_id, 1, json.dumps({**state, "active": True}))
    assert old.summary()["lookup_key"] is None
