"""Per-project billing settings (invoice numbering, automatic finalization and dunning),
and the invoice number sequences they prefix.

One ``BillingSettings`` aggregate per project, with a deterministic id, so handlers can
load it without a look-up. A project that never configured billing uses ``DEFAULTS``
(the aggregate does not exist until ``ConfigureBilling`` runs).

- ``invoice_prefix``: numbers read ``<prefix>-<year>-<six digits>`` (``<prefix>-TC-...``
  on a test clock: ``InvoiceSequence`` below).
- ``finalize_delay_s``: how long a subscription's draft invoice waits before it is
  finalized automatically (0 finalizes it in the command that created it).
- ``retry_days``: when a failed payment is tried again, in days after the *first*
  failure, strictly increasing (``[3, 5, 7]``: three retries).
- ``final_action``: what happens to the subscription when the last retry fails:
  ``canceled`` or ``unpaid``.
- ``auto_charge_provider``: a payment provider that subscription invoices are charged
  through as soon as they are finalized, or ``""`` to wait for ``PayInvoice``.
- ``default_tax_rate_ids``: tax rates put on subscription lines.
- ``seller_address`` (lines), ``seller_tax_id``, ``payment_instructions`` and
  ``payment_terms_days``: what the invoice document shows of the seller; an invoice is
  due ``payment_terms_days`` after it was issued (0: on receipt).
- ``usage_late_grace_s``: how long after an invoiced period's end a late usage event
  for it is still accepted and billed on the next invoice (0: refused at once; issue 13).
- ``platform_fee_percent``: what the platform keeps of a product's paid revenue before
  the product's creator earns the rest, a decimal string from ``"0"`` to ``"100"`` with
  at most two decimals (issue 13; ``projections.creator_earnings``).

Settings configured before a field existed read it from ``DEFAULTS``.

Events: ``BillingSettings.Configured`` (every field, each time).

The per-project invoice number sequences (``InvoiceSequence``): the real one
(``ACME-2027-000123``) and the test-clock one (``ACME-TC-2030-000007``). An invoice
finalized on a test clock is dated in the clock's time, which may be years ahead of the
real one; numbered in the real series, it would put the clock's year in it
(``INV-2030-...`` before a later ``INV-2026-...``) and use up its numbers. So test-clock
invoices have a series of their own, one per project, with its own counter. Sequences
opened before this existed were all real ones and keep their id. The sequence lived in
``domain/invoice_sequence.py`` until issue 17; its events were always stored under the
explicit ``tally:InvoiceSequence.*`` topics, so moving the class changed none of them.
"""

from __future__ import annotations

import re
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import event

from domain.base import TallyAggregate
from domain.copies import plain_copy
from domain.errors import InvalidCombination, ValidationFailed
from domain.limits import (
    INVOICE_PREFIX_PATTERN,
    MAX_ADDRESS_LINES,
    MAX_DESCRIPTION_CHARS,
    MAX_FINALIZE_DELAY_S,
    MAX_INVOICE_PREFIX_CHARS,
    MAX_LABEL_CHARS,
    MAX_PAYMENT_TERMS_DAYS,
    MAX_RETRIES,
    MAX_RETRY_DAY,
    MAX_USAGE_LATE_GRACE_S,
    USAGE_LATE_GRACE_S,
    check_text,
)

FINAL_ACTIONS = ("canceled", "unpaid")
PROVIDERS = ("", "stripe", "paddle", "yookassa", "stub")

DEFAULTS: dict[str, Any] = {
    "invoice_prefix": "INV",
    "finalize_delay_s": 0,
    "retry_days": [3, 5, 7],
    "final_action": "canceled",
    "auto_charge_provider": "",
    "default_tax_rate_ids": [],
    "seller_address": [],
    "seller_tax_id": "",
    "payment_instructions": "",
    "payment_terms_days": 0,
    "usage_late_grace_s": USAGE_LATE_GRACE_S,
    "platform_fee_percent": "0",
}
PLATFORM_FEE_PATTERN = r"^(100(\.0{1,2})?|[0-9]{1,2}(\.[0-9]{1,2})?)$"


def _check_fee(values: dict[str, Any]) -> None:
    fee = values["platform_fee_percent"]
    if not isinstance(fee, str) or not re.fullmatch(PLATFORM_FEE_PATTERN, fee):
        raise ValidationFailed(
            "platform_fee_percent is a decimal string from 0 to 100, at most two decimals"
        )


def _check_seller(values: dict[str, Any]) -> None:
    """The seller block's texts: the same rules the API's schema states."""
    address = values["seller_address"]
    if not isinstance(address, list) or len(address) > MAX_ADDRESS_LINES:
        raise ValidationFailed(f"seller_address has at most {MAX_ADDRESS_LINES} lines")
    for line in address:
        check_text(line, "seller_address", MAX_LABEL_CHARS)
    check_text(values["seller_tax_id"], "seller_tax_id", MAX_LABEL_CHARS)
    check_text(
        values["payment_instructions"],
        "payment_instructions",
        MAX_DESCRIPTION_CHARS,
        free_text=True,
    )
    days = values["payment_terms_days"]
    if isinstance(days, bool) or not isinstance(days, int):
        raise ValidationFailed("payment_terms_days must be a whole number")
    if not 0 <= days <= MAX_PAYMENT_TERMS_DAYS:
        raise ValidationFailed(f"payment_terms_days must be 0 to {MAX_PAYMENT_TERMS_DAYS}")


