"""The ``collection`` fields the subscription and invoice schemas share
(``projections/collection.py`` says how they are computed)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

Collection = Annotated[
    Literal["auto_charge", "none"] | None,
    Field(
        description="How Tally collects this customer's invoices now: `auto_charge` (the "
        "project's `auto_charge_provider` charges the customer's payment method there when "
        "an invoice is finalized) or `none` (nothing charges them: invoices stay open until "
        "paid out of band, `POST /v1/invoices/{invoice_id}/pay`). Answered by every read "
        "and by a subscription's create; absent from other writes' answers."
    ),
]
CollectionReason = Annotated[
    Literal["no_auto_charge_provider", "no_payment_method"] | None,
    Field(
        description="Why `collection` is `none`: `no_auto_charge_provider` (the billing "
        "settings name none) or `no_payment_method` (the customer has no payment method at "
        "that provider); null when it is `auto_charge`."
    ),
]
