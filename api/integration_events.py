"""The envelope of an integration event, and a JSON Schema per public type (issue 12).

An envelope is built from one ``integration_events`` row (``projections.integration_events``):

```json
{"id": "evt_…", "object": "event", "type": "billing.customer.created",
 "api_version": "2026-12-01", "created": "2030-01-01T09:00:00.000000Z",
 "project_id": "…", "position": 42, "ordinal": 0, "hash": "54d2…",
 "data": {"object": {…the customer, as GET answers it…}}}
```

``data.object`` goes through the same response model the object's GET route answers with
(``PRESENTERS``), so a receiver reads the same fields as a client of the API. The id is
``integration_catalog.event_id(position, type, ordinal)``: a redelivery has the same one.

``event_schema(type)`` is the JSON Schema of one type's envelope, generated from pydantic
models (the envelope with ``type`` fixed and ``data.object`` the object's API model);
``all_schemas()`` has every type of ``CATALOG``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, create_model

from api.objects import Instant, rfc3339
from api.schemas.accounts import Account
from api.schemas.command_rejections import CommandRejection
from api.schemas.credits import CreditBalanceObject
from api.schemas.customers import Customer, Entitlements
from api.schemas.invoices import Invoice
from api.schemas.payments import Payment
from api.schemas.subscriptions import Subscription
from api.schemas.transactions import Transaction
from api.tally import Tally
from projections.integration_catalog import API_VERSION, CATALOG, OBJECT_OF, event_id

PRESENTERS: dict[str, type[BaseModel]] = {
    "customer": Customer,
    "subscription": Subscription,
    "invoice": Invoice,
    "account": Account,
    "transaction": Transaction,
    "payment": Payment,
    "command_rejection": CommandRejection,
    "entitlements": Entitlements,
    "credit_balance": CreditBalanceObject,
}


class EventData(BaseModel):
    object: dict[str, Any] = Field(description="The object, as its GET route answers it")


class Envelope(BaseModel):
    """What every integration event carries, whatever its type."""

    model_config = ConfigDict(extra="forbid")
    id: str = Field(
        pattern=r"^evt_[0-9a-f]{32}$",
        description="Stable: derived from the log position and the type, so a redelivery "
        "has the same id (deduplicate on it)",
    )
    object: Literal["event"] = "event"
    type: str = Field(description="billing.<object>.<verb>")
    api_version: str = Field(description="The version of this contract")
    created: Instant = Field(description="When the underlying change was recorded")
    project_id: UUID
    position: int = Field(ge=1, description="The event's position in Tally's log")
    ordinal: int = Field(
        default=0,
        ge=0,
        description="0 for the event recorded at this position; 1, 2, ... for the events "
        "derived at it (billing.entitlements.changed, one per customer whose set it "
        "changed; billing.payment.*, 1). Events arrive in (position, ordinal) order",
    )
    hash: str | None = Field(
        default=None,
        pattern=r"^[0-9a-f]{64}$",
        description="The chain hash of the stored event at this position (SHA-256, hex; "
        "docs/audit.md): keep it with the event, and an auditor can later prove that "
        "this is what the log holds there (`tally audit verify`, a signed checkpoint). "
        "Null only for a log stored before the chain that was never hashed",
    )
    data: EventData


# Objects whose GET lays the customer's ``collection`` over the row
# (``projections.invoices.with_collection``): computed when the envelope is built, as the
# GET computes it when asked.
COLLECTED = frozenset({"subscription", "invoice"})


# Each customer's collection and its reason, by (project, customer): read for a batch.
Collections = dict[tuple[UUID, UUID], tuple[Any, Any]]


def present(
    kind: str,
    row: dict[str, Any],
    tally: Tally | None = None,
    collections: Collections | None = None,
) -> dict[str, Any]:
    """An object's read-model row as the API answers it (JSON-ready); ``tally`` adds what
    the GET route adds at query time (a subscription's or invoice's collection), read
    now or taken from ``collections`` (``envelopes`` reads them for a whole batch)."""
    if tally is not None and kind in COLLECTED:
        from projections.invoices import with_collection

        project_id = UUID(str(row["project_id"]))
        found = (collections or {}).get((project_id, UUID(str(row["customer_id"]))))
        if found is None:
            row = with_collection(tally.views, tally.schema, project_id, [row])[0]
        else:
            row = {**row, "collection": found[0], "collection_reason": found[1]}
    answered: dict[str, Any] = PRESENTERS[kind].model_validate(row).model_dump(mode="json")
    return answered


def envelopes(rows: Sequence[dict[str, Any]], tally: Tally | None = None) -> list[dict[str, Any]]:
    """The envelopes of ``rows``, in order, each as ``envelope`` builds it, with the
    collections of the batch's subscriptions and invoices read once per project (two
    queries) instead of once per row: a publisher's batch of 1,000 invoice events made
    2,000 queries for them."""
    collections: Collections = {}
    if tally is not None:
        from projections.invoices import collection_of

        customers: dict[UUID, set[UUID]] = {}
        for row in rows:
            if row["object_kind"] in COLLECTED:
                project_id = UUID(str(row["project_id"]))
                customers.setdefault(project_id, set()).add(UUID(str(row["object"]["customer_id"])))
        for project_id, ids in customers.items():
            found = collection_of(tally.views, tally.schema, project_id, ids)
            collections |= {(project_id, c): pair for c, pair in found.items()}
    return [envelope(row, tally, collections) for row in rows]


def envelope(
    row: dict[str, Any], tally: Tally | None = None, collections: Collections | None = None
) -> dict[str, Any]:
    """The envelope of one ``integration_events`` row, as JSON-ready data: what
    ``Envelope(...).model_dump(mode="json")`` answers, keys in its order, built directly.
    Every published event is rendered here (the broker publisher's hot path), and the
    envelope's own fields are Tally's stored values, not input to validate: building the
    model and dumping it again cost about half of an envelope's 31 µs (load 10). The
    object itself still goes through its API model (``present``);
    ``tests/e2e/test_integration_events.py`` checks that every envelope validates
    against ``Envelope`` and dumps back to itself."""
    # The collection needs the object's project, which the stored object does not hold.
    object_row = {**row["object"], "project_id": row["project_id"]}
    position, ordinal = int(row["position"]), int(row.get("ordinal", 0))
    created = row["occurred_at"]
    if isinstance(created, str):  # as Instant reads one
        created = datetime.fromisoformat(created.replace("Z", "+00:00"))
    return {
        "id": event_id(position, row["type"], ordinal),
        "object": "event",
        "type": row["type"],
        "api_version": API_VERSION,
        "created": rfc3339(created),
        "project_id": str(row["project_id"]),
        "position": position,
        "ordinal": ordinal,
        "hash": row.get("hash"),
        "data": {"object": present(row["object_kind"], object_row, tally, collections)},
    }


def event_model(type_name: str) -> type[BaseModel]:
    """The pydantic model of one type's envelope: ``type`` fixed, ``data.object`` typed."""
    kind = OBJECT_OF[type_name]
    suffix = "".join(part.title() for part in type_name.replace("_", ".").split("."))
    data = create_model(f"{suffix}Data", object=(PRESENTERS[kind], ...))
    model: type[BaseModel] = create_model(
        suffix,
        __base__=Envelope,
        type=(Literal[type_name], Field(description="billing.<object>.<verb>")),  # type: ignore[valid-type,arg-type]
        data=(data, ...),
    )
    return model


def event_schema(type_name: str) -> dict[str, Any]:
    """The JSON Schema of one type's envelope."""
    schema: dict[str, Any] = event_model(type_name).model_json_schema(mode="serialization")
    schema["$id"] = f"https://tally.dev/schemas/events/{type_name}.json"
    return schema


def all_schemas() -> dict[str, dict[str, Any]]:
    return {t.name: event_schema(t.name) for t in CATALOG}