def check_settings(values: dict[str, Any]) -> dict[str, Any]:
    values = {**DEFAULTS, **values}
    prefix = values["invoice_prefix"]
    if len(prefix) > MAX_INVOICE_PREFIX_CHARS or not re.fullmatch(INVOICE_PREFIX_PATTERN, prefix):
        raise ValidationFailed(
            f"invoice_prefix is 1 to {MAX_INVOICE_PREFIX_CHARS} ASCII letters, digits or -"
        )
    delay = values["finalize_delay_s"]
    if not 0 <= delay <= MAX_FINALIZE_DELAY_S:
        raise ValidationFailed(f"finalize_delay_s must be 0 to {MAX_FINALIZE_DELAY_S}")
    days = list(values["retry_days"])
    if len(days) > MAX_RETRIES:
        raise ValidationFailed(f"at most {MAX_RETRIES} retries")
    if any(d <= 0 or d > MAX_RETRY_DAY for d in days):
        raise ValidationFailed(f"retry_days are whole days from 1 to {MAX_RETRY_DAY}")
    if days != sorted(set(days)):
        raise InvalidCombination("retry_days are strictly increasing")
    if values["final_action"] not in FINAL_ACTIONS:
        raise ValidationFailed(f"final_action must be one of {', '.join(FINAL_ACTIONS)}")
    if values["auto_charge_provider"] not in PROVIDERS:
        raise ValidationFailed(
            f"auto_charge_provider must be '' or one of {', '.join(p for p in PROVIDERS if p)}"
        )
    _check_seller(values)
    _check_fee(values)
    grace = values["usage_late_grace_s"]
    if isinstance(grace, bool) or not isinstance(grace, int):
        raise ValidationFailed("usage_late_grace_s must be a whole number")
    if not 0 <= grace <= MAX_USAGE_LATE_GRACE_S:
        raise ValidationFailed(f"usage_late_grace_s must be 0 to {MAX_USAGE_LATE_GRACE_S}")
    return {
        **values,
        "retry_days": days,
        "seller_address": list(values["seller_address"]),
        "default_tax_rate_ids": list(values["default_tax_rate_ids"]),
    }


class BillingSettings(TallyAggregate):
    TOPIC = "tally:BillingSettings"

    class Created(TallyAggregate.Created):
        TOPIC = "tally:BillingSettings.Created"

    @staticmethod
    def create_id(project_id: UUID) -> UUID:
        return uuid5(project_id, "billing-settings")

    @event("Opened", topic="tally:BillingSettings.Opened")
    def __init__(self, project_id: UUID) -> None:
        self.project_id = project_id
        self.values: dict[str, Any] = dict(DEFAULTS)

    def configure(self, changes: dict[str, Any]) -> None:
        unknown = set(changes) - set(DEFAULTS)
        if unknown:
            raise ValidationFailed(f"unknown billing settings: {', '.join(sorted(unknown))}")
        values = check_settings({**self.values, **changes})
        if values != self.values:
            self._configured(values=values)

    @event("Configured", topic="tally:BillingSettings.Configured")
    def _configured(self, values: dict[str, Any]) -> None:
        self.values = values

    def summary(self) -> dict[str, Any]:
        return plain_copy({"project_id": str(self.project_id), **DEFAULTS, **self.values})


# The series of invoices finalized on a test clock; it is written after the prefix.
TEST_CLOCK_SERIES = "TC"


def series_prefix(prefix: str, series: str) -> str:
    """The prefix the numbers of ``series`` are written with (``INV``, ``INV-TC``)."""
    return f"{prefix}-{series}" if series else prefix


class InvoiceSequence(TallyAggregate):
    """The next invoice number of one series of a project. Every finalization changes it,
    so two concurrent finalizations conflict on its version and one retries: no gap, no
    twin."""

    TOPIC = "tally:InvoiceSequence"

    class Created(TallyAggregate.Created):
        TOPIC = "tally:InvoiceSequence.Created"

    @staticmethod
    def create_id(project_id: UUID, series: str = "") -> UUID:
        """The real series (``series=""``) or another one, such as ``TEST_CLOCK_SERIES``."""
        return uuid5(project_id, f"invoice-sequence:{series}" if series else "invoice-sequence")

    # ``series`` came with the test-clock series: an Opened event stored before it has
    # none and replays as the real series, which is what it was.
    @event("Opened", topic="tally:InvoiceSequence.Opened")
    def __init__(self, project_id: UUID, prefix: str, series: str = "") -> None:
        self.project_id = project_id
        self.prefix = prefix
        self.series = series
        self.last = 0

    def take(self, year: int, prefix: str | None = None) -> str:
        """The next number, ``<prefix>-<year>-<six digits>``. The counter is per series,
        whatever the prefix or year: a new prefix does not restart it."""
        self._taken(number=self.last + 1)
        return f"{prefix or self.prefix}-{year}-{self.last:06d}"

    @event("Taken", topic="tally:InvoiceSequence.Taken")
    def _taken(self, number: int) -> None:
        self.last = number
