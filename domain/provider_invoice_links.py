"""Which Tally invoice mirrors a provider's invoice (a subscription the provider runs).

The provider's invoice changes state after Tally first mirrors it (open, then paid, or
void, or uncollectible), and each change is fetched and applied to the same Tally
invoice: the link, its id derived from the provider's invoice id, is how a later fetch
finds it. It is made in the same transaction as the invoice, so an invoice mirrored
once is never mirrored twice.
"""

from __future__ import annotations

from uuid import UUID, uuid5

from eventsourcing.domain import event

from domain.base import TallyAggregate
from domain.subscription_runners import NAMESPACE


class ProviderInvoiceLink(TallyAggregate):
    """A provider's invoice id and the Tally invoice that mirrors it, in one project."""

    TOPIC = "tally:ProviderInvoiceLink"

    class Created(TallyAggregate.Created):
        TOPIC = "tally:ProviderInvoiceLink.Created"

    @staticmethod
    def create_id(project_id: UUID, provider: str, invoice_ref: str) -> UUID:
        return uuid5(NAMESPACE, f"provider_invoice:{project_id}:{provider}:{invoice_ref}")

    @event("Linked", topic="tally:ProviderInvoiceLink.Linked")
    def __init__(
        self, id: UUID, project_id: UUID, provider: str, invoice_ref: str, invoice_id: UUID
    ) -> None:
        self.project_id = project_id
        self.provider = provider
        self.invoice_ref = invoice_ref
        self.invoice_id = invoice_id

    @classmethod
    def start(
        cls, project_id: UUID, provider: str, invoice_ref: str, invoice_id: UUID
    ) -> ProviderInvoiceLink:
        return cls(
            id=cls.create_id(project_id, provider, invoice_ref),
            project_id=project_id,
            provider=provider,
            invoice_ref=invoice_ref,
            invoice_id=invoice_id,
        )
