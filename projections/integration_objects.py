"""How ``integration_events`` builds each kind of object in SQL, from its read model's row.

- ``OBJECTS``: kind -> (what else is joined, the SQL expression of the object over the
  row ``t``), shaped as the object's GET route reads it.
- ``TABLE_OF``: kind -> the read model table its rows are in.
- ``PLACEHOLDER``: the object a replay's scratch copy stores instead (replay never
  compares it).
- ``iso_sql(column)``: SQL writing a time as Python's ``isoformat`` does.
"""

from __future__ import annotations

from collections.abc import Sequence

from projections.payment_queries import FIELDS as PAYMENT_FIELDS


def iso_sql(column: str) -> str:
    """SQL for ``column.isoformat()`` as Python writes it for the datetime psycopg reads
    (the session's time zone, microseconds only when there are some): the stored object
    is the same JSON the read model's row gave when it was shaped in Python. One
    ``to_char`` with the six digits of the fraction, taken out when they are all zero
    (nowhere else can ``.000000`` appear), instead of three ``to_char`` and a
    ``date_trunc``: 26.0 -> 17.9 ms of the backend's CPU for 30,810 times (5 of them
    reading the column), two times per object."""
    return f"replace(to_char({column}, 'YYYY-MM-DD\"T\"HH24:MI:SS.USTZH:TZM'), '.000000', '')"


def _plain(columns: Sequence[tuple[str, str]], times: Sequence[str]) -> str:
    """``jsonb_build_object`` of the row as ``projections.paging.plain`` shapes it: each
    ``(key, expression)`` as it is (uuids become their text, as ``str`` writes them), and
    each timestamp column by ``_iso``."""
    pairs = [f"'{key}', {expression}" for key, expression in columns]
    pairs += [f"'{column}', {iso_sql('t.' + column)}" for column in times]
    return "jsonb_build_object(" + ", ".join(pairs) + ")"


# ``projections.aggregates.as_resource``: the write side's summary plus the two times.
_RESOURCE = "t.summary || " + _plain((), ("created_at", "updated_at"))

# How each kind of object is built from its read model's row ``t``, in SQL: what else
# is joined (``d``: an invoice's dunning record) and the object, shaped as its GET route
# reads it (``projections.<model>.get_*``), without the project (events do not all carry
# it; the row's own column is stored beside the object).
OBJECTS: dict[str, tuple[str, str]] = {
    "customer": ("", _RESOURCE),
    "subscription": ("", _RESOURCE),
    "credit_balance": ("", _RESOURCE),
    "invoice": (
        # The dunning fields laid over the summary, as ``projections.invoices`` reads it.
        " LEFT JOIN {d} d ON d.invoice_id = t.id AND d.project_id = t.project_id",
        "t.summary || coalesce(d.summary, '{{}}'::jsonb) || "
        + _plain((), ("created_at", "updated_at")),
    ),
    "account": (
        "",
        _plain(
            [
                (c, "t." + c)
                for c in (
                    "id", "owner_ref", "currency", "status", "ledger_balance", "held_balance",
                    "available_balance", "overdraft_limit", "low_balance_threshold",
                    "version", "metadata",
                )
            ],
            ("created_at", "updated_at"),
        ),
    ),
    "transaction": (
        "",
        _plain(
            [
                *((c, "t." + c) for c in ("id", "kind", "state", "amount", "currency")),
                ("from", "t.from_ref"),
                ("to", "t.to_ref"),
                *(
                    (c, "t." + c)
                    for c in ("reversed_amount", "description", "external_ref", "failure_reason")
                ),
            ],
            ("created_at", "updated_at"),
        ),
    ),
    # As ``projections.payment_queries.get_payment`` reads it.
    "payment": (
        "", _plain([(c, "t." + c) for c in PAYMENT_FIELDS], ("created_at", "updated_at"))
    ),
}  # fmt: skip
# The object a replay's scratch copy stores instead (``IntegrationEvents._object``).
PLACEHOLDER = "'{{}}'::jsonb"
TABLE_OF = {
    "customer": "customers",
    "subscription": "subscriptions",
    "invoice": "invoices",
    "account": "accounts",
    "transaction": "transactions",
    "payment": "payment_objects",
    "credit_balance": "credit_balances",
}
